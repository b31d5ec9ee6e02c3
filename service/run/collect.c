#include "run/collect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
collect_init(struct collect *c, const uint8_t *in, size_t in_len, uint64_t out_limit,
	     uint64_t err_limit, rstatus *st)
{
	memset(c, 0, sizeof(*c));
	capture_init(&c->out, out_limit);
	capture_init(&c->err, err_limit);
	if (in_len == 0)
		return 0;
	if ((c->stdin_data = malloc(in_len)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	memcpy(c->stdin_data, in, in_len);
	c->stdin_len = in_len;
	return 0;
}

void
collect_free(struct collect *c)
{
	capture_free(&c->out);
	capture_free(&c->err);
	free(c->stdin_data);
	c->stdin_data = NULL;
}

int
collect_output(struct collect *c, enum job_stream s, int fd)
{
	return capture_read(s == JOB_STDOUT ? &c->out : &c->err, fd) != 0;
}

/* EOF once all is written, or as soon as the child stops reading: EPIPE is
 * the child's business, not an error of the Run. */
void
collect_stdin(struct collect *c, struct job *j, int fd)
{
	while (c->stdin_off < c->stdin_len) {
		ssize_t n = write(fd, c->stdin_data + c->stdin_off, c->stdin_len - c->stdin_off);
		if (n > 0)
			c->stdin_off += (size_t) n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			return;
		else
			break;
	}
	job_close_stdin(j);
	free(c->stdin_data);
	c->stdin_data = NULL;
}

void
collect_fill(const struct collect *c, Runner__V1__RunResult *res)
{
	if (c->tty) {
		res->pty.data = c->out.data;
		res->pty.len = c->out.len;
		res->pty_total = c->out.total;
		res->pty_truncated = c->out.total > c->out.len;
	} else {
		res->stdout.data = c->out.data;
		res->stdout.len = c->out.len;
		res->stdout_total = c->out.total;
		res->stdout_truncated = c->out.total > c->out.len;
	}
	res->stderr.data = c->err.data;
	res->stderr.len = c->err.len;
	res->stderr_total = c->err.total;
	res->stderr_truncated = c->err.total > c->err.len;
}
