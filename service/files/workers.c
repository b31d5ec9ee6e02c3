/* The file workers' pool: see workers.h. */
#include "files/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "files/creds.h"

struct workers {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct work *head, *tail;
	unsigned pending; /* queued + running */
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
};

static void *
worker_main(void *arg)
{
	struct workers *ws = arg;
	rstatus st;

	if (creds_thread_init(&st) < 0)
		abort(); /* without its groups recorded it could not restore them */
	pthread_mutex_lock(&ws->mtx);
	for (;;) {
		struct work *w;

		while (ws->head == NULL && !ws->stopping)
			pthread_cond_wait(&ws->cond, &ws->mtx);
		if (ws->stopping)
			break;
		w = ws->head;
		if ((ws->head = w->next) == NULL)
			ws->tail = NULL;
		pthread_mutex_unlock(&ws->mtx);
		w->run(w);
		pthread_mutex_lock(&ws->mtx);
		ws->pending--;
	}
	pthread_mutex_unlock(&ws->mtx);
	return NULL;
}

int
workers_start(struct workers **out, unsigned n, rstatus *st)
{
	struct workers *ws;
	int rv;

	*out = NULL;
	if ((ws = calloc(1, sizeof(*ws))) == NULL || (ws->threads = calloc(n, sizeof(pthread_t))) == NULL) {
		free(ws);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	pthread_mutex_init(&ws->mtx, NULL);
	pthread_cond_init(&ws->cond, NULL);
	for (unsigned i = 0; i < n; i++) {
		if ((rv = pthread_create(&ws->threads[i], NULL, worker_main, ws)) != 0) {
			workers_stop(ws);
			return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, rv, "file worker thread");
		}
		ws->n_threads++;
	}
	*out = ws;
	return 0;
}

void
workers_submit(struct workers *ws, struct work *w)
{
	w->next = NULL;
	pthread_mutex_lock(&ws->mtx);
	if (ws->tail)
		ws->tail->next = w;
	else
		ws->head = w;
	ws->tail = w;
	ws->pending++;
	pthread_cond_signal(&ws->cond);
	pthread_mutex_unlock(&ws->mtx);
}

unsigned
workers_pending(struct workers *ws)
{
	unsigned n;

	pthread_mutex_lock(&ws->mtx);
	n = ws->pending;
	pthread_mutex_unlock(&ws->mtx);
	return n;
}

struct work *
workers_stop(struct workers *ws)
{
	struct work *left;

	if (ws == NULL)
		return NULL;
	pthread_mutex_lock(&ws->mtx);
	ws->stopping = true;
	left = ws->head;
	ws->head = ws->tail = NULL;
	pthread_cond_broadcast(&ws->cond);
	pthread_mutex_unlock(&ws->mtx);
	for (unsigned i = 0; i < ws->n_threads; i++)
		pthread_join(ws->threads[i], NULL);
	pthread_mutex_destroy(&ws->mtx);
	pthread_cond_destroy(&ws->cond);
	free(ws->threads);
	free(ws);
	return left;
}
