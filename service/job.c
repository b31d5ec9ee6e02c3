#include "job.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "reaper.h"
#include "spawn_child.h"

enum kill_phase { NOT_KILLING, TERM_SENT, KILL_SENT };

struct job {
	struct loop *loop;
	job_done_fn done;
	void *arg;
	struct loop_task done_task;
	struct reaper_watch child;
	struct loop_timer timer;
	struct loop_watch in, out, err;
	uint8_t *stdin_data;
	size_t stdin_len, stdin_off;
	struct capture cout, cerr;
	uint64_t started_us, grace_ms, linger_ms;
	enum kill_phase phase;
	Runner__V1__Termination forced; /* TIMEOUT/KILLED once runnerd intervened */
	bool reaped, finished;
	Runner__V1__RunResult result;
	char exec_error[sizeof(((rstatus *) 0)->message)];
};

static unsigned running;

unsigned
job_running(void)
{
	return running;
}

#define JOB_OF(ptr, member) ((struct job *) ((char *) (ptr) - offsetof(struct job, member)))

static void
close_watch(struct job *j, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	loop_watch_del(j->loop, w);
	close(w->fd);
	w->fd = -1;
}

static void
signal_group(struct job *j, int sig)
{
	/* Only while the leader is unreaped does its pid (= our pgid) stay ours. */
	if (!j->reaped && j->child.pid > 0)
		kill(-j->child.pid, sig);
}

static void
run_done(struct loop_task *t)
{
	struct job *j = JOB_OF(t, done_task);

	j->done(j, j->arg);
}

static void
fill_result(struct job *j, int wstatus, const struct rusage *ru)
{
	Runner__V1__RunResult *r = &j->result;

	r->wall_time_us = loop_now_us() - j->started_us;
	if (ru != NULL) {
		r->user_time_us = (uint64_t) ru->ru_utime.tv_sec * 1000000u + (uint64_t) ru->ru_utime.tv_usec;
		r->system_time_us = (uint64_t) ru->ru_stime.tv_sec * 1000000u + (uint64_t) ru->ru_stime.tv_usec;
		r->max_rss_kb = (uint64_t) ru->ru_maxrss;
	}
	if (WIFEXITED(wstatus)) {
		r->exit_code = WEXITSTATUS(wstatus);
		r->reason = RUNNER__V1__TERMINATION__EXITED;
	} else if (WIFSIGNALED(wstatus)) {
		r->signal = WTERMSIG(wstatus);
		r->reason = RUNNER__V1__TERMINATION__SIGNALED;
	}
	if (j->forced != RUNNER__V1__TERMINATION__TERMINATION_UNSPECIFIED)
		r->reason = j->forced;
}

/* Finish once the process is reaped and both outputs reached EOF (or the
 * linger after exit ran out). */
static void
maybe_finish(struct job *j)
{
	Runner__V1__RunResult *r = &j->result;

	if (j->finished || !j->reaped || j->out.fd >= 0 || j->err.fd >= 0)
		return;
	j->finished = true;
	running--;
	loop_timer_disarm(j->loop, &j->timer);
	close_watch(j, &j->in);
	r->stdout.data = j->cout.data;
	r->stdout.len = j->cout.len;
	r->stderr.data = j->cerr.data;
	r->stderr.len = j->cerr.len;
	r->stdout_total = j->cout.total;
	r->stderr_total = j->cerr.total;
	r->stdout_truncated = j->cout.total > j->cout.len;
	r->stderr_truncated = j->cerr.total > j->cerr.len;
	/* Deferred: the caller may free the job, and epoll may still hold
	 * events for its fds in the current batch. */
	loop_post(j->loop, &j->done_task);
}

static void
pipe_readable(struct job *j, struct loop_watch *w, struct capture *c)
{
	int rv;

	if (w->fd < 0)
		return;
	if ((rv = capture_read(c, w->fd)) != 0) {
		/* EOF or a read error: either way this stream is over. */
		close_watch(j, w);
		maybe_finish(j);
	}
}

static void
stdout_cb(struct loop_watch *w, uint32_t events)
{
	struct job *j = JOB_OF(w, out);
	pipe_readable(j, w, &j->cout);
}

static void
stderr_cb(struct loop_watch *w, uint32_t events)
{
	struct job *j = JOB_OF(w, err);
	pipe_readable(j, w, &j->cerr);
}

static void
stdin_cb(struct loop_watch *w, uint32_t events)
{
	struct job *j = JOB_OF(w, in);

	while (w->fd >= 0 && j->stdin_off < j->stdin_len) {
		ssize_t n = write(w->fd, j->stdin_data + j->stdin_off, j->stdin_len - j->stdin_off);
		if (n > 0) {
			j->stdin_off += (size_t) n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			break; /* EPIPE: the child stopped reading; that's its business */
		}
	}
	close_watch(j, w);
	free(j->stdin_data);
	j->stdin_data = NULL;
}

static void
timer_cb(struct loop_timer *t)
{
	struct job *j = JOB_OF(t, timer);

	if (j->reaped) {
		/* Linger over: something outside the group (setsid'd away) still
		 * holds the pipes. Stop waiting for it. */
		close_watch(j, &j->out);
		close_watch(j, &j->err);
		maybe_finish(j);
		return;
	}
	if (j->phase == NOT_KILLING) {
		job_stop(j, RUNNER__V1__TERMINATION__TIMEOUT);
		return;
	}
	j->phase = KILL_SENT;
	signal_group(j, SIGKILL);
}

void
job_stop(struct job *j, Runner__V1__Termination reason)
{
	if (j->reaped || j->phase != NOT_KILLING)
		return;
	j->forced = reason;
	j->phase = TERM_SENT;
	signal_group(j, SIGTERM);
	/* A stopped process ignores SIGTERM until continued. */
	signal_group(j, SIGCONT);
	loop_timer_arm(j->loop, &j->timer, loop_now_us() + j->grace_ms * 1000u);
}

