/* session_support.h — interactive sessions in integration tests: the
 * session RPCs (StartPipes, WriteStdin, CloseStdin, Wait, Signal, List) and
 * a stream reader on top of runner_stream that checks every frame and
 * collects (or just hashes) the output.
 *
 * Functions without _code assert that the call answered OK (ck_assert, so
 * main test thread only). The _code variants return the status code
 * (RUNNER_OK or the error) and fill `st`; they never assert on the answer and
 * are safe in helper threads.
 */
#ifndef RUNNERD_TEST_SESSION_SUPPORT_H
#define RUNNERD_TEST_SESSION_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.h"
#include "runner_stream.h"
#include "support.h"

/* Envelope deadline of every session call sent by these helpers. */
#define RD_SESSION_CALL_MS 30000
/* How long a reader waits for any single frame before failing. */
#define RD_FRAME_TIMEOUT_MS 15000
/* How long closing a reader may take before the test fails. */
#define RD_CLOSE_TIMEOUT_MS 5000

typedef Runner__V1__RunResult RunResult;
typedef Runner__V1__StreamFrame StreamFrame;

/* What StartPipes answered. */
typedef struct rd_session {
	char id[256];
	char stream_address[300];
	uint8_t secret[64];
	size_t secret_len;
	int32_t pid;
	bool existing;
} rd_session;

/* --- unary calls ----------------------------------------------------------- */

int rd_start_pipes_code(runner_client *cl, const rd_cmd *c, const char *key, const char *tag,
			rd_session *s, runner_status *st);
void rd_start_pipes(runner_client *cl, const rd_cmd *c, const char *key, const char *tag,
		    rd_session *s);
/* StartPipes of a whole request (output mode and all). */
int rd_start_request_code(runner_client *cl, const Runner__V1__StartPipesRequest *req, rd_session *s,
			  runner_status *st);
/* StartPipes of an argv (NULL-terminated), no key, no tag. */
void rd_start_argv(runner_client *cl, rd_session *s, ...) __attribute__((sentinel));
/* StartPipes of a /bin/sh -c line, no key, no tag. */
void rd_start_shell(runner_client *cl, rd_session *s, const char *shell);

int rd_write_stdin_code(runner_client *cl, const char *id, uint64_t offset, const void *data,
			size_t len, uint64_t *accepted, runner_status *st);
/* Returns the accepted total. */
uint64_t rd_write_stdin(runner_client *cl, const char *id, uint64_t offset, const void *data,
			size_t len);
int rd_close_stdin_code(runner_client *cl, const char *id, uint64_t *accepted, runner_status *st);
uint64_t rd_close_stdin(runner_client *cl, const char *id);

/* Wait; *resp (may be NULL) gets the response on OK (free with
 * runner__v1__wait_response__free_unpacked). */
int rd_wait_code(runner_client *cl, const char *id, uint64_t timeout_ms,
		 Runner__V1__WaitResponse **resp, runner_status *st);
/* Wait (asserting it answers OK with a result). */
Runner__V1__WaitResponse *rd_wait(runner_client *cl, const char *id, uint64_t timeout_ms);

int rd_signal_code(runner_client *cl, const char *id, int sig, runner_status *st);

/* List (asserted OK); free with runner__v1__list_response__free_unpacked. */
Runner__V1__ListResponse *rd_list(runner_client *cl, const char *tag);
/* The entry of session `id` in a List answer, or NULL. */
const Runner__V1__SessionInfo *rd_list_find(const Runner__V1__ListResponse *l, const char *id);

/* Health answers OK and SERVING. */
void rd_assert_health(runner_client *cl);
/* Health's `running` count. */
unsigned rd_health_running(runner_client *cl);

/* Assert the status code of a call with its message in the failure text. */
#define rd_assert_code(got, want, st)                                                             \
	ck_assert_msg((got) == (want), "%s: got %s (%s), want %s", #got, runner_status_code_name(got),   \
		      (st)->message, runner_status_code_name(want))

/* --- output streams --------------------------------------------------------- */

/* One output stream as a reader received it: bytes [start, end) of the
 * stream, hashed (FNV-1a 64) and, with `keep`, stored. */
typedef struct rd_sink {
	bool keep;
	uint64_t start, end;
	uint64_t hash;
	uint8_t *data; /* end - start bytes when keep */
	size_t cap;
} rd_sink;

