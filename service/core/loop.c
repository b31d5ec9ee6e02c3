#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct loop {
	int epfd;
	struct loop_watch wake;
	bool stopping;
	/* The root of the timers' pairing heap: the next one due. */
	struct loop_timer *timers;
	uint64_t timer_seq;
	pthread_mutex_t mtx;
	struct loop_task *posted_head, *posted_tail;
	/* Posted by the loop's own thread: no wake-up needed, only a turn
	 * that does not block. */
	bool self_posted;
};

/* The loop this thread is running, if any (loop_run). */
static _Thread_local struct loop *running_here;

uint64_t
loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void
wake_cb(struct loop_watch *w, uint32_t events)
{
	uint64_t v;

	/* Draining the counter is all; the posted queue is run by loop_run. */
	(void) !read(w->fd, &v, sizeof(v));
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	if (l->wake.fd >= 0)
		close(l->wake.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

int
loop_new(struct loop **out, rstatus *st)
{
	struct loop *l;
	int rv;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	l->wake.fd = -1;
	pthread_mutex_init(&l->mtx, NULL);
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rv = rstatus_fail_errno(st, RS_INTERNAL, errno, "epoll_create1");
		loop_free(l);
		return rv;
	}
	if ((l->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rv = rstatus_fail_errno(st, RS_INTERNAL, errno, "eventfd");
		loop_free(l);
		return rv;
	}
	l->wake.cb = wake_cb;
	if ((rv = loop_watch_add(l, &l->wake, EPOLLIN, st)) < 0) {
		loop_free(l);
		return rv;
	}
	*out = l;
	return 0;
}

int
loop_watch_add(struct loop *l, struct loop_watch *w, uint32_t events, rstatus *st)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0)
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "epoll_ctl(ADD)");
	return 0;
}

int
loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0 ? 0 : -errno;
}

void
loop_watch_del(struct loop *l, struct loop_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static bool
timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->when_us < b->when_us || (a->when_us == b->when_us && a->seq < b->seq);
}

/* Meld two heaps (roots without siblings): the later root becomes the
 * first child of the earlier one. */
static struct loop_timer *
timer_meld(struct loop_timer *a, struct loop_timer *b)
{
	if (timer_before(b, a)) {
		struct loop_timer *t = a;
		a = b;
		b = t;
	}
	b->prev = a;
	b->next = a->child;
	if (a->child != NULL)
		a->child->prev = b;
	a->child = b;
	a->next = a->prev = NULL;
	return a;
}

/* The children of a removed node, melded into one heap: pairs left to
 * right, then the pairs right to left (the two-pass rule that gives the
 * pairing heap its amortized bounds). Iterative: no recursion depth. */
static struct loop_timer *
timer_merge_pairs(struct loop_timer *first)
{
	struct loop_timer *stack = NULL, *root = NULL;

	while (first != NULL) {
		struct loop_timer *a = first, *b = a->next;

		first = b != NULL ? b->next : NULL;
		a->next = a->prev = NULL;
		if (b != NULL) {
			b->next = b->prev = NULL;
			a = timer_meld(a, b);
		}
		a->next = stack;
		stack = a;
	}
	while (stack != NULL) {
		struct loop_timer *n = stack->next;
		stack->next = NULL;
		root = root != NULL ? timer_meld(stack, root) : stack;
		stack = n;
	}
	return root;
}

void
loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	struct loop_timer *sub;

	if (!t->armed)
		return;
	if (t == l->timers) {
		l->timers = timer_merge_pairs(t->child);
	} else {
		if (t->prev->child == t)
			t->prev->child = t->next;
		else
			t->prev->next = t->next;
		if (t->next != NULL)
			t->next->prev = t->prev;
		if ((sub = timer_merge_pairs(t->child)) != NULL)
			l->timers = timer_meld(l->timers, sub);
	}
	t->child = t->next = t->prev = NULL;
	t->armed = false;
}

void
loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t when_us)
{
	loop_timer_disarm(l, t);
	t->when_us = when_us;
	t->seq = ++l->timer_seq;
	t->child = t->next = t->prev = NULL;
	l->timers = l->timers != NULL ? timer_meld(l->timers, t) : t;
	t->armed = true;
}

void
loop_post(struct loop *l, struct loop_task *t)
{
	bool was_empty;
	uint64_t one = 1;

	t->next = NULL;
	pthread_mutex_lock(&l->mtx);
	was_empty = l->posted_head == NULL;
	if (l->posted_tail)
		l->posted_tail->next = t;
	else
		l->posted_head = t;
	l->posted_tail = t;
	pthread_mutex_unlock(&l->mtx);
	if (running_here == l) {
		l->self_posted = true;
		return;
	}
	/* One wake-up per batch: the loop takes the whole queue at once. */
	if (was_empty)
		(void) !write(l->wake.fd, &one, sizeof(one));
}

void
loop_stop(struct loop *l)
{
	l->stopping = true;
}

static void
run_posted(struct loop *l)
{
	struct loop_task *t;

	pthread_mutex_lock(&l->mtx);
	t = l->posted_head;
	l->posted_head = l->posted_tail = NULL;
	pthread_mutex_unlock(&l->mtx);
	while (t != NULL) {
		struct loop_task *next = t->next;
		t->fn(t);
		t = next;
	}
}

void
loop_flush(struct loop *l)
{
	bool more = l != NULL;

	while (more) {
		run_posted(l);
		pthread_mutex_lock(&l->mtx);
		more = l->posted_head != NULL;
		pthread_mutex_unlock(&l->mtx);
	}
}

static void
run_timers(struct loop *l)
{
	uint64_t now = loop_now_us();

	while (l->timers != NULL && l->timers->when_us <= now) {
		struct loop_timer *t = l->timers;
		loop_timer_disarm(l, t);
		t->cb(t);
	}
}

static int
next_timeout_ms(struct loop *l)
{
	uint64_t now;

	if (l->timers == NULL)
		return -1;
	now = loop_now_us();
	if (l->timers->when_us <= now)
		return 0;
	/* Round up so a timer never fires a millisecond early and spins. */
	return (int) ((l->timers->when_us - now + 999) / 1000);
}

int
loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	running_here = l;
	while (!l->stopping) {
		int n = epoll_wait(l->epfd, evs, 64, l->self_posted ? 0 : next_timeout_ms(l));

		l->self_posted = false;
		if (n < 0 && errno != EINTR) {
			running_here = NULL;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;
			w->cb(w, evs[i].events);
		}
		run_posted(l);
		run_timers(l);
	}
	/* Stopped once: a later loop_run runs again (tests drive one loop
	 * through several steps). */
	l->stopping = false;
	running_here = NULL;
	/* What the loop posted itself, and never ran, needs the wake-up it
	 * skipped. */
	if (l->self_posted) {
		uint64_t one = 1;
		l->self_posted = false;
		(void) !write(l->wake.fd, &one, sizeof(one));
	}
	return 0;
}
