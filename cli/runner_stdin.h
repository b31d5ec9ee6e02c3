/* runner_stdin.h — writing a session's stdin (WriteStdin), with offsets kept
 * and replays done for you; part of the client library (runner_client.h
 * includes it).
 *
 * Every WriteStdin names the offset in the session's stdin at which its
 * bytes begin, and runnerd skips the bytes it already has, so sending the
 * same bytes again is harmless. A writer keeps that offset: it sends each
 * chunk at the offset where it belongs and moves on only once runnerd has
 * acknowledged it (the bytes are in the child's pipe). When a write fails
 * in a way that leaves it unknown whether the bytes went in — the
 * connection dropped after the request went out and the library's own
 * re-sends got no answer (UNAVAILABLE), or runnerd could not match such a
 * re-send to the first copy (ABORTED) — the writer sends the chunk again at
 * the same offset, as a new request, up to 3 times before it reports the
 * error. A write that cannot reach runnerd is not repeated.
 *
 * One writer is for one thread at a time; other threads may use the same
 * runner_client meanwhile. Errors are reported as in runner_client.h.
 */
#ifndef RUNNER_STDIN_H
#define RUNNER_STDIN_H

#include <stddef.h>
#include <stdint.h>

#include "runner_client.h"
#include "runner_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct runner_stdin_writer runner_stdin_writer;

/* For runner_stdin_writer_open: start after the bytes the session's stdin
 * already has (asked of runnerd with an empty write). */
#define RUNNER_STDIN_APPEND UINT64_MAX

/* A writer for session `session_id` through `c` (which must outlive it),
 * whose first byte goes at `offset` of the session's stdin, or at its end
 * with RUNNER_STDIN_APPEND (the only case that calls runnerd here: NOT_FOUND
 * for an unknown session, FAILED_PRECONDITION when the stdin is closed). */
int runner_stdin_writer_open(runner_stdin_writer **out, runner_client *c, const char *session_id,
			     uint64_t offset, runner_status *st);

/* Free; accepts NULL. The session's stdin stays open: close it with
 * runner_close_stdin. */
void runner_stdin_writer_free(runner_stdin_writer *w);

/* Where the next byte goes: the starting offset plus every byte runnerd has
 * acknowledged. After a failure, a new writer at this offset (or this one,
 * called again) continues without a gap or a duplicate. */
uint64_t runner_stdin_writer_offset(const runner_stdin_writer *w);

/* Write all of `data` (in chunks of at most 256 KiB) and return once runnerd
 * has acknowledged the last one. There is no deadline: while the child does
 * not read, its pipe stays full and the call waits. FAILED_PRECONDITION
 * when the child exited or closed its stdin. */
int runner_stdin_write(runner_stdin_writer *w, const void *data, size_t len, runner_status *st);

/* How runner_stdin_copy ended. */
typedef enum runner_stdin_end {
	RUNNER_STDIN_EOF = 0,         /* all of `fd` went in, up to its end */
	RUNNER_STDIN_STOPPED = 1,     /* `stop_fd` became readable */
	RUNNER_STDIN_READ_FAILED = 2, /* reading `fd` failed: errno and `st` say why */
	RUNNER_STDIN_CALL_FAILED = 3, /* a write failed: `st` says why (FAILED_PRECONDITION:
				       * the child exited or closed its stdin) */
} runner_stdin_end;

/* Copy `fd` into the session's stdin until its end, or until `stop_fd` (-1:
 * none) becomes readable. What a read returns is sent at once, so a user's
 * lines on a terminal go through as typed; `fd` may be blocking or not. The
 * session's stdin stays open at the end (runner_close_stdin closes it). */
runner_stdin_end runner_stdin_copy(runner_stdin_writer *w, int fd, int stop_fd, runner_status *st);

#ifdef __cplusplus
}
#endif

#endif
