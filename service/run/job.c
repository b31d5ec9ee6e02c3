#include "run/job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ledger.h"
#include "core/reaper.h"
#include "job_cgroup.h"
#include "metrics/metrics.h"
#include "pty.h"
#include "run/spawner.h"
#include "spawn_child.h"
#include "status_shim.h"

enum kill_phase { NOT_KILLING, TERM_SENT, KILL_SENT };

struct job {
	struct loop *loop;
	const struct job_ops *ops;
	void *arg;
	struct loop_task done_task, started_task;
	struct spawn_watch spawn;    /* a process the spawner made for us */
	struct reaper_watch adopted; /* or one the backend started (adopt_pid) */
	pid_t pid;
	struct loop_timer timer;
	struct loop_watch in, out, err;
	int status_fd;               /* our end of the status channel; -1: none */
	int tty_master;              /* the terminal we made (out.fd, not owned); -1: none */
	bool tty;                    /* on a terminal, whoever made it */
	const struct backend_launch *launch; /* outlives the job (backend.h) */
	const char *backend;         /* its name, for metrics; outlives the job */
	bool counted;                /* counted as started: its end is counted too */
	struct ledger *ledger;
	bool want_stdin;
	bool out_paused, err_paused;
	bool out_grown, err_grown;
	uint64_t started_us, grace_ms, linger_ms;
	enum kill_phase phase;
	Runner__V1__Termination forced; /* TIMEOUT/KILLED once runnerd intervened */
	int requested_signal;            /* last signal a client had sent */
	bool spawning;               /* asked the spawner, no answer yet */
	bool spawned, reaped, finished;
	bool stop_pending;           /* job_stop while spawning */
	bool stdin_taking;           /* asked the spawner for the parked stdin end */
	bool stdin_closing;          /* ...and closed it meanwhile: close it on arrival */
	Runner__V1__RunResult result;
	char exec_error[sizeof(((rstatus *) 0)->message)];
	char *path;                  /* what the spawner executes, until it answered */
	const char *cgroups[SPAWNER_MAX_CGROUPS]; /* the cgroup.procs it joins */
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
	if (w == &j->out)
		j->tty_master = -1;
}

int
job_signal(struct job *j, int sig)
{
	if (j->reaped || (!j->spawned && !j->spawning))
		return -ESRCH;
	/* The spawner signals the group only while it has not reaped its
	 * leader, whose pid (= the pgid) stays ours until then; requests
	 * reach it in order, so one sent while spawning finds the child. */
	if (j->adopted.pid == 0)
		return spawn_watch_signal(&j->spawn, sig);
	return kill(-j->adopted.pid, sig) == 0 ? 0 : -errno;
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

int
job_resize(struct job *j, unsigned rows, unsigned cols, rstatus *st)
{
	int rv;

	if (!j->tty)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "the process has no terminal");
	if (rows == 0 || cols == 0 || rows > PTY_MAX_CELLS || cols > PTY_MAX_CELLS)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "a terminal is 1x1 to %ux%u cells, not %ux%u",
				    PTY_MAX_CELLS, PTY_MAX_CELLS, rows, cols);
	if (j->reaped || (!j->spawned && !j->spawning))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "the process has exited");
	if (j->launch->tty != LAUNCH_TTY_INSIDE) {
		if (j->tty_master < 0)
			return rstatus_fail(st, RS_FAILED_PRECONDITION, "the terminal is closed");
		if ((rv = pty_set_size(j->tty_master, rows, cols)) < 0)
			return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "TIOCSWINSZ");
		/* The command's own terminal: the kernel told its foreground group. */
		if (j->launch->tty == LAUNCH_TTY_HERE)
			return 0;
	} else if ((rv = j->launch->resize(j->launch, rows, cols, st)) < 0) {
		return rv;
	}
	/* The wrapper's terminal: it applies the size on SIGWINCH, taking it
	 * from ours (LAUNCH_TTY_WRAPPED) or from the backend (_INSIDE). */
	if ((rv = job_signal(j, SIGWINCH)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "kill");
	return 0;
}

