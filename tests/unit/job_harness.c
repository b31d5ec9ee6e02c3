/* job_harness.c — see job_harness.h. */
#include "job_harness.h"

#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/reaper.h"
#include "run/spawner.h"

static void
sig_cb(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
		reaper_collect();
}

void
jh_init(struct job_harness *h)
{
	sigset_t set;

	memset(h, 0, sizeof(*h));
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	h->sig.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	h->sig.cb = sig_cb;
}

void
jh_loop_open(struct job_harness *h)
{
	rstatus st;

	ck_assert_int_eq(loop_new(&h->loop, &st), 0);
	ck_assert_int_eq(loop_watch_add(h->loop, &h->sig, EPOLLIN, &st), 0);
	reaper_attach(h->loop);
	ck_assert_msg(spawners_start(&h->spawners, h->loop, 1, RUNNERD_SPAWNER_PATH, NULL, &st) == 0, "%s", st.message);
}

void
jh_loop_close(struct job_harness *h)
{
	spawners_free(h->spawners);
	h->spawners = NULL;
	loop_free(h->loop);
	h->loop = NULL;
}

static void
on_done(struct job *j, void *arg)
{
	struct job_harness *h = arg;
	collect_fill(&h->io, job_result(j));
	h->done = true;
	loop_stop(h->loop);
}

static int
on_output(struct job *j, enum job_stream s, int fd, void *arg)
{
	struct job_harness *h = arg;
	int rv = collect_output(&h->io, s, fd);

	if (h->stop_on_output && !h->stopped && h->io.out.total > 0) {
		h->stopped = true;
		job_stop(j, RUNNER__V1__TERMINATION__KILLED);
	}
	return rv;
}

static void
on_stdin(struct job *j, int fd, void *arg)
{
	collect_stdin(&((struct job_harness *) arg)->io, j, fd);
}

const struct job_ops jh_ops = { .output = on_output, .stdin_writable = on_stdin, .done = on_done };

int
jh_run(struct job_harness *h, const struct job_spec *spec0, struct job **jp, rstatus *st)
{
	struct job_spec spec = *spec0;

	if (spec.spawners == NULL)
		spec.spawners = h->spawners;
	spec0 = &spec;
	if (job_start(h->loop, spec0, &jh_ops, h, jp, st) < 0)
		return -1;
	if (spec0->stdin_pipe)
		job_want_stdin(*jp, true);
	ck_assert_int_eq(loop_run(h->loop), 0);
	ck_assert(h->done);
	h->done = false;
	return 0;
}

void
jh_close(struct job_harness *h)
{
	collect_free(&h->io);
	memset(&h->io, 0, sizeof(h->io));
	loop_free(h->loop);
	h->loop = NULL;
}
