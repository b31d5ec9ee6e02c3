/* job.h — one process run to completion (the Run RPC).
 *
 * A job spawns the launch plan with pipes for stdin/stdout/stderr, feeds
 * stdin, captures both outputs (capped, fully counted), enforces the wall
 * timeout (SIGTERM to the process group, SIGKILL after the grace), reaps
 * the process and produces a complete RunResult. It lives on the loop
 * thread; `done` runs there once, from a posted task, never from inside
 * job_start.
 */
#ifndef RUNNER_JOB_H
#define RUNNER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "loop.h"
#include "runner/v1/runner.pb-c.h"

struct job;

struct job_spec {
	const struct backend_launch *launch;
	const uint8_t *stdin_data; /* copied; NULL/0: /dev/null */
	size_t stdin_len;
	uint64_t stdout_limit;
	uint64_t stderr_limit;
	uint64_t timeout_ms;  /* 0: none */
	uint64_t grace_ms;    /* SIGTERM → SIGKILL */
	uint64_t linger_ms;   /* after exit, wait this long for pipes to close */
};

typedef void (*job_done_fn)(struct job *j, void *arg);

/* Start a job. Returns 0 (and later calls `done`) even when the program
 * cannot be executed: that outcome is a result (EXEC_FAILED). A negative
 * return (no pipes, no memory, no pids) means nothing was started. */
int job_start(struct loop *l, const struct job_spec *spec, job_done_fn done, void *arg,
	      struct job **out, rstatus *st);

/* Stop the job early: SIGTERM now, SIGKILL after the grace; the result's
 * reason becomes `reason` (RUNNER__V1__TERMINATION__KILLED or __TIMEOUT). */
void job_stop(struct job *j, Runner__V1__Termination reason);

/* The result, complete once `done` has run. stdout/stderr point into the
 * job and stay valid until job_free. */
const Runner__V1__RunResult *job_result(const struct job *j);

/* Number of jobs that have not finished yet. */
unsigned job_running(void);

void job_free(struct job *j);

#endif
