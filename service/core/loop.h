/* loop.h — runnerd's event loop: one thread, epoll, timers, and a queue
 * that other threads (nng's callbacks) post work to.
 *
 * All service state — calls, jobs, the de-duplication table — is touched
 * only on the loop thread, so none of it needs locks. nng completion
 * callbacks must not block or do real work; they post a task here and
 * return.
 */
#ifndef RUNNER_LOOP_H
#define RUNNER_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "status.h"

struct loop;

/* An fd the loop watches; `cb` runs on the loop thread with epoll events. */
struct loop_watch {
	int fd;
	void (*cb)(struct loop_watch *w, uint32_t events);
};

/* A one-shot timer on the monotonic clock; embed it and arm it. Timers
 * live in a pairing heap threaded through the timers themselves: arming is
 * O(1) and never allocates, firing or disarming O(log n) amortized, so
 * 10,000 sessions' idle timers cost what a handful do. Timers due at the
 * same time fire in the order they were armed. */
struct loop_timer {
	uint64_t when_us;
	void (*cb)(struct loop_timer *t);
	/* internal: the heap (child: first child; next: next sibling; prev:
	 * previous sibling, or the parent of a first child) */
	uint64_t seq;
	struct loop_timer *child, *next, *prev;
	bool armed;
};

/* Work handed to the loop thread from any thread; embed it. */
struct loop_task {
	void (*fn)(struct loop_task *t);
	struct loop_task *next;
};

int loop_new(struct loop **out, rstatus *st);
void loop_free(struct loop *l);

int loop_watch_add(struct loop *l, struct loop_watch *w, uint32_t events, rstatus *st);
int loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_watch_del(struct loop *l, struct loop_watch *w);

/* Arm (or re-arm) `t` for absolute time `when_us` (loop_now_us clock). */
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t when_us);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);

/* Thread-safe: queue `t` to run on the loop thread. */
void loop_post(struct loop *l, struct loop_task *t);

/* Run until loop_stop (then it may be run again); returns 0 or a negative
 * errno from epoll. */
int loop_run(struct loop *l);
/* Loop thread only: make loop_run return after the current iteration. */
void loop_stop(struct loop *l);

/* Teardown, once loop_run returned and whatever posts (nng's aios) has been
 * stopped: run the tasks still queued, and those they post, until none is
 * left, so each owner finishes (and frees) what it started. Accepts NULL. */
void loop_flush(struct loop *l);

uint64_t loop_now_us(void);

#endif
