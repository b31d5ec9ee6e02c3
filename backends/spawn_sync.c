#include "spawn_sync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn_child.h"

#define DEFAULT_TIMEOUT_MS 30000u
/* Without a pidfd (out of fds), how often the child is looked at. */
#define NO_PIDFD_POLL_MS 10

/* One running spawn_run_sync, on its caller's stack. pid 0: the spawn is
 * in progress, and every pid counts as claimed. */
struct claim {
	pid_t pid;
	struct claim *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct claim *claims;
static bool stepped_back; /* spawn_sync_owns said true since the last hook */
static bool stopping;
static void (*hook_fn)(void *arg);
static void *hook_arg;

bool
spawn_sync_owns(pid_t pid)
{
	bool own = false;

	pthread_mutex_lock(&lock);
	for (struct claim *c = claims; c != NULL && !own; c = c->next)
		own = c->pid == 0 || c->pid == pid;
	if (own)
		stepped_back = true;
	pthread_mutex_unlock(&lock);
	return own;
}

void
spawn_sync_set_reaped_hook(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&lock);
	hook_fn = fn;
	hook_arg = arg;
	pthread_mutex_unlock(&lock);
}

void
spawn_sync_stop_all(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	/* A claimed pid is not reaped yet, so its group id cannot have been
	 * recycled. */
	for (struct claim *c = claims; c != NULL; c = c->next)
		if (c->pid > 0)
			kill(-c->pid, SIGKILL);
	pthread_mutex_unlock(&lock);
}

/* Called with the lock held, after a claim changed: whether the reaper
 * must look again. */
static void
call_hook_unlock(void)
{
	void (*fn)(void *) = stepped_back ? hook_fn : NULL;
	void *arg = hook_arg;

	stepped_back = false;
	pthread_mutex_unlock(&lock);
	if (fn != NULL)
		fn(arg);
}

static int
claim_add(struct claim *c, rstatus *st)
{
	pthread_mutex_lock(&lock);
	if (stopping) {
		pthread_mutex_unlock(&lock);
		return rstatus_fail(st, RS_UNAVAILABLE, "shutting down");
	}
	c->pid = 0;
	c->next = claims;
	claims = c;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The spawn is over: `pid` is claimed (0: it failed, drop the claim). */
static void
claim_settle(struct claim *c, pid_t pid)
{
	struct claim **pp;

	pthread_mutex_lock(&lock);
	if (pid > 0) {
		c->pid = pid;
		if (stopping)
			kill(-pid, SIGKILL);
	} else {
		for (pp = &claims; *pp != c; pp = &(*pp)->next)
			;
		*pp = c->next;
	}
	call_hook_unlock();
}

uint64_t
spawn_sync_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* Read what is there; false at end-of-file or error (the fd is closed). */
static bool
drain(int *fd, char *buf, size_t size, size_t *total)
{
	char sink[4096];

	for (;;) {
		size_t kept = *total < size ? *total : size;
		bool room = buf != NULL && kept + 1 < size;
		ssize_t n = room ? read(*fd, buf + kept, size - 1 - kept) : read(*fd, sink, sizeof(sink));

		if (n > 0) {
			*total += (size_t) n;
			if (room)
				buf[kept + (size_t) n] = '\0';
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		close(*fd);
		*fd = -1;
		return false;
	}
}

/* The child exited (or was killed): kill what it left in its group while
 * its zombie pins the group id, then reap it. The claim ends. Returns the
 * wait status, or a negative value when someone else reaped the child
 * (a bug: it was claimed). */
static int
reap(struct claim *c, int pidfd, rstatus *st)
{
	struct claim **pp;
	int status = 0, rv;

	kill(-c->pid, SIGKILL);
	while ((rv = waitpid(c->pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (rv < 0)
		status = rstatus_fail_errno(st, RS_INTERNAL, errno, "waitpid %d", (int) c->pid);
	if (pidfd >= 0)
		close(pidfd);
	pthread_mutex_lock(&lock);
	for (pp = &claims; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	call_hook_unlock();
	return status;
}

/* True once the child is a zombie, or gone (reaped by someone else: a bug
 * that reap reports rather than a wait until the timeout). */
static bool
exited(pid_t pid)
{
	siginfo_t si = { 0 };

	if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

int
spawn_run_sync(struct spawn_sync *r, int *exec_errno, rstatus *st)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, pidfd = -1, status = -1, rv;
	bool reaped = false;
	bool capture_out = r->out != NULL && r->out_size > 0, capture_err = r->err != NULL && r->err_size > 0;
	uint64_t deadline = spawn_sync_clock_ms() + (r->timeout_ms ? r->timeout_ms : DEFAULT_TIMEOUT_MS);
	struct claim claim;
	pid_t pid;

	*exec_errno = 0;
	r->out_total = r->err_total = 0;
	r->timed_out = false;
	if (capture_out)
		r->out[0] = '\0';
	if (capture_err)
		r->err[0] = '\0';
	if ((capture_out && (rv = spawn_pipe(outp, 0, st)) < 0) || (capture_err && (rv = spawn_pipe(errp, 0, st)) < 0))
		goto out;
	if ((rv = claim_add(&claim, st)) < 0)
		goto out;
	{
		struct spawn_request sr = {
			.argv = r->argv, .envp = r->envp, .cwd = r->cwd,
			.stdin_fd = -1, .stdout_fd = outp[1], .stderr_fd = errp[1], .status_fd = -1,
		};
		rv = spawn_child(&sr, &pid, exec_errno, st);
	}
	claim_settle(&claim, rv < 0 ? 0 : pid);
	if (rv < 0)
		goto out;
	for (int i = 0; i < 2; i++) {
		int *child_end = i ? &errp[1] : &outp[1];
		if (*child_end >= 0) {
			close(*child_end);
			*child_end = -1;
		}
	}
	pidfd = (int) pidfd_open(pid, 0);

	while (!reaped || outp[0] >= 0 || errp[0] >= 0) {
		struct pollfd fds[3];
		nfds_t n = 0;
		uint64_t now = spawn_sync_clock_ms();
		int wait_ms;

		if (now >= deadline) {
			/* Output still open after the program exited (something
			 * that left its group holds it) is cut, not waited for. */
			r->timed_out = !reaped;
			break;
		}
		wait_ms = (int) (deadline - now);
		if (!reaped && pidfd >= 0)
			fds[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		else if (!reaped && wait_ms > NO_PIDFD_POLL_MS)
			wait_ms = NO_PIDFD_POLL_MS;
		if (outp[0] >= 0)
			fds[n++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		if (errp[0] >= 0)
			fds[n++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		if (poll(fds, n, wait_ms) < 0 && errno != EINTR) {
			r->timed_out = !reaped; /* cannot wait: stop it */
			break;
		}
		if (outp[0] >= 0)
			drain(&outp[0], r->out, r->out_size, &r->out_total);
		if (errp[0] >= 0)
			drain(&errp[0], r->err, r->err_size, &r->err_total);
		if (!reaped && exited(pid)) {
			status = reap(&claim, pidfd, st);
			reaped = true;
		}
	}
	if (!reaped) {
		/* Out of time: the group dies with its leader; reaping it waits
		 * only for the kernel to finish the kill. */
		kill(-pid, SIGKILL);
		status = reap(&claim, pidfd, st);
	}
	rv = status;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return rv;
}
