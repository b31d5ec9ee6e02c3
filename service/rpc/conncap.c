#include "rpc/conncap.h"

#include <pthread.h>
#include <stdlib.h>

#define BUCKETS 256

struct conn {
	uint32_t id;
	size_t listener;      /* its index */
	int work;             /* requests or readers in progress */
	uint64_t active_us;   /* last activity */
	struct conn *hnext;   /* same bucket */
	struct conn *prev, *next; /* its listener's, least recently active first */
};

struct listener {
	uint32_t id;          /* the nng listener; 0: none */
	unsigned n;
	struct conn *quietest, *busiest;
};

struct conncap {
	pthread_mutex_t mtx;
	unsigned max;
	unsigned count;
	size_t n_listeners;
	struct listener *listeners;
	struct conn *buckets[BUCKETS];
};

struct conncap *
conncap_new(size_t n_listeners, unsigned max)
{
	struct conncap *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->listeners = calloc(n_listeners ? n_listeners : 1, sizeof(*t->listeners))) == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mtx, NULL);
	t->max = max;
	t->n_listeners = n_listeners;
	return t;
}

void
conncap_free(struct conncap *t)
{
	if (t == NULL)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		while (t->buckets[b] != NULL) {
			struct conn *c = t->buckets[b];
			t->buckets[b] = c->hnext;
			free(c);
		}
	}
	pthread_mutex_destroy(&t->mtx);
	free(t->listeners);
	free(t);
}

void
conncap_set_listener(struct conncap *t, size_t i, uint32_t listener_id)
{
	pthread_mutex_lock(&t->mtx);
	t->listeners[i].id = listener_id;
	pthread_mutex_unlock(&t->mtx);
}

/* --- mtx held ---------------------------------------------------------------- */

static struct conn **
slot_of(struct conncap *t, uint32_t id)
{
	struct conn **pp = &t->buckets[id % BUCKETS];

	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->hnext;
	return pp;
}

static void
unlist(struct listener *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->quietest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->busiest = c->prev;
	c->prev = c->next = NULL;
}

/* Most recently active: the end of its listener's list. */
static void
list_last(struct listener *l, struct conn *c)
{
	c->prev = l->busiest;
	if (l->busiest)
		l->busiest->next = c;
	else
		l->quietest = c;
	l->busiest = c;
}

static void
remove_at(struct conncap *t, struct conn **slot)
{
	struct conn *c = *slot;

	*slot = c->hnext;
	unlist(&t->listeners[c->listener], c);
	t->listeners[c->listener].n--;
	t->count--;
	free(c);
}

/* The connection to close for a newcomer: quiet the longest, no work in
 * progress; 0 when there is none. */
static uint32_t
victim_of(struct listener *l, uint64_t now)
{
	for (struct conn *c = l->quietest; c != NULL && c->active_us + CONNCAP_QUIET_US <= now; c = c->next)
		if (c->work == 0)
			return c->id;
	return 0;
}

/* --- the calls ----------------------------------------------------------------- */

int
conncap_admit(struct conncap *t, uint32_t listener_id, uint32_t id, uint64_t now_us, uint32_t *victim)
{
	struct listener *l = NULL;
	struct conn *c;
	size_t i;
	int rv = 0;

	*victim = 0;
	pthread_mutex_lock(&t->mtx);
	for (i = 0; i < t->n_listeners && l == NULL; i++)
		if (t->listeners[i].id != 0 && t->listeners[i].id == listener_id)
			l = &t->listeners[i];
	if (l == NULL)
		goto out;
	if (t->max > 0 && l->n >= t->max && (*victim = victim_of(l, now_us)) != 0)
		remove_at(t, slot_of(t, *victim));
	if ((t->max > 0 && l->n >= t->max) || (c = calloc(1, sizeof(*c))) == NULL) {
		rv = -1; /* no room, or no memory to count it: no room either */
		goto out;
	}
	c->id = id;
	c->listener = (size_t) (l - t->listeners);
	c->active_us = now_us;
	c->hnext = t->buckets[id % BUCKETS];
	t->buckets[id % BUCKETS] = c;
	list_last(l, c);
	l->n++;
	t->count++;
out:
	pthread_mutex_unlock(&t->mtx);
	return rv;
}

void
conncap_forget(struct conncap *t, uint32_t id)
{
	struct conn **slot;

	pthread_mutex_lock(&t->mtx);
	if (*(slot = slot_of(t, id)) != NULL)
		remove_at(t, slot);
	pthread_mutex_unlock(&t->mtx);
}

void
conncap_activity(struct conncap *t, uint32_t id, int work, uint64_t now_us)
{
	struct conn *c;

	pthread_mutex_lock(&t->mtx);
	if ((c = *slot_of(t, id)) != NULL) {
		struct listener *l = &t->listeners[c->listener];
		c->work = c->work + work < 0 ? 0 : c->work + work;
		c->active_us = now_us;
		unlist(l, c);
		list_last(l, c);
	}
	pthread_mutex_unlock(&t->mtx);
}

unsigned
conncap_count_at(struct conncap *t, size_t i)
{
	unsigned n;

	pthread_mutex_lock(&t->mtx);
	n = i < t->n_listeners ? t->listeners[i].n : 0;
	pthread_mutex_unlock(&t->mtx);
	return n;
}

unsigned
conncap_count(struct conncap *t)
{
	unsigned n;

	pthread_mutex_lock(&t->mtx);
	n = t->count;
	pthread_mutex_unlock(&t->mtx);
	return n;
}
