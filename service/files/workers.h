/* workers.h — the threads that do file work, off the loop.
 *
 * The loop never touches the file system for a file operation: it hands
 * the job to one of a few worker threads (a FIFO queue, a mutex and a
 * condition variable) and the job posts its completion back to the loop
 * (loop_post). Workers may block on disks and take as long as a job needs
 * (a 1 GiB checksum, a large tree); the loop stays free. They are
 * runnerd's own threads, created after main blocked its signals, so they
 * share that mask; each may take on a user's identity for one job
 * (files/creds.h).
 */
#ifndef RUNNER_FILES_WORKERS_H
#define RUNNER_FILES_WORKERS_H

#include "status.h"

struct workers;

/* A unit of work; embed it. `run` executes on a worker thread. */
struct work {
	void (*run)(struct work *w);
	struct work *next;
};

/* Start n threads (n >= 1). */
int workers_start(struct workers **out, unsigned n, rstatus *st);

/* Queue `w` (any thread). */
void workers_submit(struct workers *ws, struct work *w);

/* Jobs queued or running. */
unsigned workers_pending(struct workers *ws);

/* Let the running jobs finish, drop the queued ones (returned as a list,
 * for the caller to dispose of), join the threads and free. Accepts NULL. */
struct work *workers_stop(struct workers *ws);

#endif
