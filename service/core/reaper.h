/* reaper.h — reaps runnerd's children.
 *
 * runnerd is a child subreaper, so orphaned grandchildren come back to it;
 * every exited child is reaped here, tracked or not — except one that a
 * backend's synchronous run (backends/spawn_sync.h) is waiting for: that
 * one is left to its waiter, which reaps it itself. Who waits for what:
 *
 *  - the loop thread's reaper_collect reaps jobs (tracked here), docker's
 *    background `docker rm` runs and orphans (untracked);
 *  - spawn_run_sync, on whichever thread calls it (a backend probe, start-
 *    up recovery), reaps the child it started; while it does, the reaper
 *    stops at that zombie (waitid(P_ALL) cannot skip one) and is asked,
 *    through reaper_attach's hook, to collect again once it is gone.
 *
 * A tracked child gets two calls: `exiting` while its zombie still pins
 * the pid (and so its process-group id — the one moment a group signal
 * cannot hit a recycled pid), then `reaped` with its wait status and
 * resource usage.
 *
 * The reaper is the single instance of the process: a process has one set
 * of children, and the SIGCHLD of all of them comes to one place.
 */
#ifndef RUNNER_REAPER_H
#define RUNNER_REAPER_H

#include <sys/resource.h>
#include <sys/types.h>

struct loop;

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

/* Reap every exited child (call on SIGCHLD), up to the first one a
 * synchronous run waits for. Loop thread only. */
void reaper_collect(void);

/* The loop whose thread calls reaper_collect: when a synchronous run has
 * reaped a child the reaper had to leave, a new reaper_collect is posted
 * to it. Call before the loop runs; NULL: none. */
void reaper_attach(struct loop *loop);

/* Number of tracked children still running. */
unsigned reaper_tracked(void);

#endif
