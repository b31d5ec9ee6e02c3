/* Lanes of jobs on threads: see rctl_lanes.h. */
#include "rctl_lanes.h"

#include <signal.h>
#include <string.h>

static void *
lane_main(void *arg)
{
	struct rctl_lane *me = arg;
	struct rctl_lanes *l = me->owner;

	pthread_mutex_lock(&l->mtx);
	for (;;) {
		while (!me->queued && !l->quit)
			pthread_cond_wait(&l->cond, &l->mtx);
		if (!me->queued)
			break;
		me->queued = false;
		me->running = true;
		pthread_mutex_unlock(&l->mtx);
		int rv = me->fn(me->job);
		pthread_mutex_lock(&l->mtx);
		me->rv = rv;
		me->running = false;
		pthread_cond_broadcast(&l->cond);
	}
	pthread_mutex_unlock(&l->mtx);
	return NULL;
}

int
rctl_lanes_start(struct rctl_lanes *l, int n)
{
	sigset_t all, old;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mtx, NULL);
	pthread_cond_init(&l->cond, NULL);
	/* Signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int k = 0; k < n && k < RCTL_LANES_MAX; k++) {
		l->lane[k].owner = l;
		if (pthread_create(&l->lane[k].thread, NULL, lane_main, &l->lane[k]) != 0)
			break;
		l->lane[k].started = true;
		l->n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (l->n == 0) {
		pthread_mutex_destroy(&l->mtx);
		pthread_cond_destroy(&l->cond);
		return -1;
	}
	return 0;
}

void
rctl_lanes_submit(struct rctl_lanes *l, int k, int (*fn)(void *job), void *job)
{
	pthread_mutex_lock(&l->mtx);
	l->lane[k].fn = fn;
	l->lane[k].job = job;
	l->lane[k].rv = 0;
	l->lane[k].queued = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mtx);
}

int
rctl_lanes_wait(struct rctl_lanes *l, int k)
{
	int rv;

	pthread_mutex_lock(&l->mtx);
	while (l->lane[k].queued || l->lane[k].running)
		pthread_cond_wait(&l->cond, &l->mtx);
	rv = l->lane[k].rv;
	l->lane[k].rv = 0;
	pthread_mutex_unlock(&l->mtx);
	return rv;
}

void
rctl_lanes_stop(struct rctl_lanes *l)
{
	for (int k = 0; k < l->n; k++)
		rctl_lanes_wait(l, k);
	pthread_mutex_lock(&l->mtx);
	l->quit = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mtx);
	for (int k = 0; k < RCTL_LANES_MAX; k++)
		if (l->lane[k].started)
			pthread_join(l->lane[k].thread, NULL);
	pthread_mutex_destroy(&l->mtx);
	pthread_cond_destroy(&l->cond);
}