void rd_sink_init(rd_sink *k, bool keep, uint64_t start);
void rd_sink_free(rd_sink *k);
/* The kept bytes as a NUL-terminated string (valid until the next append). */
const char *rd_sink_str(rd_sink *k);
/* Assert the kept bytes equal `want` exactly. */
void rd_sink_assert_eq(rd_sink *k, const void *want, size_t len, const char *what);

#define RD_FNV_INIT 0xcbf29ce484222325ull
uint64_t rd_fnv1a(uint64_t h, const void *data, size_t len);

/* A ReadStream attachment feeding two sinks. Every data frame is checked:
 * the right stream kind, at exactly the sink's end offset, never after
 * the last frame. */
typedef struct rd_reader {
	runner_stream *rs;
	rd_sink *out, *err;
	uint64_t data_frames;   /* frames with data on this attachment */
	bool pty;               /* a PTY session: `out` is its terminal (StreamKind PTY) */
	StreamFrame *last;      /* the last frame, once it arrived */
} rd_reader;

/* Attach at the sinks' end offsets (asserts the connection). */
void rd_reader_open(rd_reader *r, const rd_session *s, rd_sink *out, rd_sink *err);
/* Attach with any secret (NULL: the session's) and session id (NULL: the
 * session's), at the sinks' end offsets. */
void rd_reader_open_as(rd_reader *r, const rd_session *s, const char *id, const uint8_t *secret,
		       size_t secret_len, rd_sink *out, rd_sink *err);
/* The same for a PTY session: `out` receives the PTY stream. */
void rd_reader_open_pty(rd_reader *r, const rd_session *s, rd_sink *out, rd_sink *err);
/* Receive one frame: 1 a frame that was not the last, 0 the last frame
 * (now in r->last), -1 nothing within timeout_ms. Any other stream error
 * fails the test. */
int rd_reader_step(rd_reader *r, int timeout_ms);
/* Read to the last frame (each frame within RD_FRAME_TIMEOUT_MS); returns it. */
const StreamFrame *rd_reader_drain(rd_reader *r);
/* Read until stdout holds at least `n` bytes past its start (asserting it
 * gets there before the last frame, each frame within RD_FRAME_TIMEOUT_MS). */
void rd_reader_until_out(rd_reader *r, uint64_t n);
/* Close the attachment and free the last frame; the sinks stay. Fails
 * the test when runner_stream_close does not return in RD_CLOSE_TIMEOUT_MS. */
void rd_reader_close(rd_reader *r);

/* Assert the last frame is OK and carries a result. */
const RunResult *rd_assert_final_result(const StreamFrame *f);
/* Assert the last frame carries `code` (no result, no data). */
void rd_assert_final_code(const StreamFrame *f, int code);

/* Everything a session printed, read to the end through a fresh reader:
 * stdout into *out, stderr into *err (both kept); returns the last frame's
 * result, asserted present (free with rd_reader_close on *r). */
const RunResult *rd_read_all(rd_reader *r, const rd_session *s, rd_sink *out, rd_sink *err);

/* What a reader got from a session, read to its last frame without check
 * assertions (for helper threads). */
typedef struct rd_drained {
	uint64_t out, err;         /* bytes of each stream, from the start offsets */
	uint64_t out_hash;         /* FNV-1a of stdout */
	int code;                  /* the last frame's code */
	char message[256];         /* ... and message */
	bool has_result;
	int reason, exit_code;     /* of its result */
	uint64_t stdout_total;
} rd_drained;

/* Attach at (stdout_from, 0), read to the last frame (each frame within
 * RD_FRAME_TIMEOUT_MS) checking offsets, close. RUNNER_OK when a last
 * frame arrived (whatever its code, in d->code); otherwise the reader's
 * error, with st filled. Thread-safe. */
int rd_drain_code(const rd_session *s, uint64_t stdout_from, rd_drained *d, runner_status *st);

/* --- bulk data --------------------------------------------------------------- */

/* "1\n2\n...n\n", as `seq 1 n` prints it (malloc'd, length in *len). */
char *rd_seq_text(unsigned n, size_t *len);

/* Deterministic pseudo-random bytes: chunk `index` of a stream seeded by seed. */
void rd_fill_pattern(uint8_t *buf, size_t len, uint64_t seed, uint64_t index);

/* Push `total` pattern bytes through `cat` in `chunk`-byte WriteStdin calls
 * from a writer thread while this thread reads the stream, and assert the
 * output is byte-identical (length and hash) and the result EXITED 0.
 * Returns the elapsed milliseconds. */
int64_t rd_pump_through_cat(const char *url, uint64_t total, size_t chunk);

#endif
