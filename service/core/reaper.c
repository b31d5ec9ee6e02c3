#include "core/reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "core/loop.h"
#include "spawn_sync.h"

#define BUCKETS 1024

static struct reaper_watch *table[BUCKETS];
static unsigned tracked;
static struct loop_task again;
static atomic_bool again_posted;

static struct reaper_watch **
slot(pid_t pid)
{
	struct reaper_watch **pp = &table[(unsigned) pid % BUCKETS];

	while (*pp != NULL && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

void
reaper_track(struct reaper_watch *w)
{
	struct reaper_watch **head = &table[(unsigned) w->pid % BUCKETS];

	w->next = *head;
	*head = w;
	tracked++;
}

void
reaper_untrack(struct reaper_watch *w)
{
	struct reaper_watch **pp = slot(w->pid);

	if (*pp == w) {
		*pp = w->next;
		tracked--;
	}
}

unsigned
reaper_tracked(void)
{
	return tracked;
}

void
reaper_collect(void)
{
	for (;;) {
		siginfo_t si = { 0 };
		struct reaper_watch **pp, *w;
		struct rusage ru;
		int status;
		pid_t rv;

		/* Peek first (WNOWAIT): the tracked owner must act before the pid
		 * is released. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
			return;
		pp = slot(si.si_pid);
		/* Not ours to reap: its waiter will, and then calls
		 * collect_again. */
		if ((w = *pp) == NULL && spawn_sync_owns(si.si_pid))
			return;
		if (w != NULL && w->exiting != NULL)
			w->exiting(w);
		/* WNOHANG: should the zombie have gone meanwhile (its pid
		 * reused by a live child), never block the loop. */
		while ((rv = wait4(si.si_pid, &status, WNOHANG, &ru)) < 0 && errno == EINTR)
			;
		if (rv <= 0)
			continue;
		if (w != NULL) {
			*pp = w->next;
			tracked--;
			w->reaped(w, status, &ru);
		}
	}
}

static void
collect_again(struct loop_task *t)
{
	atomic_store(&again_posted, false);
	reaper_collect();
}

/* spawn_sync's hook, on the thread of a synchronous run. */
static void
post_collect(void *arg)
{
	if (!atomic_exchange(&again_posted, true))
		loop_post(arg, &again);
}

void
reaper_attach(struct loop *loop)
{
	again.fn = collect_again;
	atomic_store(&again_posted, false);
	spawn_sync_set_reaped_hook(loop != NULL ? post_collect : NULL, loop);
}
