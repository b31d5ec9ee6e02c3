#include "core/probes.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/loop.h"
#include "spawn_sync.h"

#define MAX_BACKENDS 8

struct entry {
	const struct backend_ops *be;
	/* The verdict requests read: the loop's (any thread's before
	 * probes_start). */
	bool known;
	rstatus verdict;
	uint64_t at_ms;  /* when it was probed */
	bool asked;      /* a re-probe was asked for and has not answered */
	/* Under mtx: a new verdict on its way to the loop. */
	struct loop_task task;
	bool posted;
	rstatus incoming;
	uint64_t incoming_at_ms;
	bool wanted; /* the loop asks for a re-probe of a stale failure */
	/* The entry's thread and its view of the last verdict it made. */
	pthread_cond_t cond;
	pthread_t thread;
	bool has_thread;
	bool ok;
	uint64_t probed_ms;
};

static struct entry entries[MAX_BACKENDS];
static size_t n_entries;
static struct loop *loop;
static probes_changed_fn on_change;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static bool running, stopping;

static uint64_t
now_ms(void)
{
	return loop_now_us() / 1000u;
}

static struct entry *
find(const struct backend_ops *be)
{
	for (size_t i = 0; i < n_entries; i++)
		if (entries[i].be == be)
			return &entries[i];
	return NULL;
}

/* Probe without any lock held (it may block). */
static void
probe(const struct backend_ops *be, rstatus *verdict)
{
	rstatus_clear(verdict);
	if (be->probe == NULL || be->probe(verdict) == 0)
		rstatus_clear(verdict);
	else if (verdict->code == RS_OK)
		rstatus_fail(verdict, RS_INTERNAL, "backend %s: probe failed without a reason", be->name);
}

void
probes_init(void)
{
	size_t n;
	const struct backend_ops *const *all = backend_all(&n);

	n_entries = n < MAX_BACKENDS ? n : MAX_BACKENDS;
	for (size_t i = 0; i < n_entries; i++) {
		struct entry *e = &entries[i];
		e->be = all[i];
		probe(e->be, &e->verdict);
		e->at_ms = e->probed_ms = now_ms();
		e->ok = e->verdict.code == RS_OK;
		e->incoming = e->verdict;
		e->known = true;
	}
}

/* On the loop: a verdict from the thread. */
static void
deliver(struct loop_task *t)
{
	struct entry *e = (struct entry *) ((char *) t - offsetof(struct entry, task));
	bool was_ok = e->verdict.code == RS_OK;

	pthread_mutex_lock(&mtx);
	e->verdict = e->incoming;
	e->at_ms = e->incoming_at_ms;
	e->posted = false;
	pthread_mutex_unlock(&mtx);
	e->asked = false;
	if (on_change != NULL && was_ok != (e->verdict.code == RS_OK))
		on_change(e->be, &e->verdict);
}

/* With mtx held: whether e is due for a probe now; if not, in *wake_ms
 * when it will be by itself (0: only when asked). */
static bool
due(struct entry *e, uint64_t now, uint64_t *wake_ms)
{
	*wake_ms = 0;
	if (!e->ok)
		return e->wanted;
	if (e->be->probe_ok_ms == 0)
		return false;
	*wake_ms = e->probed_ms + e->be->probe_ok_ms;
	return now >= *wake_ms;
}

static void
wait_until(struct entry *e, uint64_t now, uint64_t wake_ms)
{
	struct timespec ts;

	if (wake_ms == 0) {
		pthread_cond_wait(&e->cond, &mtx);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t) ((wake_ms - now) / 1000u);
	ts.tv_nsec += (long) ((wake_ms - now) % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&e->cond, &mtx, &ts);
}

/* One thread per backend: a probe that hangs (firejail's, up to 2 x 20 s)
 * keeps no other backend's verdict from being refreshed. */
static void *
probe_thread(void *arg)
{
	struct entry *e = arg;

	pthread_mutex_lock(&mtx);
	while (!stopping) {
		uint64_t wake_ms, now = now_ms();
		rstatus verdict;
		bool news;

		if (!due(e, now, &wake_ms)) {
			wait_until(e, now, wake_ms);
			continue;
		}
		e->wanted = false;
		pthread_mutex_unlock(&mtx);
		probe(e->be, &verdict);
		pthread_mutex_lock(&mtx);
		/* A success that stays one is no news to the loop; a failure
		 * is (its age decides when it is probed again). */
		news = !(e->ok && verdict.code == RS_OK);
		e->ok = verdict.code == RS_OK;
		e->probed_ms = now_ms();
		e->incoming = verdict;
		e->incoming_at_ms = e->probed_ms;
		if (news && !e->posted && !stopping) {
			e->posted = true;
			loop_post(loop, &e->task);
		}
	}
	pthread_mutex_unlock(&mtx);
	return NULL;
}

int
probes_start(struct loop *l, probes_changed_fn changed, rstatus *st)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rv = 0;

	loop = l;
	on_change = changed;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	/* Signals are the loop's (a signalfd): a SIGCHLD delivered to a
	 * probe thread would be lost to the reaper. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	running = true;
	for (size_t i = 0; i < n_entries && rv == 0; i++) {
		struct entry *e = &entries[i];
		e->task.fn = deliver;
		pthread_cond_init(&e->cond, &ca);
		/* A verdict that holds for good needs no thread. */
		if (e->be->probe_ok_ms == 0 && e->be->probe_failed_ms == 0)
			continue;
		if ((rv = pthread_create(&e->thread, NULL, probe_thread, e)) == 0)
			e->has_thread = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_condattr_destroy(&ca);
	if (rv != 0) {
		probes_stop();
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, rv, "probe thread");
	}
	return 0;
}

void
probes_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mtx);
	stopping = true;
	for (size_t i = 0; i < n_entries; i++)
		pthread_cond_signal(&entries[i].cond);
	pthread_mutex_unlock(&mtx);
	spawn_sync_stop_all();
	for (size_t i = 0; i < n_entries; i++)
		if (entries[i].has_thread) {
			pthread_join(entries[i].thread, NULL);
			entries[i].has_thread = false;
		}
	running = false;
}

int
probes_state(const struct backend_ops *be, rstatus *st)
{
	struct entry *e = find(be);
	unsigned ttl;

	if (e == NULL || !e->known)
		return rstatus_fail(st, RS_UNAVAILABLE, "backend %s: not probed yet", be->name);
	if (e->verdict.code == RS_OK)
		return 0;
	*st = e->verdict;
	/* A stale failure: probed again in the background, answered now. */
	ttl = be->probe_failed_ms;
	if (running && !e->asked && ttl > 0 && now_ms() >= e->at_ms + ttl) {
		e->asked = true;
		pthread_mutex_lock(&mtx);
		e->wanted = true;
		pthread_cond_signal(&e->cond);
		pthread_mutex_unlock(&mtx);
	}
	return -e->verdict.code;
}
