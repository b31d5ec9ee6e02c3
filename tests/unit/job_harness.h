/* job_harness — a job driven to completion on a real loop and reaper, as
 * runnerd drives it, with its output collected: what the unit tests of
 * jobs and backends share. */
#ifndef RUNNERD_TESTS_UNIT_JOB_HARNESS_H
#define RUNNERD_TESTS_UNIT_JOB_HARNESS_H

#include <stdbool.h>

#include "run/collect.h"
#include "run/job.h"
#include "core/loop.h"

struct job_harness {
	struct loop *loop;
	struct spawners *spawners; /* bound to loop: one spawner process */
	struct loop_watch sig;
	struct collect io;
	bool done;
	bool stop_on_output; /* job_stop(KILLED) once any stdout arrives */
	bool stopped;
};

/* Callbacks of a job whose arg is a struct job_harness: output and stdin
 * through h->io, and on done the result into h->io, h->done set and the
 * loop stopped. */
extern const struct job_ops jh_ops;

/* Zero h; block SIGCHLD into a signalfd that reaps (reaper_collect),
 * ignore SIGPIPE, become a subreaper. */
void jh_init(struct job_harness *h);

/* A new loop in h->loop watching the signalfd, the reaper attached to it,
 * with a spawner process of its own in h->spawners (RUNNERD_SPAWNER_PATH). */
void jh_loop_open(struct job_harness *h);

/* Free h->spawners and h->loop (each may be NULL). */
void jh_loop_close(struct job_harness *h);

/* Start spec's job (its spawners default to h's) on h->loop with jh_ops (wanting stdin when
 * spec->stdin_pipe) and run the loop until it is done. -1 with st set
 * when job_start fails; 0 with the job in *jp, h->done reset. */
int jh_run(struct job_harness *h, const struct job_spec *spec, struct job **jp, rstatus *st);

/* Free what jh_loop_open and the run's collect_init made (the loop, the
 * collected output), so a leak checker sees only the code under test. */
void jh_close(struct job_harness *h);

#endif
