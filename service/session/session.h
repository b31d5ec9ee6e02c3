/* session.h — interactive sessions: a long-lived process whose stdin stays
 * open and whose output is kept in bounded buffers for a stream reader.
 *
 * A session outlives the call that started it: it is found by id, driven by
 * WriteStdin/CloseStdin/Signal, waited on by Wait, read through the stream
 * socket, and collected after its retention time once finished, or killed
 * when no client touched it for the idle TTL. Loop thread only.
 *
 * A session is opaque. What reads its output (the stream layer,
 * streams.h) is its observer: it registers a session_observer with the
 * table, binds itself to one session at a time as that session's watcher,
 * reads the output through session_output and acknowledges it with
 * session_ack_output; the session tells it, through the observer, when
 * there is more to read, when the result is final, and when it goes away.
 * The session never calls the stream layer by name.
 */
#ifndef RUNNER_SESSION_H
#define RUNNER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/rpc.h"
#include "run/job.h"
#include "runner/v1/runner.pb-c.h"
#include "session/outbuf.h"
#include "status.h"

struct launcher;
struct session;
struct sessions;

#define SESSION_ID_LEN 32     /* hex characters */
#define SESSION_SECRET_LEN 32 /* bytes */

/* Told about a session with a watcher bound (session_set_watcher), on the
 * loop thread, with that watcher. Each may unbind or rebind watchers. */
struct session_observer {
	/* New output is buffered, or buffered output got room to grow. */
	void (*output_ready)(struct session *s, void *watcher);
	/* The process ended: session_result is final, the output complete. */
	void (*finished)(struct session *s, void *watcher);
	/* The session is being freed (collected, or shutdown): forget it. The
	 * watcher is unbound when this returns. */
	void (*gone)(struct session *s, void *watcher);
};

/* Running and finished sessions have separate limits. A running session
 * holds at most buffer_bytes per stream; StartPipes past max_live running
 * sessions is RESOURCE_EXHAUSTED. A finished one is kept for retention_ms,
 * its output trimmed to what it holds; past max_retained finished sessions
 * the oldest finished is collected, and past retained_output bytes of
 * their output all together the oldest finished lose their oldest output
 * (a reader asking for it gets OUT_OF_RANGE) but keep their result. A
 * finished session with a reader attached is left alone until the reader
 * leaves. */
struct session_config {
	const struct launcher *launcher; /* how a session's command starts */
	unsigned max_live;          /* running sessions */
	unsigned max_retained;      /* finished sessions */
	size_t retained_output;     /* bytes of finished sessions' output */
	size_t buffer_bytes;        /* per output stream */
	uint64_t idle_ttl_ms;       /* running and untouched: killed */
	uint64_t retention_ms;      /* finished: collected */
	unsigned max_pending_writes;
	/* This runnerd's advertised address in a fleet (routing.h): session ids
	 * end with "@" and it. NULL: it runs alone, ids are hex only. */
	const char *instance;
};

int sessions_new(struct sessions **out, const struct session_config *cfg, rstatus *st);
/* Kill and free everything (shutdown); accepts NULL. */
void sessions_free(struct sessions *ss);

/* The one observer of every session's output (NULL: none). */
void sessions_set_observer(struct sessions *ss, const struct session_observer *obs);

/* Start a session for a StartPipes request (RESOURCE_EXHAUSTED at
 * max_live running sessions). *existing is set when the idempotency key
 * named a retained session, which is returned instead. */
int session_start(struct sessions *ss, const Runner__V1__StartPipesRequest *req,
		  struct session **out, bool *existing, rstatus *st);

/* Processes start asynchronously (run/spawner.h): StartPipes answers once
 * its session's process runs or could not start (its pid is known, or the
 * result says EXEC_FAILED). `fn(arg, s)` is called then — at once when
 * that is already so — or with `s` NULL when the session is collected
 * before. 0, or RESOURCE_EXHAUSTED (nothing will be called). */
