/* reaper.h — the only code in the service that waits on the children the
 * loop runs (jobs, pooled containers); synchronous helpers in backends/
 * reap their own.
 *
 * runnerd is a child subreaper, so orphaned grandchildren come back to it;
 * every exited child is reaped here, tracked or not. A tracked child gets
 * two calls: `exiting` while its zombie still pins the pid (and so its
 * process-group id — the one moment a group signal cannot hit a recycled
 * pid), then `reaped` with its wait status and resource usage.
 *
 * A process-wide singleton, on purpose: children, SIGCHLD and the
 * subreaper role belong to the process, not to any object in it, so there
 * is one table of tracked children per process (its state is module-wide,
 * and loop thread only), fed by the one signalfd main reads SIGCHLD from.
 */
#ifndef RUNNER_REAPER_H
#define RUNNER_REAPER_H

#include <sys/resource.h>
#include <sys/types.h>

struct reaper_watch {
	pid_t pid;
	void (*exiting)(struct reaper_watch *w);
	void (*reaped)(struct reaper_watch *w, int wstatus, const struct rusage *ru);
	struct reaper_watch *next; /* hash chain, owned by the reaper */
};

/* Loop thread only. Track `w->pid` until it is reaped. */
void reaper_track(struct reaper_watch *w);

/* Stop tracking `w` (its owner is going away); the child is still reaped. */
void reaper_untrack(struct reaper_watch *w);

/* Reap every exited child (call on SIGCHLD). */
void reaper_collect(void);

/* Number of tracked children still running. */
unsigned reaper_tracked(void);

#endif
