/* session.h — interactive sessions: a long-lived process whose stdin stays
 * open and whose output is kept in bounded buffers for a stream reader.
 *
 * A session outlives the call that started it: it is found by id, driven by
 * WriteStdin/CloseStdin/Signal, waited on by Wait, read through the stream
 * socket (streams.h), and collected after its retention time once finished,
 * or killed when no client touched it for the idle TTL. Loop thread only.
 */
#ifndef RUNNER_SESSION_H
#define RUNNER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "run/job.h"
#include "run/launch.h"
#include "session/outbuf.h"
#include "rpc/rpc.h"

struct runnerd;
struct stream_reader;
struct stdin_write;
struct session_waiter;

#define SESSION_ID_LEN 32     /* hex characters */
#define SESSION_SECRET_LEN 32 /* bytes */

struct session_config {
	unsigned max_sessions;
	size_t buffer_bytes;        /* per output stream */
	uint64_t idle_ttl_ms;       /* running and untouched: killed */
	uint64_t retention_ms;      /* finished: collected */
	unsigned max_pending_writes;
};

struct session {
	char id[SESSION_ID_LEN + 1];
	uint8_t secret[SESSION_SECRET_LEN];
	char *tag, *key;
	struct runnerd *d;
	struct launch *launch;      /* the command, its plan and its job */
	struct outbuf out, err;

	uint64_t stdin_accepted;    /* bytes written into the child's pipe */
	uint64_t stdin_queued;      /* accepted + bytes of parked writes */
	struct stdin_write *writes; /* parked WriteStdin calls, in order */
	unsigned n_writes;
	struct call *close_call;    /* CloseStdin waiting for writes to drain */
	bool stdin_closed;
	const char *stdin_gone;     /* why stdin is unusable, once it is */

	bool finished;
	Runner__V1__RunResult result;
	char exec_error[sizeof(((rstatus *) 0)->message)];
	struct session_waiter *waiters;
	struct stream_reader *reader;

	uint64_t started_at_us;     /* wall clock, for List */
	uint64_t touched_us;        /* monotonic */
	uint64_t finished_us;
	struct loop_timer timer;    /* idle TTL, then retention */
	struct session *next, *prev, *hnext;
};

struct sessions;

int sessions_new(struct sessions **out, struct runnerd *d, const struct session_config *cfg,
		 rstatus *st);
/* Kill and free everything (shutdown); accepts NULL. */
void sessions_free(struct sessions *ss);

/* Start a session for a StartPipes request. *existing is set when the
 * idempotency key named a retained session, which is returned instead. */
int session_start(struct sessions *ss, const Runner__V1__StartPipesRequest *req,
		  struct session **out, bool *existing, rstatus *st);

struct session *session_find(struct sessions *ss, const char *id);
/* NOT_FOUND with a clear message when `id` names no retained session. */
int session_lookup(struct sessions *ss, const char *id, struct session **out, rstatus *st);

/* A client used the session: restart its idle clock. */
void session_touch(struct session *s);

/* WriteStdin: answers `c` once the bytes are in the pipe (or fails it). */
void session_write_stdin(struct session *s, struct call *c, uint64_t offset, const uint8_t *data,
			 size_t len);
/* CloseStdin: answers `c` once pending writes drained and stdin is closed. */
void session_close_stdin(struct session *s, struct call *c);
/* Wait: answers `c` with the result when the process ends, or
 * DEADLINE_EXCEEDED after `timeout_ms` (0: no limit). */
void session_wait(struct session *s, struct call *c, uint64_t timeout_ms);
int session_signal(struct session *s, int sig, rstatus *st);

/* The stream layer acknowledged bytes: resume reading the child if paused. */
void session_output_acked(struct session *s);

/* Fill a List entry (pointers into the session). */
void session_info(struct session *s, Runner__V1__SessionInfo *info);

/* Iterate for List. */
struct session *sessions_first(struct sessions *ss);

unsigned sessions_running(const struct sessions *ss);
unsigned sessions_count(const struct sessions *ss);

/* Shutdown: stop every running session (reason KILLED). */
void sessions_stop_all(struct sessions *ss);

#endif
