/* session_internal.h — what session.c and session_keep.c share: the
 * session and table structs, and the calls between the two files. Nothing
 * outside service/session/session*.c includes it; the rest sees sessions
 * through session.h. Loop thread only.
 */
#ifndef RUNNER_SESSION_INTERNAL_H
#define RUNNER_SESSION_INTERNAL_H

#include "run/launch.h"
#include "session/session.h"

#define BUCKETS 4096

struct session {
	char *id;                   /* SESSION_ID_LEN hex digits; in a fleet "@" and the instance */
	uint8_t secret[SESSION_SECRET_LEN];
	char *tag, *key;
	struct sessions *ss;
	struct launch *launch;      /* the command, its plan and its job */
	struct outbuf out, err;

	uint64_t stdin_accepted;    /* bytes written into the child's pipe */
	uint64_t stdin_queued;      /* accepted + bytes of parked writes */
	struct stdin_write *writes; /* parked WriteStdin calls, in order */
	unsigned n_writes;
	struct call *close_call;    /* CloseStdin waiting for writes to drain */
	bool stdin_closed;
	const char *stdin_gone;     /* why stdin is unusable, once it is */

	Runner__V1__OutputMode mode;
	uint64_t tail;              /* bytes kept while unread: OUTPUT_TAIL; 0 for DISCARD */
	bool full[3];               /* by enum job_stream: reading paused, the buffer full */
	bool tidy;                  /* queued in the table's tidy list */
	bool freeing;

	bool started;               /* the process runs (or never will) */
	struct start_waiter *start_waiters;
	bool finished;
	size_t retained;            /* memory of its output, once finished */
	Runner__V1__RunResult result;
	char exec_error[sizeof(((rstatus *) 0)->message)];
	struct session_waiter *waiters;
	void *watcher;              /* the observer's, for this session */
	Runner__V1__Terminal terminal; /* a PTY session's, as List shows it (rows 0: pipes) */

	uint64_t started_at_us;     /* wall clock, for List */
	uint64_t touched_us;        /* monotonic */
	uint64_t finished_us;
	struct loop_timer timer;    /* idle TTL, then retention */
	struct session *next, *prev, *hnext;
	struct session *fnext, *fprev; /* finished ones, oldest first */
	struct session *tidy_next;
};

/* A WriteStdin parked until its bytes are in the pipe. */
struct stdin_write {
	struct call *call;
	const uint8_t *data; /* into the call's decoded request */
	size_t len, done;
	struct stdin_write *next;
};

/* A StartPipes waiting for its process to start. */
struct start_waiter {
	session_started_fn fn;
	void *arg;
	struct start_waiter *next;
};

/* A Wait parked until the process ends (or its timeout). */
struct session_waiter {
	struct call *call;
	struct session *s;
	struct loop_timer timer;
	struct session_waiter *next, *prev;
};

struct sessions {
	struct session_config cfg;
	struct loop *loop;
	const struct session_observer *obs;
	struct session *all;
	struct session *buckets[BUCKETS];
	unsigned count, running;
	struct session *oldest_finished, *newest_finished;
	unsigned finished;
	size_t retained_output;     /* memory of finished sessions' output */
	struct session *tidy;       /* to look at from tidy_timer */
	struct loop_timer tidy_timer;
};

/* The session's job; NULL once it finished. */
static inline struct job *
job_of(const struct session *s)
{
	return s->launch ? launch_job(s->launch) : NULL;
}

/* Tell the observer, if one watches `s`. */
#define NOTIFY(s, event)                                                                   \
	do {                                                                               \
		if ((s)->watcher != NULL && (s)->ss->obs != NULL && (s)->ss->obs->event != NULL) \
			(s)->ss->obs->event((s), (s)->watcher);                              \
	} while (0)

/* --- session.c ------------------------------------------------------------- */

/* Take `s` out of the table and free it (its watcher and waiters told). */
void session_free(struct session *s);

/* --- session_keep.c: what a session keeps of its output -------------------- */

/* StartPipes' output mode is one runnerd knows, its tail within the buffer. */
int session_check_output_mode(const struct sessions *ss, const Runner__V1__StartPipesRequest *req,
			      rstatus *st);
/* A new session's mode and buffers. */
void session_keep_init(struct session *s, const Runner__V1__StartPipesRequest *req);
/* The job_ops.output of a session's job: read into the buffers. */
int session_read_output(struct job *j, enum job_stream which, int fd, void *arg);
/* The process ended: its output joins the finished sessions' budget. */
void session_keep_finished(struct session *s);
/* Its reader left: drop what its mode or the budget says, soon. */
void session_keep_unwatched(struct session *s);
/* `s` is being freed: out of the finished list and the budget. */
void session_keep_forget(struct session *s);

void sessions_keep_init(struct sessions *ss);
void sessions_keep_stop(struct sessions *ss);

#endif
