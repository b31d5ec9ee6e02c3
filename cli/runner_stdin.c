/* runner_stdin.c — the stdin writer; see runner_stdin.h. */
#include "runner_stdin.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner_client_internal.h"
#include "status.h"

/* Largest WriteStdin payload: well under the request limit, and small
 * enough that an acknowledgement comes soon after the child reads. */
#define CHUNK ((size_t) 256 << 10)
/* Times one chunk is sent again after a failure that may have lost it. */
#define REPLAYS 3
/* Deadline of the empty write that asks where the stdin stands. */
#define QUERY_DEADLINE_MS 10000

struct runner_stdin_writer {
	runner_client *c;
	char *session_id;
	uint64_t offset;
	uint8_t *buf; /* runner_stdin_copy's, allocated on first use */
};

/* One WriteStdin of `len` bytes at `offset`; *accepted (may be NULL) gets
 * the session's total. *replay (may be NULL) tells whether a failure may
 * have lost the bytes on the way, so that sending them again is called for:
 * the connection dropped after the request went out, or runnerd could not
 * match a re-send to the first copy (ABORTED; a re-send at the same offset
 * as a new request is safe where the generic retry is not). */
static int
write_at(runner_stdin_writer *w, uint64_t offset, const void *data, size_t len,
	 uint64_t deadline_ms, uint64_t *accepted, bool *replay, rstatus *st)
{
	Runner__V1__WriteStdinRequest req = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	bool lost = false;
	int rv;

	req.session_id = w->session_id;
	req.offset = offset;
	req.data.data = (uint8_t *) data;
	req.data.len = len;
	rv = runner_client_call(w->c, "WriteStdin", &req.base, &resp, deadline_ms, &lost, st);
	if (rv == 0 && accepted != NULL)
		*accepted = ((Runner__V1__WriteStdinResponse *) resp)->accepted;
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (replay != NULL)
		*replay = rv < 0 && (lost || st->code == RS_ABORTED);
	return rv;
}

int
runner_stdin_writer_open(runner_stdin_writer **out, runner_client *c, const char *session_id,
			 uint64_t offset, runner_status *st)
{
	runner_stdin_writer *w;
	int rv;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->session_id = strdup(session_id)) == NULL) {
		free(w);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	w->c = c;
	w->offset = offset;
	if (offset == RUNNER_STDIN_APPEND &&
	    (rv = write_at(w, 0, NULL, 0, QUERY_DEADLINE_MS, &w->offset, NULL, st)) < 0) {
		runner_stdin_writer_free(w);
		return rv;
	}
	*out = w;
	return 0;
}

void
runner_stdin_writer_free(runner_stdin_writer *w)
{
	if (w == NULL)
		return;
	free(w->session_id);
	free(w->buf);
	free(w);
}

uint64_t
runner_stdin_writer_offset(const runner_stdin_writer *w)
{
	return w->offset;
}

int
runner_stdin_write(runner_stdin_writer *w, const void *data, size_t len, runner_status *st)
{
	const uint8_t *p = data;
	rstatus own;

	if (st == NULL) /* the replay decision needs the code */
		st = &own;
	while (len > 0) {
		size_t n = len < CHUNK ? len : CHUNK;
		bool replay = false;
		int rv, replays = 0;

		/* No deadline: the reply waits while the child's pipe is full. */
		while ((rv = write_at(w, w->offset, p, n, 0, NULL, &replay, st)) < 0 && replay &&
		       replays < REPLAYS)
			replays++;
		if (rv < 0)
			return rv;
		w->offset += n;
		p += n;
		len -= n;
	}
	rstatus_clear(st);
	return 0;
}

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

runner_stdin_end
runner_stdin_copy(runner_stdin_writer *w, int fd, int stop_fd, runner_status *st)
{
	struct input in = { .fd = fd, .stop_fd = stop_fd };

	if (w->buf == NULL && (w->buf = malloc(CHUNK)) == NULL) {
		rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		return RUNNER_STDIN_CALL_FAILED;
	}
	for (;;) {
		ssize_t n = read_ready(&in, w->buf, CHUNK);

		if (n < 0) {
			int err = errno;

			rstatus_fail_errno(st, RS_UNKNOWN, err, "reading fd %d", fd);
			errno = err;
			return RUNNER_STDIN_READ_FAILED;
		}
		if (n == 0)
			break;
		if (runner_stdin_write(w, w->buf, (size_t) n, st) < 0)
			return RUNNER_STDIN_CALL_FAILED;
	}
	rstatus_clear(st);
	return in.stopped ? RUNNER_STDIN_STOPPED : RUNNER_STDIN_EOF;
}
