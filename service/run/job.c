#include "run/job.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/reaper.h"
#include "spawn_child.h"
#include "status_shim.h"

enum kill_phase { NOT_KILLING, TERM_SENT, KILL_SENT };

struct job {
	struct loop *loop;
	const struct job_ops *ops;
	void *arg;
	struct loop_task done_task;
	struct reaper_watch child;
	struct loop_timer timer;
	struct loop_watch in, out, err;
	int status_fd;               /* our end of the status channel; -1: none */
	const struct backend_launch *launch; /* outlives the job (backend.h) */
	struct ledger *ledger;
	bool want_stdin;
	bool out_paused, err_paused;
	uint64_t started_us, grace_ms, linger_ms;
	enum kill_phase phase;
	Runner__V1__Termination forced; /* TIMEOUT/KILLED once runnerd intervened */
	int requested_signal;            /* last signal a client had sent */
	bool spawned, reaped, finished;
	Runner__V1__RunResult result;
	char exec_error[sizeof(((rstatus *) 0)->message)];
};

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

int
job_signal(struct job *j, int sig)
{
	/* Only while the leader is unreaped does its pid (= our pgid) stay ours. */
	if (!j->spawned || j->reaped)
		return -ESRCH;
	return kill(-j->child.pid, sig) == 0 ? 0 : -errno;
}

