/* rctl_lanes.h — a few threads, each running one job at a time for its
 * caller: how runnerctl keeps several file chunks in flight (the client
 * library is safe to call from any number of threads). The caller hands
 * lane k a job, does other work, and waits for lane k's result before
 * giving it the next one: jobs of one lane run in order. */
#ifndef RCTL_LANES_H
#define RCTL_LANES_H

#include <pthread.h>
#include <stdbool.h>

#define RCTL_LANES_MAX 8

struct rctl_lanes;

struct rctl_lane {
	struct rctl_lanes *owner;
	pthread_t thread;
	bool started;
	bool queued, running;  /* under the lanes' mutex */
	int (*fn)(void *job);
	void *job;
	int rv;
};

struct rctl_lanes {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	bool quit;
	int n;
	struct rctl_lane lane[RCTL_LANES_MAX];
};

/* Start n lanes (1..RCTL_LANES_MAX); 0, or -1 when no thread could start. */
int rctl_lanes_start(struct rctl_lanes *l, int n);
/* Give lane k a job (it must be idle: waited for). */
void rctl_lanes_submit(struct rctl_lanes *l, int k, int (*fn)(void *job), void *job);
/* Wait for lane k's job; its return value (0 when it had none). */
int rctl_lanes_wait(struct rctl_lanes *l, int k);
/* Wait for every lane, stop the threads. */
void rctl_lanes_stop(struct rctl_lanes *l);

#endif
