/* launch.h — the one way a request's command becomes a running job.
 *
 * A launch takes a CommandSpec through every step both Run and StartPipes
 * need: resolve it against its profile (profiles.h), find its backend,
 * check the backend can run here, have it prepare a launch plan
 * (backend.h), and start the job (job.h). The launch owns all of it — the
 * resolved command, the plan, the job — and launch_free undoes it in the
 * one safe order: the job first (freeing a running job still reports to the
 * plan), then the backend's release, then the resolved command, then its
 * reference to the config it was resolved against. Loop thread only.
 */
#ifndef RUNNER_LAUNCH_H
#define RUNNER_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "core/loop.h"
#include "run/job.h"
#include "runner/v1/runner.pb-c.h"
#include "status.h"

struct conf;
struct ledger;
struct spawners;

/* What every launch needs from the daemon: one, filled by main, which
 * outlives every launch. */
struct launcher {
	struct loop *loop;
	/* The config in force (conf.h): main swaps it on a reload; a launch
	 * keeps a reference to the one it resolved against, for its life. */
	struct conf *conf;
	struct spawners *spawners; /* create every job's process (spawner.h) */
	struct ledger *ledger; /* records process groups; NULL: none */
	uint64_t grace_ms;     /* SIGTERM → SIGKILL */
	uint64_t linger_ms;    /* after exit, wait for stray pipe holders */
};

struct launch;

/* Resolve `spec` and have its backend prepare the plan; nothing runs yet.
 * Fails (with *out NULL, everything undone) on a spec the profile refuses,
 * an unknown or unavailable backend, or a plan the backend cannot make. */
int launch_prepare(const struct launcher *lr, const Runner__V1__CommandSpec *spec,
		   struct launch **out, rstatus *st);

/* The resolved command (argv, limits, timeout), owned by the launch. */
const struct command *launch_command(const struct launch *la);

/* How a job's stdio is set up (launch_start's `io`). */
enum launch_io {
	LAUNCH_STDIN = 1u << 0,   /* a stdin pipe (else /dev/null) */
	LAUNCH_SESSION = 1u << 1, /* long-lived: idle pipe ends wait in the spawner (job_spec.park) */
};

/* Start the prepared plan as a job whose callbacks are `ops` with `arg`
 * (job_start's contract: a program that cannot be executed is a result,
 * not a failure). `io`: enum launch_io flags; `timeout_ms` is the wall
 * limit to enforce (0: none). */
int launch_start(struct launch *la, unsigned io, uint64_t timeout_ms, const struct job_ops *ops,
		 void *arg, rstatus *st);

/* The job; NULL before launch_start succeeded and after launch_drop_job. */
struct job *launch_job(const struct launch *la);

/* The job is done and its result copied: free it now. The plan stays until
 * launch_free (a session keeps it for its retention). */
void launch_drop_job(struct launch *la);

/* Undo everything (a job still running is killed); accepts NULL. */
void launch_free(struct launch *la);

#endif