static void
run_done(struct loop_task *t)
{
	struct job *j = JOB_OF(t, done_task);

	j->ops->done(j, j->arg);
}

static void
run_started(struct loop_task *t)
{
	struct job *j = JOB_OF(t, started_task);

	j->ops->started(j, j->arg);
}

static void
fill_result(struct job *j, int wstatus, uint64_t user_us, uint64_t system_us, uint64_t max_rss_kb)
{
	Runner__V1__RunResult *r = &j->result;

	r->wall_time_us = loop_now_us() - j->started_us;
	r->user_time_us = user_us;
	r->system_time_us = system_us;
	r->max_rss_kb = max_rss_kb;
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

/* An output the spawner still holds (parked: nothing to read yet). */
static bool
output_parked(const struct job *j)
{
	return spawn_watch_parked(&j->spawn, 1) || spawn_watch_parked(&j->spawn, 2);
}

/* Finish once the process is reaped and both outputs are over (or the
 * linger after exit ran out). */
static void
maybe_finish(struct job *j)
{
	if (j->finished || !j->reaped || j->out.fd >= 0 || j->err.fd >= 0 || output_parked(j))
		return;
	j->finished = true;
	if (j->counted)
		metrics_process_ended(j->backend, j->result.reason, j->result.oom_killed);
	loop_timer_disarm(j->loop, &j->timer);
	job_close_stdin(j);
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
job_grow_pipe(struct job *j, enum job_stream s)
{
	bool *grown = s == JOB_STDOUT ? &j->out_grown : &j->err_grown;
	int fd = s == JOB_STDOUT ? j->out.fd : j->err.fd;

	if (*grown || fd < 0 || fd == j->tty_master)
		return;
	*grown = true;
	(void) fcntl(fd, F_SETPIPE_SZ, (int) JOB_PIPE_GROWN);
}

void
job_want_stdin(struct job *j, bool want)
{
	if (j->want_stdin == want)
		return;
	j->want_stdin = want;
	/* A parked stdin is fetched on first use; it is watched once here. */
	if (want && j->in.fd < 0 && !j->stdin_taking && spawn_watch_take(&j->spawn, 0) == 0)
		j->stdin_taking = true;
	rewatch(j, &j->in, want, EPOLLOUT);
}

void
job_close_stdin(struct job *j)
{
	close_watch(j, &j->in);
	if (j->stdin_taking)
		j->stdin_closing = true;
	else
		spawn_watch_drop(&j->spawn, 0);
}

bool
job_stdin_open(const struct job *j)
{
	return j->in.fd >= 0 || (spawn_watch_parked(&j->spawn, 0) && !j->stdin_closing);
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
		spawn_watch_drop(&j->spawn, 1);
		spawn_watch_drop(&j->spawn, 2);
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
	if ((!j->spawned && !j->spawning) || j->reaped || j->phase != NOT_KILLING)
		return;
	j->forced = reason;
	j->phase = TERM_SENT;
	job_signal(j, SIGTERM);
	/* A stopped process ignores SIGTERM until continued. */
	job_signal(j, SIGCONT);
	loop_timer_arm(j->loop, &j->timer, loop_now_us() + j->grace_ms * 1000u);
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

/* The process is gone (reaped by the spawner, or by our reaper for an
 * adopted one): finish the result from its status and usage. */
static void
process_ended(struct job *j, int wstatus, uint64_t user_us, uint64_t system_us, uint64_t max_rss_kb)
{
	struct backend_outcome out;

	ledger_remove(j->ledger, j->pid);
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
	fill_result(j, wstatus, user_us, system_us, max_rss_kb);
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
adopted_exiting(struct reaper_watch *w)
{
	/* The leader is done; whatever it left in its group goes with it, so
	 * no stray keeps our pipes open or outlives the job. (The spawner does
	 * the same for the processes it made: SPAWN_KILL_GROUP.) */
	kill(-w->pid, SIGKILL);
}

static void
adopted_reaped(struct reaper_watch *w, int wstatus, const struct rusage *ru)
{
	process_ended(JOB_OF(w, adopted), wstatus,
		      (uint64_t) ru->ru_utime.tv_sec * 1000000u + (uint64_t) ru->ru_utime.tv_usec,
		      (uint64_t) ru->ru_stime.tv_sec * 1000000u + (uint64_t) ru->ru_stime.tv_usec,
		      (uint64_t) ru->ru_maxrss);
}

static void
exec_failed(struct job *j, int err, const char *message)
{
	snprintf(j->exec_error, sizeof(j->exec_error), "%s", message);
	j->result.reason = RUNNER__V1__TERMINATION__EXEC_FAILED;
	j->result.exec_errno = err;
	j->result.exec_error = j->exec_error;
	j->reaped = true;
	close_watch(j, &j->out);
	close_watch(j, &j->err);
	if (j->status_fd >= 0) {
		close(j->status_fd);
		j->status_fd = -1;
	}
	maybe_finish(j);
}

/* An end of a pipe the spawner made arrives: watch it as the job's state
 * says (a paused output or an unwanted stdin stays out of epoll). */
static void
adopt_end(struct job *j, int which, int fd)
{
	struct loop_watch *w = which == 0 ? &j->in : which == 1 ? &j->out : &j->err;
	bool on = which == 0 ? j->want_stdin : !(which == 1 ? j->out_paused : j->err_paused);

	if (fd < 0)
		return;
	if (w->fd >= 0 || (which == 0 && j->stdin_closing) || j->finished) {
		/* Not wanted any more (stdin closed meanwhile, the job over). */
		close(fd);
		return;
	}
	w->fd = fd;
	rewatch(j, w, on, which == 0 ? EPOLLOUT : EPOLLIN);
}

static void
on_spawned(struct spawn_watch *w, pid_t pid, const int fds[4])
{
	struct job *j = JOB_OF(w, spawn);

	j->spawning = false;
	j->spawned = true;
	j->pid = pid;
	j->result.pid = pid;
	free(j->path);
	j->path = NULL;
	for (int t = 0; t < 3; t++)
		adopt_end(j, t, fds[t]);
	if (fds[3] >= 0)
		close(fds[3]);
	metrics_spawned(j->backend, loop_now_us() - j->started_us);
	ledger_add(j->ledger, pid);
	if (j->ops->started != NULL)
		j->ops->started(j, j->arg);
}

/* A parked end comes back: stdin because we asked, an output because it
 * has something to read (or -1: it hung up empty, or the spawner died). */
static void
on_fd(struct spawn_watch *w, int which, int fd)
{
	struct job *j = JOB_OF(w, spawn);

	if (which == 0)
		j->stdin_taking = false;
	if (which <= 2)
		adopt_end(j, which, fd);
	else if (fd >= 0)
		close(fd);
	maybe_finish(j);
}

static void
on_spawn_failed(struct spawn_watch *w, int stage, int err)
{
	struct job *j = JOB_OF(w, spawn);
	char msg[sizeof(j->exec_error)];

	j->spawning = false;
	j->stdin_taking = false;
	if (stage == STAGE_EXEC)
		snprintf(msg, sizeof(msg), "execve %.400s: %s", j->path ? j->path : "?", strerror(err));
	else
		snprintf(msg, sizeof(msg), "%s: %s", spawner_stage_name(stage), strerror(err));
	free(j->path);
	j->path = NULL;
	exec_failed(j, err, msg);
	if (j->launch != NULL && j->launch->exited != NULL)
		j->launch->exited(j->launch, NULL);
	if (j->ops->started != NULL)
		j->ops->started(j, j->arg);
}

static void
on_exited(struct spawn_watch *w, const struct spawner_exit *ex)
{
	struct job *j = JOB_OF(w, spawn);

	process_ended(j, ex->wstatus, ex->user_us, ex->system_us, ex->max_rss_kb);
}

static const struct spawn_watch_ops spawn_ops = {
	.spawned = on_spawned,
	.failed = on_spawn_failed,
	.exited = on_exited,
	.fd = on_fd,
};

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (!j->finished && (j->spawned || j->spawning) && !j->reaped) {
		/* Never leave a process behind: it dies now; its spawner (or our
		 * reaper) still collects it, but nobody looks at the result. */
		job_signal(j, SIGKILL);
		if (j->adopted.pid != 0)
			reaper_untrack(&j->adopted);
		else
			spawn_watch_forget(&j->spawn);
		ledger_remove(j->ledger, j->pid);
		if (j->launch != NULL && j->launch->exited != NULL)
			j->launch->exited(j->launch, NULL);
	}
	/* Reaped with ends still parked (a stdin never used), or never
	 * started: the spawner closes what it keeps for us. */
	if (j->adopted.pid == 0)
		spawn_watch_forget(&j->spawn);
	if (j->counted && !j->finished)
		metrics_process_ended(j->backend, RUNNER__V1__TERMINATION__KILLED, false);
	loop_timer_disarm(j->loop, &j->timer);
	close_watch(j, &j->in);
	close_watch(j, &j->out);
	close_watch(j, &j->err);
	if (j->status_fd >= 0)
		close(j->status_fd);
	free(j->path);
	free(j);
}

Runner__V1__RunResult *
job_result(struct job *j)
{
	return &j->result;
}

/* A terminal the job makes (LAUNCH_TTY_HERE, _WRAPPED): the master is our
 * output and, through a second fd (epoll tells the two apart), our stdin;
 * the slave is the child's fds 0-2. */
static int
setup_tty(struct job *j, const struct job_spec *spec, int child_fds[3], rstatus *st)
{
	const struct launch_setup *su = &spec->launch->setup;
	int rv, master, slave;

	if ((rv = pty_open(spec->tty_rows, spec->tty_cols, &master, &slave)) < 0)
		return rstatus_fail_errno(st, rv == -EMFILE || rv == -ENFILE || rv == -ENOSPC ? RS_RESOURCE_EXHAUSTED
											      : RS_INTERNAL,
					  -rv, "opening a pty");
	/* A command running as another user owns its terminal, as after a
	 * login: programs that reopen it by name (ttyname) must be let in. */
	if (su->set_ids && fchown(slave, su->ids.uid, (gid_t) -1) != 0) {
		rv = errno;
		close(master);
		close(slave);
		return rstatus_fail_errno(st, RS_INTERNAL, rv, "chown of the pty");
	}
	j->out.fd = j->tty_master = master;
	for (int t = 0; t < 3; t++)
		child_fds[t] = slave;
	/* A wrapper's terminal only carries bytes to the command's. */
	if (spec->launch->tty == LAUNCH_TTY_WRAPPED && (rv = pty_make_raw(slave)) < 0)
		return rstatus_fail_errno(st, RS_INTERNAL, -rv, "raw mode of the pty");
	if (spec->stdin_pipe && (j->in.fd = fcntl(master, F_DUPFD_CLOEXEC, 0)) < 0)
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, errno, "dup");
	return 0;
}

/* The spawner makes the stdio pipes (spawner_wire.h): our ends arrive
 * with SPAWNED, in on_spawned. */
static void
setup_pipes(bool stdin_pipe, int child_fds[3])
{
	if (stdin_pipe)
		child_fds[0] = SPAWNER_FD_PIPE;
	child_fds[1] = child_fds[2] = SPAWNER_FD_PIPE;
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

	/* stdin is watched only on demand (job_want_stdin); a terminal has no
	 * stderr of its own; pipes the spawner makes are watched once they
	 * arrive. */
	if (j->out.fd >= 0 && (rv = loop_watch_add(j->loop, &j->out, EPOLLIN, st)) < 0)
		return rv;
	return j->err.fd >= 0 ? loop_watch_add(j->loop, &j->err, EPOLLIN, st) : 0;
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
	j->pid = j->adopted.pid = la->adopt_pid;
	j->adopted.exiting = adopted_exiting;
	j->adopted.reaped = adopted_reaped;
	j->spawned = true;
	j->result.pid = j->pid;
	reaper_track(&j->adopted);
	ledger_add(j->ledger, j->pid);
	if (left > 0 || !spec->stdin_pipe)
		close_watch(j, &j->in);
	*out = j;
	if (left > 0) {
		/* The command never got its request: it must not run. */
		job_signal(j, SIGKILL);
	}
	if ((rv = watch_pipes(j, st)) < 0) {
		job_stop(j, RUNNER__V1__TERMINATION__KILLED);
		return 0;
	}
	if (spec->timeout_ms > 0)
		loop_timer_arm(j->loop, &j->timer, j->started_us + spec->timeout_ms * 1000u);
	if (j->ops->started != NULL)
		loop_post(j->loop, &j->started_task);
	return 0;
}

/* The spawner's request for the launch plan: a new session whose group
 * dies with its leader, the child's fds, and what the backend asked for
 * between fork and exec (rlimits, user, cgroups). */
static int
spawn_request(struct job *j, const struct backend_launch *la, const int child_fds[4], bool park,
	      struct spawner_req *req, int fds[4], int *n_fds, rstatus *st)
{
	int rv;

	*req = (struct spawner_req){
		.flags = SPAWN_SETSID | SPAWN_KILL_GROUP,
		.fd_map = { -1, -1, -1, -1 },
		.argv = la->argv,
		.envp = la->envp,
		.cwd = la->cwd,
	};
	*n_fds = 0;
	for (int t = 0; t < 4; t++) {
		if (child_fds[t] == SPAWNER_FD_PIPE) {
			req->fd_map[t] = SPAWNER_FD_PIPE;
			/* An idle session's stdin and stderr wait in the spawner. */
			if (park && (t == 0 || t == 2))
				req->park |= 1u << t;
			continue;
		}
		if (child_fds[t] < 0)
			continue;
		/* One fd at several places (a terminal's slave) is sent once. */
		for (int u = 0; u < t && req->fd_map[t] < 0; u++)
			if (child_fds[u] == child_fds[t])
				req->fd_map[t] = req->fd_map[u];
		if (req->fd_map[t] < 0) {
			req->fd_map[t] = (int8_t) *n_fds;
			fds[(*n_fds)++] = child_fds[t];
		}
	}
	if (j->tty_master >= 0 && la->tty == LAUNCH_TTY_HERE)
		req->flags |= SPAWN_CTTY;
	/* Resolved here, against the child's PATH and cwd, so that "not
	 * found" is told apart from the other failures before anything runs. */
	if ((j->path = malloc(PATH_MAX)) == NULL)
		return -ENOMEM;
	if ((rv = spawn_resolve(la->argv[0], la->envp, la->cwd, j->path, PATH_MAX)) < 0)
		return rv;
	req->path = j->path;
	req->n_cgroups = (uint32_t) job_cgroup_procs(la->setup.cgroup, j->cgroups, SPAWNER_MAX_CGROUPS);
	req->cgroups = j->cgroups;
	for (size_t i = 0; i < la->setup.n_rlimits && i < SPAWNER_MAX_RLIMITS; i++) {
		req->rlimits[i].resource = (uint32_t) la->setup.rlimits[i].resource;
		req->rlimits[i].cur = req->rlimits[i].max = la->setup.rlimits[i].value;
		req->n_rlimits++;
	}
	if (la->setup.set_ids) {
		req->flags |= SPAWN_SET_IDS | SPAWN_NO_NEW_PRIVS;
		req->uid = la->setup.ids.uid;
		req->gid = la->setup.ids.gid;
		for (size_t i = 0; i < la->setup.ids.n_groups && i < SPAWNER_MAX_GROUPS; i++)
			req->groups[req->n_groups++] = la->setup.ids.groups[i];
	}
	(void) st;
	return 0;
}

/* Our copies of the child's fds (a terminal's slave sits at 0-2: closed
 * once). */
static void
close_child_fds(int child_fds[4])
{
	for (int t = 0; t < 4; t++) {
		bool seen = false;
		for (int u = 0; u < t; u++)
			seen |= child_fds[u] == child_fds[t];
		if (child_fds[t] >= 0 && !seen)
			close(child_fds[t]);
	}
}

int
job_start(struct loop *l, const struct job_spec *spec, const struct job_ops *ops, void *arg,
	  struct job **out, rstatus *st)
{
	int child_fds[4] = { -1, -1, -1, -1 }, fds[4], n_fds, rv;
	struct spawner_req req;
	struct job *j;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__run_result__init(&j->result);
	j->loop = l;
	j->ops = ops;
	j->arg = arg;
	j->done_task.fn = run_done;
	j->started_task.fn = run_started;
	j->timer.cb = timer_cb;
	j->in = (struct loop_watch){ .fd = -1, .cb = stdin_cb };
	j->out = (struct loop_watch){ .fd = -1, .cb = stdout_cb };
	j->err = (struct loop_watch){ .fd = -1, .cb = stderr_cb };
	j->spawn.ops = &spawn_ops;
	j->grace_ms = spec->grace_ms;
	j->linger_ms = spec->linger_ms;
	j->status_fd = -1;
	j->tty_master = -1;
	j->tty = spec->tty_rows > 0;
	j->launch = spec->launch;
	j->ledger = spec->ledger;
	j->backend = spec->backend;

	if (spec->launch->adopt_pid > 0) {
		metrics_process_started(j->backend);
		j->counted = true;
		return adopt(j, spec, out, st);
	}
	if (spec->launch->cwd != NULL) {
		/* A missing working directory is the request's problem, not an
		 * outcome of the program: an error status, not EXEC_FAILED. */
		struct stat sb;
		int e = stat(spec->launch->cwd, &sb) != 0 ? errno : !S_ISDIR(sb.st_mode) ? ENOTDIR : 0;
		if (e != 0) {
			job_free(j);
			return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, e, "cwd %s", spec->launch->cwd);
		}
	}
	if (!j->tty || spec->launch->tty == LAUNCH_TTY_INSIDE)
		setup_pipes(spec->stdin_pipe, child_fds);
	if ((j->tty && spec->launch->tty != LAUNCH_TTY_INSIDE && (rv = setup_tty(j, spec, child_fds, st)) < 0) ||
	    (spec->launch->status_channel && (rv = setup_status_channel(j, &child_fds[3], st)) < 0) ||
	    (rv = watch_pipes(j, st)) < 0) {
		close_child_fds(child_fds);
		job_free(j);
		return rv;
	}
	j->started_us = loop_now_us();
	*out = j;
	if (spec->timeout_ms > 0)
		loop_timer_arm(l, &j->timer, j->started_us + spec->timeout_ms * 1000u);
	if (spec->launch->exec_errno != 0) {
		/* The backend resolved the program and found it unusable
		 * (backend.h): the same outcome as a failed direct spawn. */
		rv = -spec->launch->exec_errno;
	} else if ((rv = spawn_request(j, spec->launch, child_fds, spec->park, &req, fds, &n_fds, st)) == 0 &&
		   (rv = spawner_spawn(spec->spawners, &j->spawn, &req, fds, n_fds, st)) < 0) {
		/* Not even asked: nothing runs, this is an error, not a result. */
		close_child_fds(child_fds);
		*out = NULL;
		job_free(j);
		return rv;
	}
	/* The spawner holds the child's ends now (or nobody will); ours must
	 * go so EOF arrives when the child's do. */
	close_child_fds(child_fds);
	metrics_process_started(j->backend);
	j->counted = true;
	if (rv < 0) {
		char msg[sizeof(j->exec_error)];
		if (spec->launch->exec_errno != 0)
			snprintf(msg, sizeof(msg), "%.400s", spec->launch->exec_error ? spec->launch->exec_error : "execve");
		else
			snprintf(msg, sizeof(msg), "execve %.400s: %s", spec->launch->argv[0], strerror(-rv));
		/* Posted tasks run in order: started before done. */
		if (j->ops->started != NULL)
			loop_post(l, &j->started_task);
		exec_failed(j, -rv, msg);
		return 0;
	}
	j->spawning = true;
	return 0;
}
