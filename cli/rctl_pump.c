/* rctl_pump.c — input copied into a session's stdin with WriteStdin, as it
 * comes (exec -i, write). */
#include "rctl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

/* Largest WriteStdin payload; well under the request limit. */
#define PUMP_CHUNK ((size_t) 256 << 10)

/* Wait for `fd` to be readable, or `stop_fd` (when >= 0): 1, 2 for the
 * stop, 0 on timeout, -1 on error. */
static int
wait_input(int fd, int stop_fd, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = stop_fd, .events = POLLIN } };
	int n;

	while ((n = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (n > 0 && stop_fd >= 0 && p[1].revents != 0)
		return 2;
	return n > 0 ? 1 : n;
}

struct input {
	int fd, stop_fd;
	bool eof;     /* seen EOF (a terminal's is not repeated: remember it) */
	bool stopped; /* stop_fd became readable */
};

/* Read what `in` has now, at least one byte unless at EOF or stopped: one
 * blocking read, then more while more is ready at once. Returns the byte
 * count, or -1 with errno set. */
static ssize_t
read_ready(struct input *in, uint8_t *buf, size_t cap)
{
	size_t used = 0;

	while (used < cap && !in->eof) {
		ssize_t n;
		int w = 1;

		if (used > 0 || in->stop_fd >= 0)
			w = wait_input(in->fd, in->stop_fd, used > 0 ? 0 : -1);
		if (w == 2) {
			in->stopped = true;
			return 0;
		}
		if (w < 0 && used == 0)
			return -1;
		if (w <= 0)
			break;
		n = read(in->fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (used > 0)
				break;
			if (in->stop_fd < 0 && wait_input(in->fd, -1, -1) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return used > 0 ? (ssize_t) used : -1; /* the next read reports it */
		if (n == 0)
			in->eof = true;
		used += (size_t) n;
	}
	return (ssize_t) used;
}

enum rctl_pump_end
rctl_pump(runner_client *c, const char *id, int fd, int stop_fd, uint64_t *offset, rstatus *st)
{
	Runner__V1__WriteStdinRequest req = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
	struct input in = { .fd = fd, .stop_fd = stop_fd };
	uint8_t *buf = malloc(PUMP_CHUNK);
	enum rctl_pump_end end;

	if (buf == NULL) {
		rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		return RCTL_PUMP_CALL_FAILED;
	}
	req.session_id = (char *) id;
	for (;;) {
		Runner__V1__WriteStdinResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
		ssize_t n = read_ready(&in, buf, PUMP_CHUNK);

		if (n <= 0) {
			end = n < 0 ? RCTL_PUMP_READ_FAILED : in.stopped ? RCTL_PUMP_STOPPED : RCTL_PUMP_EOF;
			break;
		}
		req.offset = *offset;
		req.data.data = buf;
		req.data.len = (size_t) n;
		/* No deadline: the reply waits while the child's pipe is full. */
		if (runner_client_call(c, "WriteStdin", &req.base, (ProtobufCMessage **) &resp, 0, st) < 0) {
			end = st->code == RS_FAILED_PRECONDITION ? RCTL_PUMP_REFUSED : RCTL_PUMP_CALL_FAILED;
			break;
		}
		*offset += (uint64_t) n;
	}
	free(buf);
	return end;
}
