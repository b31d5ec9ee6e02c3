/* ctl_support.c — runnerctl as a child process of a test; see ctl_support.h. */
#include "ctl_support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "support.h"

#ifndef RUNNERCTL_PATH
#error "RUNNERCTL_PATH must name the runnerctl binary under test"
#endif

#define MAX_ARGS 64

struct sink {
	char *buf;
	size_t len, cap;
};

static void
sink_read(struct sink *s, int *fd)
{
	char tmp[65536];
	ssize_t n = read(*fd, tmp, sizeof(tmp));

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	if (s->len + (size_t) n + 1 > s->cap) {
		s->cap = (s->len + (size_t) n + 1) * 2;
		ck_assert((s->buf = realloc(s->buf, s->cap)) != NULL);
	}
	memcpy(s->buf + s->len, tmp, (size_t) n);
	s->len += (size_t) n;
	s->buf[s->len] = '\0';
}

static pid_t
spawn(const ctl_opts *o, const char *const *args, int in, int out, int err)
{
	const char *argv[MAX_ARGS + 16];
	size_t n = 0;
	pid_t pid;

	for (const char *const *p = o->prefix; p != NULL && *p != NULL; p++)
		argv[n++] = *p;
	argv[n++] = RUNNERCTL_PATH;
	for (const char *const *a = args; *a != NULL; a++) {
		ck_assert(n < MAX_ARGS + 14);
		argv[n++] = *a;
	}
	argv[n] = NULL;
	ck_assert((pid = fork()) >= 0);
	if (pid > 0)
		return pid;
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	if (o->cwd != NULL && chdir(o->cwd) < 0)
		_exit(126);
	if (o->addr != NULL)
		setenv("RUNNERD_ADDR", o->addr, 1);
	else
		unsetenv("RUNNERD_ADDR");
	unsetenv("RUNNERD_STREAM_ADDR");
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], (char *const *) argv);
	_exit(127);
}

void
ctl_runv(ctl_result *r, const ctl_opts *o, const char *const *args)
{
	static const ctl_opts none = { 0 };
	int in[2], out[2], err[2], status;
	struct sink so = { 0 }, se = { 0 };
	size_t written = 0;
	int64_t start = rd_now_ms();
	pid_t pid;

	if (o == NULL)
		o = &none;
	memset(r, 0, sizeof(*r));
	ck_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	pid = spawn(o, args, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (o->in == NULL || o->in_len == 0) {
		close(in[1]);
		in[1] = -1;
	} else {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	while (out[0] >= 0 || err[0] >= 0) {
		struct pollfd p[3] = {
			{ .fd = out[0], .events = POLLIN },
			{ .fd = err[0], .events = POLLIN },
			{ .fd = in[1], .events = POLLOUT },
		};
		int left = (int) (start + CTL_TIMEOUT_MS - rd_now_ms());

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			ck_abort_msg("runnerctl %s did not finish within %d ms", args[0], CTL_TIMEOUT_MS);
		}
		if (poll(p, 3, left) < 0)
			continue;
		if (p[0].revents)
			sink_read(&so, &out[0]);
		if (p[1].revents)
			sink_read(&se, &err[0]);
		if (p[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = write(in[1], (const char *) o->in + written, o->in_len - written);

			if (n > 0)
				written += (size_t) n;
			if (n < 0 || written == o->in_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	ck_assert(waitpid(pid, &status, 0) == pid);
	r->ms = rd_now_ms() - start;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = so.buf ? so.buf : strdup("");
	r->out_len = so.len;
	r->err = se.buf ? se.buf : strdup("");
	r->err_len = se.len;
}

void
ctl_run(ctl_result *r, const ctl_opts *o, ...)
{
	const char *args[MAX_ARGS + 1];
	size_t n = 0;
	va_list ap;

	va_start(ap, o);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		ck_assert(n < MAX_ARGS);
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	ctl_runv(r, o, args);
}

void
ctl_result_free(ctl_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}