int
job_signal_requested(struct job *j, int sig, rstatus *st)
{
	int rv;

	if ((rv = job_signal(j, sig)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "kill");
	j->requested_signal = sig;
	return 0;
}

bool
job_exited(const struct job *j)
{
	return j->reaped;
}

static void
run_done(struct loop_task *t)
{
	struct job *j = JOB_OF(t, done_task);

	j->ops->done(j, j->arg);
}

static void
fill_result(struct job *j, int wstatus, const struct rusage *ru)
{
	Runner__V1__RunResult *r = &j->result;

	r->wall_time_us = loop_now_us() - j->started_us;
	r->user_time_us = (uint64_t) ru->ru_utime.tv_sec * 1000000u + (uint64_t) ru->ru_utime.tv_usec;
	r->system_time_us = (uint64_t) ru->ru_stime.tv_sec * 1000000u + (uint64_t) ru->ru_stime.tv_usec;
	r->max_rss_kb = (uint64_t) ru->ru_maxrss;
	if (WIFEXITED(wstatus)) {
		r->exit_code = WEXITSTATUS(wstatus);
		r->reason = RUNNER__V1__TERMINATION__EXITED;
	} else if (WIFSIGNALED(wstatus)) {
		r->signal = WTERMSIG(wstatus);
		/* Death by the signal a client asked for is a kill on request. */
		r->reason = r->signal == j->requested_signal ? RUNNER__V1__TERMINATION__KILLED
							     : RUNNER__V1__TERMINATION__SIGNALED;
	}
	if (j->forced != RUNNER__V1__TERMINATION__TERMINATION_UNSPECIFIED)
		r->reason = j->forced;
}

/* Finish once the process is reaped and both outputs are over (or the
 * linger after exit ran out). */
static void
maybe_finish(struct job *j)
{
	if (j->finished || !j->reaped || j->out.fd >= 0 || j->err.fd >= 0)
		return;
	j->finished = true;
	loop_timer_disarm(j->loop, &j->timer);
	close_watch(j, &j->in);
	/* Deferred: the owner may free the job, and epoll may still hold
	 * events for its fds in the current batch. */
	loop_post(j->loop, &j->done_task);
}

static void
output_ready(struct job *j, struct loop_watch *w, enum job_stream s)
{
	if (w->fd < 0)
		return;
	if (j->ops->output(j, s, w->fd, j->arg) != 0) {
		close_watch(j, w);
		maybe_finish(j);
	}
}

static void
stdout_cb(struct loop_watch *w, uint32_t events)
{
	output_ready(JOB_OF(w, out), w, JOB_STDOUT);
}

static void
stderr_cb(struct loop_watch *w, uint32_t events)
{
	output_ready(JOB_OF(w, err), w, JOB_STDERR);
}

static void
stdin_cb(struct loop_watch *w, uint32_t events)
{
	struct job *j = JOB_OF(w, in);

	if (w->fd >= 0 && j->want_stdin)
		j->ops->stdin_writable(j, w->fd, j->arg);
}

/* A paused fd leaves epoll entirely: epoll reports hang-ups even for an
 * empty event mask, which would spin the loop while the owner has no room. */
static void
rewatch(struct job *j, struct loop_watch *w, bool on, uint32_t events)
{
	if (w->fd < 0)
		return;
	if (on)
		loop_watch_add(j->loop, w, events, NULL);
	else
		loop_watch_del(j->loop, w);
}

void
job_pause_output(struct job *j, enum job_stream s, bool paused)
{
	bool *flag = s == JOB_STDOUT ? &j->out_paused : &j->err_paused;

	if (*flag == paused)
		return;
	*flag = paused;
	rewatch(j, s == JOB_STDOUT ? &j->out : &j->err, !paused, EPOLLIN);
}

void
job_want_stdin(struct job *j, bool want)
{
	if (j->want_stdin == want)
		return;
	j->want_stdin = want;
	rewatch(j, &j->in, want, EPOLLOUT);
}

void
job_close_stdin(struct job *j)
{
	close_watch(j, &j->in);
}

bool
job_stdin_open(const struct job *j)
{
	return j->in.fd >= 0;
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
	job_signal(j, SIGKILL);
}

void
job_stop(struct job *j, Runner__V1__Termination reason)
{
	if (!j->spawned || j->reaped || j->phase != NOT_KILLING)
		return;
	j->forced = reason;
	j->phase = TERM_SENT;
	job_signal(j, SIGTERM);
	/* A stopped process ignores SIGTERM until continued. */
	job_signal(j, SIGCONT);
	loop_timer_arm(j->loop, &j->timer, loop_now_us() + j->grace_ms * 1000u);
}

static void
child_exiting(struct reaper_watch *w)
{
	/* The leader is done; whatever it left in its group goes with it, so
	 * no stray keeps our pipes open or outlives the job. */
	kill(-w->pid, SIGKILL);
}

/* The wrapper is gone, so the shim inside it has written its record (or
 * never got to run): it replaces the wrapper's own status. */
static void
read_status_channel(struct job *j, int *wstatus)
{
	char buf[64] = { 0 };
	bool is_exec;
	int value;

	if (j->status_fd < 0)
		return;
	(void) !read(j->status_fd, buf, sizeof(buf) - 1);
	close(j->status_fd);
	j->status_fd = -1;
	if (!status_record_parse(buf, &is_exec, &value))
		return;
	if (!is_exec) {
		*wstatus = value;
		return;
	}
	j->result.reason = RUNNER__V1__TERMINATION__EXEC_FAILED;
	j->result.exec_errno = value;
	snprintf(j->exec_error, sizeof(j->exec_error), "execve (inside the sandbox): %s", strerror(value));
	j->result.exec_error = j->exec_error;
}

/* The backend's own report on the command (backend_launch.exited), which
 * replaces the wrapper's wait status; what it says beyond a wait status is
 * applied once fill_result has run. */
static void
backend_exited(struct job *j, int *wstatus, struct backend_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->wstatus = *wstatus;
	if (j->launch == NULL || j->launch->exited == NULL)
		return;
	j->launch->exited(j->launch, out);
	*wstatus = out->wstatus;
	if (out->exec_failed) {
		j->result.reason = RUNNER__V1__TERMINATION__EXEC_FAILED;
		j->result.exec_errno = out->exec_errno;
		snprintf(j->exec_error, sizeof(j->exec_error), "%s", out->exec_error);
		j->result.exec_error = j->exec_error;
	}
}

static void
child_reaped(struct reaper_watch *w, int wstatus, const struct rusage *ru)
{
	struct job *j = JOB_OF(w, child);
	struct backend_outcome out;

	ledger_remove(j->ledger, w->pid);
	j->reaped = true;
	read_status_channel(j, &wstatus);
	if (j->result.reason != RUNNER__V1__TERMINATION__EXEC_FAILED)
		backend_exited(j, &wstatus, &out);
	else if (j->launch != NULL && j->launch->exited != NULL)
		j->launch->exited(j->launch, NULL); /* nothing to learn; clean up all the same */
	if (j->result.reason == RUNNER__V1__TERMINATION__EXEC_FAILED) {
		j->result.wall_time_us = loop_now_us() - j->started_us;
		loop_timer_arm(j->loop, &j->timer, loop_now_us() + j->linger_ms * 1000u);
		maybe_finish(j);
		return;
	}
	fill_result(j, wstatus, ru);
	if (out.have_usage) {
		j->result.user_time_us = out.user_us;
		j->result.system_time_us = out.system_us;
		j->result.max_rss_kb = out.max_rss_kb;
	}
	j->result.oom_killed = out.oom_killed;
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
		/* Never leave a process behind: it dies now; the reaper still
		 * collects it, but nobody looks at the result. */
		job_signal(j, SIGKILL);
		if (j->spawned && !j->reaped) {
			reaper_untrack(&j->child);
			ledger_remove(j->ledger, j->child.pid);
			if (j->launch != NULL && j->launch->exited != NULL)
				j->launch->exited(j->launch, NULL);
		}
	}
	loop_timer_disarm(j->loop, &j->timer);
	close_watch(j, &j->in);
	close_watch(j, &j->out);
	close_watch(j, &j->err);
	if (j->status_fd >= 0)
		close(j->status_fd);
	free(j);
}

