/* spawner.h — runnerd's side of its spawner processes (runnerd-spawner,
 * backends/spawner_wire.h says why they exist and what they speak).
 *
 * A spawn is asynchronous: spawner_spawn sends the request and returns;
 * the owner's callbacks run later on the loop thread — `spawned` with the
 * pid (or `failed`: the program never ran, and why), then `exited` with
 * the wait status and the child's own resource usage once the spawner
 * reaped it. The spawner, not runnerd, waits for these children.
 *
 * Loop thread only. If a spawner process dies (a bug), the children it
 * had are SIGKILLed by group, their owners get `exited` with a SIGKILL
 * status, and a new spawner takes its place.
 */
#ifndef RUNNER_SPAWNER_H
#define RUNNER_SPAWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "core/loop.h"
#include "spawner_wire.h"
#include "status.h"

struct spawners;
struct spawn_watch;

struct spawn_watch_ops {
	/* fds[t]: runnerd's end of the pipe made for the child's fd t (the
	 * callee owns it), or -1 (no pipe, or parked). */
	void (*spawned)(struct spawn_watch *w, pid_t pid, const int fds[4]);
	/* The program never ran: `stage` (enum spawner_stage) failed with
	 * `err`. Nothing is left to reap; the watch is free again. */
	void (*failed)(struct spawn_watch *w, int stage, int err);
	/* Reaped: the watch is free again (but for ends still parked, whose
	 * `fd` may follow). */
	void (*exited)(struct spawn_watch *w, const struct spawner_exit *ex);
	/* A parked end leaves the spawner: `fd` (the callee's), or -1 when
	 * that end is gone (an output that hung up with nothing to read, or a
	 * spawner that died). Only for requests that park ends. */
	void (*fd)(struct spawn_watch *w, int which, int fd);
};

/* Embed one per child in the owner's object. */
struct spawn_watch {
	const struct spawn_watch_ops *ops;
	/* internal */
	uint64_t id;
	pid_t pid;        /* 0 until spawned */
	bool setsid;
	bool reaped;
	uint8_t parked;   /* ends still in the spawner, by child fd */
	struct spawner_proc *proc;
	struct spawn_watch *next;
};

/* Start `n` spawner processes running the program at `path`; their
 * children get RLIMIT_NOFILE `child_nofile` (NULL: runnerd's own). */
int spawners_start(struct spawners **out, struct loop *l, unsigned n, const char *path,
		   const struct rlimit *child_nofile, rstatus *st);
/* Close the channels (each spawner then kills and reaps what it still
 * has, and exits); accepts NULL. */
void spawners_free(struct spawners *s);

/* Send a spawn request. `fds` (n_fds <= 4) are sent with it and may be
 * closed by the caller as soon as this returns. 0, or fills st when the
 * request could not be sent at all (then no callback comes). */
int spawner_spawn(struct spawners *s, struct spawn_watch *w, const struct spawner_req *req,
		  const int *fds, int n_fds, rstatus *st);

/* Signal the child (its group with SPAWN_SETSID) if it is not reaped yet:
 * the spawner checks, so a recycled pid is never hit. -ESRCH once the
 * watch has no live child. */
int spawn_watch_signal(struct spawn_watch *w, int sig);

/* Ask for the parked end of the child's fd `which` (it comes through
 * ops->fd); -ESRCH when it is not parked. */
int spawn_watch_take(struct spawn_watch *w, int which);
/* Close the parked end of fd `which` without taking it. */
void spawn_watch_drop(struct spawn_watch *w, int which);
/* Is the end of fd `which` still in the spawner? */
bool spawn_watch_parked(const struct spawn_watch *w, int which);

/* The owner goes away: no callback will come for `w` any more, and the
 * ends it has parked are closed. The child (if any) is still reaped by
 * its spawner. */
void spawn_watch_forget(struct spawn_watch *w);

/* Children started and not yet reaped, over every spawner. */
unsigned spawners_live(const struct spawners *s);

#endif
