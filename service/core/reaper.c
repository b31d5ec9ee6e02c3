#include "core/reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#define BUCKETS 1024

static struct reaper_watch *table[BUCKETS];
static unsigned tracked;

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

		/* Peek first (WNOWAIT): the tracked owner must act before the pid
		 * is released. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
			return;
		pp = slot(si.si_pid);
		if ((w = *pp) != NULL && w->exiting != NULL)
			w->exiting(w);
		while (wait4(si.si_pid, &status, 0, &ru) < 0 && errno == EINTR)
			;
		if (w != NULL) {
			*pp = w->next;
			tracked--;
			w->reaped(w, status, &ru);
		}
	}
}
