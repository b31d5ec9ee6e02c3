/* job.h — one process, from its spawn to its result: a Run's or a
 * session's.
 *
 * A job has a spawner (spawner.h) start the launch plan (or adopts a
 * process the backend started) with pipes for stdin/stdout/stderr, hands the pipes to its owner as they
 * become ready (job_ops: collect.h for a Run, the session's buffers for a
 * session), enforces the wall timeout (SIGTERM to the process group,
 * SIGKILL after the grace), learns how the process ended and produces a
 * complete RunResult. It lives on the loop thread; `done` runs there once,
 * from a posted task, never from inside job_start. launch.h is how the
 * service starts one; tests drive jobs directly.
 */
#ifndef RUNNER_JOB_H
#define RUNNER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "core/loop.h"
#include "runner/v1/runner.pb-c.h"

struct job;

enum job_stream { JOB_STDOUT = 1, JOB_STDERR = 2 };

/* What the owner of a job does with its pipes; all run on the loop thread. */
struct job_ops {
	/* `fd` (stdout or stderr) is readable: read what fits. Return 1 when
	 * the stream is over (EOF or error), 0 otherwise. An owner that has
	 * no room calls job_pause_output and the child blocks on its pipe. */
	int (*output)(struct job *j, enum job_stream s, int fd, void *arg);
	/* The stdin pipe can take bytes (only while job_want_stdin is on). */
	void (*stdin_writable)(struct job *j, int fd, void *arg);
	/* The process is reaped and both outputs are over: the result is
	 * final but for the output fields, which are the owner's to fill.
	 * Runs from a posted task, never from inside another job call. */
	void (*done)(struct job *j, void *arg);
	/* Optional: the process runs (job_result's pid is set), or it could
	 * not be started (the result says EXEC_FAILED; done follows). Spawns
	 * are asynchronous (run/spawner.h): never from inside job_start. */
	void (*started)(struct job *j, void *arg);
};

struct ledger;
struct spawners;

struct job_spec {
	const struct backend_launch *launch;
	const char *backend;       /* the backend's name, for metrics (NULL: not counted) */
	struct spawners *spawners; /* who creates the process (spawner.h) */
	struct ledger *ledger; /* records the process group (ledger.h); NULL: none */
	bool stdin_pipe;      /* false: stdin is /dev/null */
	/* A long-lived process (a session): the ends of its stdin and stderr
	 * pipes wait in the spawner until they are used (spawner_wire.h), so an
	 * idle one costs runnerd a single fd. */
	bool park;
	uint64_t timeout_ms;  /* 0: none */
	uint64_t grace_ms;    /* SIGTERM → SIGKILL */
	uint64_t linger_ms;   /* after exit, wait this long for pipes to close */
	/* A terminal of rows x cols (both > 0; 0: pipes). The process gets a
	 * pty (backend_launch.tty says who makes it): its output is the
	 * terminal's, JOB_STDOUT (JOB_STDERR carries only a wrapper's own
	 * messages, LAUNCH_TTY_INSIDE), and stdin writes are typed at it.
	 * Closing stdin stops the writing, never the terminal. */
	unsigned tty_rows, tty_cols;
};

/* Start a job. Returns 0 (and later calls ops->done) even when the
 * program cannot be executed: that outcome is a result (EXEC_FAILED). A
 * negative return (no pipes, no memory, no pids, bad cwd) means nothing
 * was started. */
int job_start(struct loop *l, const struct job_spec *spec, const struct job_ops *ops, void *arg,
	      struct job **out, rstatus *st);

/* Stop or resume watching one output pipe. */
void job_pause_output(struct job *j, enum job_stream s, bool paused);

/* Let an output pipe hold JOB_PIPE_GROWN bytes (once; best effort: the
 * kernel may refuse past pipe-user-pages-soft; a terminal is left alone).
 * For a stream seen to fill its pipe: while runnerd waits for the CPU or
 * for a reader, the producer runs on, and the next wake-up reads (and the
 * next frame carries) up to that much instead of the default 64 KiB. Idle
 * sessions' pipes cost no more. */
#define JOB_PIPE_DEFAULT (64u * 1024u)
#define JOB_PIPE_GROWN (1024u * 1024u)
void job_grow_pipe(struct job *j, enum job_stream s);

/* Ask for (or stop asking for) stdin_writable calls. */
void job_want_stdin(struct job *j, bool want);

/* Close our end of the child's stdin: it sees EOF. */
void job_close_stdin(struct job *j);
bool job_stdin_open(const struct job *j);

/* Send `sig` to the whole process group: 0, or -errno (-ESRCH once the
 * process is gone); a system-call wrapper (status.h). */
int job_signal(struct job *j, int sig);

/* Signal the group on a client's behalf: if the process dies of that
 * signal, the reason is KILLED rather than SIGNALED. Fails with
 * FAILED_PRECONDITION when the group cannot be signalled. */
int job_signal_requested(struct job *j, int sig, rstatus *st);

/* Set the window size of the job's terminal (SIGWINCH to its foreground
 * group): FAILED_PRECONDITION without a terminal or once the process is
 * gone; INVALID_ARGUMENT for a size a terminal cannot have. */
int job_resize(struct job *j, unsigned rows, unsigned cols, rstatus *st);

/* Has the main process exited (it may still be finishing its pipes)? */
bool job_exited(const struct job *j);

/* Stop the job early: SIGTERM now, SIGKILL after the grace; the result's
 * reason becomes `reason` (RUNNER__V1__TERMINATION__KILLED or __TIMEOUT). */
void job_stop(struct job *j, Runner__V1__Termination reason);

/* The result; complete once done has run (the owner fills stdout/stderr
 * and their counts). */
Runner__V1__RunResult *job_result(struct job *j);

/* Free the job; a process still running is killed (its group SIGKILLed)
 * and reaped later by its spawner. */
void job_free(struct job *j);

#endif