static void
child_exiting(struct reaper_watch *w)
{
	/* The leader is done; whatever it left in its group goes with it, so
	 * no stray keeps our pipes open or outlives the Run. */
	kill(-w->pid, SIGKILL);
}

static void
child_reaped(struct reaper_watch *w, int wstatus, const struct rusage *ru)
{
	struct job *j = JOB_OF(w, child);

	j->reaped = true;
	fill_result(j, wstatus, ru);
	loop_timer_arm(j->loop, &j->timer, loop_now_us() + j->linger_ms * 1000u);
	maybe_finish(j);
}

static void
exec_failed(struct job *j, int err, const rstatus *st)
{
	snprintf(j->exec_error, sizeof(j->exec_error), "%s", st->message);
	j->result.reason = RUNNER__V1__TERMINATION__EXEC_FAILED;
	j->result.exec_errno = err;
	j->result.exec_error = j->exec_error;
	j->reaped = true;
	close_watch(j, &j->out);
	close_watch(j, &j->err);
	maybe_finish(j);
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (!j->finished) {
		/* Never leave a process behind: make sure it dies; the reaper
		 * still collects it, but nobody will look at the result. */
		signal_group(j, SIGKILL);
		if (!j->reaped)
			reaper_untrack(&j->child);
		running--;
	}
	loop_timer_disarm(j->loop, &j->timer);
	close_watch(j, &j->in);
	close_watch(j, &j->out);
	close_watch(j, &j->err);
	capture_free(&j->cout);
	capture_free(&j->cerr);
	free(j->stdin_data);
	free(j);
}

const Runner__V1__RunResult *
job_result(const struct job *j)
{
	return &j->result;
}

static int
setup_pipes(struct job *j, int child_fds[3], rstatus *st)
{
	int p[2], rv;

	if (j->stdin_len > 0) {
		if ((rv = spawn_pipe(p, 1, st)) < 0)
			return rv;
		j->in.fd = p[1];
		child_fds[0] = p[0];
	}
	if ((rv = spawn_pipe(p, 0, st)) < 0)
		return rv;
	j->out.fd = p[0];
	child_fds[1] = p[1];
	if ((rv = spawn_pipe(p, 0, st)) < 0)
		return rv;
	j->err.fd = p[0];
	child_fds[2] = p[1];
	return 0;
}

static int
watch_pipes(struct job *j, rstatus *st)
{
	int rv;

	if (j->in.fd >= 0 && (rv = loop_watch_add(j->loop, &j->in, EPOLLOUT, st)) < 0)
		return rv;
	if ((rv = loop_watch_add(j->loop, &j->out, EPOLLIN, st)) < 0)
		return rv;
	return loop_watch_add(j->loop, &j->err, EPOLLIN, st);
}

int
job_start(struct loop *l, const struct job_spec *spec, job_done_fn done, void *arg,
	  struct job **out, rstatus *st)
{
	int child_fds[3] = { -1, -1, -1 };
	struct spawn_request sr;
	rstatus spawn_st;
	struct job *j;
	int rv, err;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__run_result__init(&j->result);
	j->loop = l;
	j->done = done;
	j->arg = arg;
	j->done_task.fn = run_done;
	j->timer.cb = timer_cb;
	j->in = (struct loop_watch){ .fd = -1, .cb = stdin_cb };
	j->out = (struct loop_watch){ .fd = -1, .cb = stdout_cb };
	j->err = (struct loop_watch){ .fd = -1, .cb = stderr_cb };
	j->child.exiting = child_exiting;
	j->child.reaped = child_reaped;
	j->grace_ms = spec->grace_ms;
	j->linger_ms = spec->linger_ms;
	capture_init(&j->cout, spec->stdout_limit);
	capture_init(&j->cerr, spec->stderr_limit);
	running++;
	j->finished = false;

	if (spec->stdin_len > 0) {
		if ((j->stdin_data = malloc(spec->stdin_len)) == NULL) {
			job_free(j);
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
		memcpy(j->stdin_data, spec->stdin_data, spec->stdin_len);
		j->stdin_len = spec->stdin_len;
	}
	j->reaped = true; /* nothing to signal or untrack until spawned */
	if ((rv = setup_pipes(j, child_fds, st)) < 0 || (rv = watch_pipes(j, st)) < 0) {
		for (int i = 0; i < 3; i++)
			if (child_fds[i] >= 0)
				close(child_fds[i]);
		job_free(j);
		return rv;
	}

	sr = (struct spawn_request){
		.argv = spec->launch->argv,
		.envp = spec->launch->envp,
		.cwd = spec->launch->cwd,
		.stdin_fd = child_fds[0],
		.stdout_fd = child_fds[1],
		.stderr_fd = child_fds[2],
	};
	j->started_us = loop_now_us();
	rv = spawn_child(&sr, &j->child.pid, &err, &spawn_st);
	/* The child holds its ends now (or never will); ours must go so EOF
	 * arrives when the child's do. */
	for (int i = 0; i < 3; i++)
		if (child_fds[i] >= 0)
			close(child_fds[i]);
	if (rv < 0 && err == 0) {
		*st = spawn_st;
		job_free(j);
		return rv;
	}
	*out = j;
	if (rv < 0) {
		exec_failed(j, err, &spawn_st);
		return 0;
	}
	j->reaped = false;
	j->result.pid = j->child.pid;
	reaper_track(&j->child);
	if (spec->timeout_ms > 0)
		loop_timer_arm(l, &j->timer, j->started_us + spec->timeout_ms * 1000u);
	return 0;
}