typedef void (*session_started_fn)(void *arg, struct session *s);
int session_when_started(struct session *s, session_started_fn fn, void *arg, rstatus *st);

struct session *session_find(struct sessions *ss, const char *id);
/* NOT_FOUND with a clear message when `id` names no retained session;
 * UNAVAILABLE naming the owner when it names another runnerd's. */
int session_lookup(struct sessions *ss, const char *id, struct session **out, rstatus *st);

/* A client used the session: restart its idle clock. */
void session_touch(struct session *s);

/* Identity: the id (SESSION_ID_LEN hex characters, then in a fleet "@"
 * and the instance: routing.h), the secret
 * (SESSION_SECRET_LEN bytes, for StartPipes' reply only), the tag ("" when
 * none), the process id (0 if it never started). */
const char *session_id(const struct session *s);
const uint8_t *session_secret(const struct session *s);
const char *session_tag(const struct session *s);
int session_pid(const struct session *s);

/* Does `given` prove its sender got the secret? Constant time: the
 * comparison does not tell how much of it matched. */
bool session_secret_matches(const struct session *s, const uint8_t *given, size_t len);

/* WriteStdin: answers `c` once the bytes are in the pipe (or fails it). */
void session_write_stdin(struct session *s, struct call *c, uint64_t offset, const uint8_t *data,
			 size_t len);
/* CloseStdin: answers `c` once pending writes drained and stdin is closed. */
void session_close_stdin(struct session *s, struct call *c);
/* Wait: answers `c` with the result when the process ends, or
 * DEADLINE_EXCEEDED after `timeout_ms` (0: no limit). */
void session_wait(struct session *s, struct call *c, uint64_t timeout_ms);
int session_signal(struct session *s, int sig, rstatus *st);

/* A PTY session (CommandSpec.terminal)? Its terminal's output is then the
 * JOB_STDOUT buffer (the PTY stream); JOB_STDERR holds only what a wrapper
 * itself reports (docker's messages), usually nothing. */
bool session_has_terminal(const struct session *s);
/* Resize: set the terminal's window size (job_resize's errors, and
 * FAILED_PRECONDITION for a session without a terminal). */
int session_resize(struct session *s, unsigned rows, unsigned cols, rstatus *st);

/* The buffered output of stdout or stderr (read only: bytes base..end). */
const struct outbuf *session_output(const struct session *s, enum job_stream which);
/* A reader has everything below these offsets: the bytes may be forgotten,
 * and reading the child resumes if the buffers were full. */
void session_ack_output(struct session *s, uint64_t stdout_offset, uint64_t stderr_offset);
/* The result once the process ended (output totals included); NULL before. */
const Runner__V1__RunResult *session_result(const struct session *s);

/* The watcher bound to the session (NULL: none); binding replaces the
 * previous one without telling it. A bound watcher counts as use: the
 * session is not idle while someone waits for its output, and it loses no
 * output whatever its mode. Unbinding lets the session drop output again
 * (tail, discard) or be trimmed (finished), soon after, from the loop:
 * never under the caller's feet. */
void *session_watcher(const struct session *s);
void session_set_watcher(struct session *s, void *watcher);

/* Fill a List entry (pointers into the session). */
void session_info(struct session *s, Runner__V1__SessionInfo *info);

/* Collect a finished session now (Remove): its readers get their last
 * frame, it is freed, and its id names nothing any more.
 * FAILED_PRECONDITION while its process runs. */
int session_remove(struct session *s, rstatus *st);

/* Iterate for List: newest first. */
struct session *sessions_first(struct sessions *ss);
struct session *sessions_next(struct session *s);

unsigned sessions_running(const struct sessions *ss);
unsigned sessions_count(const struct sessions *ss);
/* Bytes of output the finished sessions hold, all together. */
size_t sessions_retained_output(const struct sessions *ss);

/* Shutdown: stop every running session (reason KILLED). */
void sessions_stop_all(struct sessions *ss);

#endif
