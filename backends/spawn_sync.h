/* spawn_sync.h — run a program to completion and wait for it, from any
 * thread: what backends use for their own short tool runs (a firejail
 * probe, `docker ps`), never for a command of a request (those are jobs,
 * on the loop).
 *
 * The child is started by spawn_child (clean environment, own session and
 * process group, default dispositions, empty mask, only fds 0-2). Its
 * stdout and stderr can be captured into caller buffers; what does not fit
 * is still read (the child never blocks on a full pipe) and counted. The
 * run is bounded: at the timeout the whole process group is SIGKILLed.
 * When the program exits, whatever it left in its process group is
 * SIGKILLed too (while its zombie still pins the group id), as for jobs.
 *
 * Who waits for what. runnerd is a child subreaper and its reaper
 * (service/core/reaper.h) reaps every child of the process with
 * waitid(P_ALL), orphans included — every child but those of
 * spawn_run_sync, which reaps its own (the wait status is its result):
 *
 *  - from before its child exists until it has reaped it, spawn_run_sync
 *    claims it (while a spawn is in progress and the pid not yet known,
 *    every pid counts as claimed);
 *  - the reaper asks spawn_sync_owns() about each zombie it does not
 *    track and, on true, leaves it and ends its pass (waitid(P_ALL)
 *    returns the same first zombie until it is reaped: it cannot skip
 *    one);
 *  - when a claim ends and the reaper stepped back meanwhile, the hook
 *    set with spawn_sync_set_reaped_hook is called (on the thread of
 *    spawn_run_sync), and the service makes its reaper collect again, so
 *    the zombies queued behind are reaped.
 * The wait itself sleeps in poll(2) on a pidfd and the output pipes.
 * Without a reaper (a tool, a test, runnerd before its loop runs) nothing
 * changes: spawn_run_sync reaps its child either way.
 */
#ifndef RUNNER_SPAWN_SYNC_H
#define RUNNER_SPAWN_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "status.h"

struct spawn_sync {
	/* In. */
	char *const *argv; /* as spawn_child: argv[0] resolved against envp's PATH */
	char *const *envp;
	const char *cwd;     /* NULL: inherit */
	unsigned timeout_ms; /* the whole run, output included; 0: 30 s */
	char *out;           /* stdout, NUL-terminated, at most out_size - 1 bytes */
	size_t out_size;     /* out NULL or out_size 0: stdout is /dev/null */
	char *err;           /* stderr, likewise */
	size_t err_size;
	/* Out. */
	size_t out_total, err_total; /* every byte read, kept or not */
	bool timed_out;              /* the group was SIGKILLed at the timeout */
};

/* Run r->argv until it exited and its output pipes reached end-of-file,
 * or until the timeout. Returns the program's wait status (>= 0; after a
 * timeout, usually SIGKILL's), or a negative value with st set: the
 * program could not be started (as spawn_child: *exec_errno set when it
 * could not be executed), or spawn_sync_stop_all was called
 * (UNAVAILABLE). Thread-safe; blocks the calling thread only. */
int spawn_run_sync(struct spawn_sync *r, int *exec_errno, rstatus *st);

/* Milliseconds on the monotonic clock timeouts are measured on: for a
 * deadline shared by several runs. */
uint64_t spawn_sync_clock_ms(void);

/* The reaper's question, from any thread: must it leave zombie `pid`
 * unreaped (and end its pass) because a spawn_run_sync waits for it? */
bool spawn_sync_owns(pid_t pid);

/* Called, from the thread of a spawn_run_sync, when a claim ended after
 * spawn_sync_owns had said true: collect again. Must not block (post to
 * the loop). NULL: none. Thread-safe. */
void spawn_sync_set_reaped_hook(void (*fn)(void *arg), void *arg);

/* At exit: SIGKILL the process group of every running spawn_run_sync
 * (each still reaps its child and returns) and refuse new ones. */
void spawn_sync_stop_all(void);

#endif