Runner__V1__RunResult *
job_result(struct job *j)
{
	return &j->result;
}

static int
setup_pipes(struct job *j, bool stdin_pipe, int child_fds[3], rstatus *st)
{
	int p[2], rv;

	if (stdin_pipe) {
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

/* Nothing watches it: it is read once, after the wrapper is reaped. */
static int
setup_status_channel(struct job *j, int *child_end, rstatus *st)
{
	int p[2], rv;

	if ((rv = spawn_pipe(p, 0, st)) < 0)
		return rv;
	j->status_fd = p[0];
	*child_end = p[1];
	return 0;
}

static int
watch_pipes(struct job *j, rstatus *st)
{
	int rv;

	/* stdin is watched only on demand (job_want_stdin). */
	if ((rv = loop_watch_add(j->loop, &j->out, EPOLLIN, st)) < 0)
		return rv;
	return loop_watch_add(j->loop, &j->err, EPOLLIN, st);
}

/* The backend started the process ahead of time (backend_launch.adopt_pid):
 * take over its pipes, write its preamble, track it from now on. */
static int
adopt(struct job *j, const struct job_spec *spec, struct job **out, rstatus *st)
{
	const struct backend_launch *la = spec->launch;
	const char *p = la->preamble;
	size_t left = la->preamble_len;
	int rv;

	j->in.fd = la->adopt_fds[0];
	j->out.fd = la->adopt_fds[1];
	j->err.fd = la->adopt_fds[2];
	/* Ours now (backend.h): the launch's owner never closes them. */
	for (int i = 0; i < 3; i++)
		((struct backend_launch *) la)->adopt_fds[i] = -1;
	while (left > 0) {
		/* An empty pipe takes a small preamble whole. */
		ssize_t n = write(j->in.fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t) n;
	}
	j->started_us = loop_now_us();
	j->child.pid = la->adopt_pid;
	j->spawned = true;
	j->result.pid = j->child.pid;
	reaper_track(&j->child);
	ledger_add(j->ledger, j->child.pid);
	if (left > 0 || !spec->stdin_pipe)
		close_watch(j, &j->in);
	if (left > 0) {
		/* The command never got its request: it must not run. */
		job_signal(j, SIGKILL);
	}
	if ((rv = watch_pipes(j, st)) < 0) {
		*out = j;
		job_stop(j, RUNNER__V1__TERMINATION__KILLED);
		return 0;
	}
	*out = j;
	if (spec->timeout_ms > 0)
		loop_timer_arm(j->loop, &j->timer, j->started_us + spec->timeout_ms * 1000u);
	return 0;
}

int
job_start(struct loop *l, const struct job_spec *spec, const struct job_ops *ops, void *arg,
	  struct job **out, rstatus *st)
{
	int child_fds[4] = { -1, -1, -1, -1 };
	struct spawn_request sr;
	rstatus spawn_st;
	struct job *j;
	int rv, err;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__run_result__init(&j->result);
	j->loop = l;
	j->ops = ops;
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
	j->status_fd = -1;
	j->launch = spec->launch;
	j->ledger = spec->ledger;

	if (spec->launch->adopt_pid > 0)
		return adopt(j, spec, out, st);
	if ((rv = setup_pipes(j, spec->stdin_pipe, child_fds, st)) < 0 ||
	    (spec->launch->status_channel && (rv = setup_status_channel(j, &child_fds[3], st)) < 0) ||
	    (rv = watch_pipes(j, st)) < 0) {
		for (int i = 0; i < 4; i++)
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
		.status_fd = child_fds[3],
	};
	j->started_us = loop_now_us();
	if (spec->launch->exec_errno != 0) {
		/* The backend resolved the program and found it unusable
		 * (backend.h): the same outcome as a failed direct spawn. */
		err = spec->launch->exec_errno;
		rv = rstatus_fail(&spawn_st, RS_FAILED_PRECONDITION, "%s",
				  spec->launch->exec_error ? spec->launch->exec_error : "execve");
	} else
		rv = spawn_child(&sr, &j->child.pid, &err, &spawn_st);
	/* The child holds its ends now (or never will); ours must go so EOF
	 * arrives when the child's do. */
	for (int i = 0; i < 4; i++)
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
	j->spawned = true;
	j->result.pid = j->child.pid;
	reaper_track(&j->child);
	ledger_add(j->ledger, j->child.pid);
	if (spec->timeout_ms > 0)
		loop_timer_arm(l, &j->timer, j->started_us + spec->timeout_ms * 1000u);
	return 0;
}
