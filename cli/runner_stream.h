/* runner_stream.h — reading an interactive session's output (ReadStream);
 * part of the client library (runner_client.h includes it).
 *
 * ReadStream does not travel over REQ/REP: a reader dials the session's
 * stream address (StartPipesResponse.stream_address) with an nng PAIR1
 * socket, sends an attach, and receives StreamFrames, acknowledging each
 * one (the server's credit-based flow control; see runner.proto). This
 * module speaks that protocol: open, then call runner_stream_next until it
 * returns the frame with `last` set.
 *
 * It checks what the server promises: frames of each stream arrive in
 * offset order without gaps or overlaps (starting at the offsets given to
 * runner_stream_open). A gap is DATA_LOSS, an overlap INTERNAL.
 *
 * One runner_stream is for one thread at a time. Errors are reported as in
 * runner_client.h: 0 or a negative value with the runner_status filled.
 */
#ifndef RUNNER_STREAM_H
#define RUNNER_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "runner/v1/runner.pb-c.h"
#include "runner_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct runner_stream runner_stream;

/* Open a PAIR1 socket, dial `stream_address` and attach to `session_id`
 * with its `secret`, resuming at the given offsets (0, 0: from the start);
 * in a PTY session (CommandSpec.terminal), whose output is the one PTY
 * stream, `stdout_offset` is where that stream resumes.
 * Fails with UNAVAILABLE when no connection comes up within
 * `connect_timeout_ms` (<= 0: 3000), INVALID_ARGUMENT for a malformed
 * address, PERMISSION_DENIED at once for an ipc socket this process may not
 * connect to (as runner_client_open). A refused attach (wrong secret, unknown session, offset out of
 * range) is not an error here: it arrives as the last frame, with `code`. */
int runner_stream_open(runner_stream **out, const char *stream_address, const char *session_id,
		       const uint8_t *secret, size_t secret_len, uint64_t stdout_offset,
		       uint64_t stderr_offset, int connect_timeout_ms, runner_status *st);

/* runner_stream_open as `cred` (runner_client.h; may be NULL): TLS for a
 * tls+tcp:// stream address, and a token that identifies the reader, so
 * that the owner of a session (or an administrator) may attach without
 * its secret (secret_len 0) to a runnerd configured with principals. */
struct runner_credentials;
int runner_stream_open_as(runner_stream **out, const char *stream_address, const char *session_id,
			  const uint8_t *secret, size_t secret_len, uint64_t stdout_offset,
			  uint64_t stderr_offset, int connect_timeout_ms,
			  const struct runner_credentials *cred, runner_status *st);

/* The same for a watch (WatchDirResponse: stream_address, watch_id,
 * stream_secret), from event number `events_offset` (0: the first). Its
 * frames have stream FILE_EVENTS and carry `events`; their numbers are
 * checked as data offsets are (a gap is DATA_LOSS). */
int runner_stream_open_watch(runner_stream **out, const char *stream_address, const char *watch_id,
			     const uint8_t *secret, size_t secret_len, uint64_t events_offset,
			     int connect_timeout_ms, runner_status *st);

/* runner_stream_open_watch as `cred` (may be NULL): TLS for a tls+tcp://
 * stream address, and the caller's token. */
int runner_stream_open_watch_as(runner_stream **out, const char *stream_address, const char *watch_id,
				const uint8_t *secret, size_t secret_len, uint64_t events_offset,
				int connect_timeout_ms, const struct runner_credentials *cred,
				runner_status *st);

/* Receive the next frame into *frame (free it with
 * runner__v1__stream_frame__free_unpacked(*frame, NULL)) and acknowledge
 * it. Waits at most `timeout_ms` (< 0: no limit). A frame with a result or
 * a non-OK code always has `last` set; nothing follows it. Errors:
 *   DEADLINE_EXCEEDED   nothing arrived in time (the stream is still usable)
 *   UNAVAILABLE         the connection dropped and could not be attached
 *                       again (a dropped connection is re-attached from the
 *                       offsets received, up to 8 times per stream, before
 *                       this is reported); every frame that arrived before
 *                       has been returned. runner_stream_offset() tells
 *                       where to resume with a new runner_stream.
 *   DATA_LOSS/INTERNAL  a frame out of order, or one that does not decode
 *   FAILED_PRECONDITION the last frame was already returned */
int runner_stream_next(runner_stream *s, Runner__V1__StreamFrame **frame, int timeout_ms,
		       runner_status *st);

/* Bytes of `which` stream received so far: the offset to resume from
 * (including the starting offset). 0 for STREAM_UNSPECIFIED. Both STDOUT
 * and PTY start at runner_stream_open's `stdout_offset`; only the one the
 * session has moves. For FILE_EVENTS, the events received (a watch). */
uint64_t runner_stream_offset(const runner_stream *s, Runner__V1__StreamKind which);

/* Close and free; accepts NULL. Mid-stream, the server is first asked to
 * stop (a detach) and what it still sends is drained, so the connection is
 * quiet when it closes. */
void runner_stream_close(runner_stream *s);

/* The stream address runnerd serves by default beside request address
 * `url`, for a reader that knows a session's handle but not the
 * StartPipesResponse: ipc "x.sock" -> "x-stream.sock" (another ipc path:
 * "x" -> "x.stream"), tcp port P -> P+1. runnerd --stream-listen may put it
 * elsewhere; StartPipesResponse.stream_address is always right. Written to
 * `buf` (`size` bytes); INVALID_ARGUMENT when there is none to derive (neither
 * ipc nor a port, or port 0), RESOURCE_EXHAUSTED when it does not fit. */
int runner_stream_address(const char *url, char *buf, size_t size, runner_status *st);

#ifdef __cplusplus
}
#endif

#endif
