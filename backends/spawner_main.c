/* runnerd-spawner: creates, watches and reaps runnerd's job processes.
 * Why it exists and what it speaks: spawner_wire.h.
 *
 *   runnerd-spawner FD      FD: this end of runnerd's socketpair
 *
 * Single-threaded: a poll loop over the control socket and a signalfd for
 * SIGCHLD. A child is made with vfork (the spawner's memory is small and
 * nothing else runs in it while the child prepares), and between vfork and
 * execve the child makes only system calls: join cgroups, set rlimits,
 * place fds, drop privileges, chdir, reset signals. A failure there is
 * recorded in memory the parent shares, so the reply says which step
 * failed with which errno — never guessed from an exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawner_wire.h"

#define BUCKETS 4096
#define EXIT_REAP_MS 2000

struct child {
	uint64_t id;
	pid_t pid;
	uint32_t flags;
	char **cgroups;   /* cgroup.procs paths, for the kill at EOF */
	uint32_t n_cgroups;
	struct child *pid_next, *id_next;
};

static struct child *by_pid[BUCKETS], *by_id[BUCKETS];
static int ctl = -1;

/* Replies waiting for room in the socket: runnerd may be busy, and the
 * spawner must never block on it (runnerd may be blocked writing to us). */
static uint8_t *outq;
static size_t outq_len, outq_cap;

/* Written by a vfork child, read by us once it has exec'd or exited. */
static volatile struct {
	int stage, err;
} child_fail;

static struct child **
pid_slot(pid_t pid)
{
	struct child **pp = &by_pid[(unsigned) pid % BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->pid_next;
	return pp;
}

static struct child **
id_slot(uint64_t id)
{
	struct child **pp = &by_id[id % BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->id_next;
	return pp;
}

static void
child_free(struct child *c)
{
	for (uint32_t i = 0; i < c->n_cgroups; i++)
		free(c->cgroups[i]);
	free(c->cgroups);
	free(c);
}

static void
flush_out(void)
{
	while (outq_len > 0) {
		ssize_t n = send(ctl, outq, outq_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				outq_len = 0; /* runnerd is gone: EOF will tell the loop */
			return;
		}
		memmove(outq, outq + n, outq_len - (size_t) n);
		outq_len -= (size_t) n;
	}
}

static void
reply(uint32_t type, uint64_t id, const void *body, uint32_t len)
{
	struct spawner_hdr h = { .type = type, .len = len, .id = id };
	size_t need = outq_len + sizeof(h) + len;

	if (need > outq_cap) {
		size_t cap = outq_cap ? outq_cap : 4096;
		uint8_t *nq;
		while (cap < need)
			cap *= 2;
		if ((nq = realloc(outq, cap)) == NULL)
			abort(); /* runnerd sees EOF and fails our jobs */
		outq = nq;
		outq_cap = cap;
	}
	memcpy(outq + outq_len, &h, sizeof(h));
	memcpy(outq + outq_len + sizeof(h), body, len);
	outq_len = need;
	flush_out();
}

/* --- the child, between vfork and execve: system calls only ---------- */

static _Noreturn void
child_fails(int stage)
{
	child_fail.err = errno;
	child_fail.stage = stage;
	_exit(127);
}

/* Put the request's fds at 0-3: first out of the way (a source may sit on
 * a target), then in place; /dev/null for unset stdio. */
static void
child_fds(const struct spawner_req *req, const int *fds)
{
	int src[4];

	for (int t = 0; t < 4; t++) {
		src[t] = req->fd_map[t] >= 0 ? fds[req->fd_map[t]] : -1;
		if (src[t] >= 0 && src[t] < 4 && (src[t] = fcntl(src[t], F_DUPFD_CLOEXEC, 4)) < 0)
			child_fails(STAGE_FDS);
	}
	for (int t = 0; t < 4; t++) {
		int fd = src[t];
		if (fd < 0 && t == 3)
			continue;
		if (fd < 0 && (fd = open("/dev/null", t == 0 ? O_RDONLY | O_CLOEXEC : O_WRONLY | O_CLOEXEC)) < 0)
			child_fails(STAGE_FDS);
		if (dup2(fd, t) < 0)
			child_fails(STAGE_FDS);
	}
	if (syscall(SYS_close_range, src[3] >= 0 ? 4u : 3u, ~0u, 0u) != 0)
		child_fails(STAGE_FDS);
}

static _Noreturn void
child_main(const struct spawner_req *req, const int *fds)
{
	/* The kernel's struct sigaction: glibc's wrapper refuses its own two
	 * reserved signals (32, 33), which posix_spawn may have left ignored
	 * in us, and an ignored signal stays ignored across exec. */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} dfl = { 0 };
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	if ((req->flags & SPAWN_SETSID) && setsid() < 0)
		child_fails(STAGE_SPAWN);
	for (uint32_t i = 0; i < req->n_cgroups; i++) {
		int fd = open(req->cgroups[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			child_fails(STAGE_CGROUP);
		close(fd);
	}
	for (uint32_t i = 0; i < req->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = req->rlimits[i].cur, .rlim_max = req->rlimits[i].max };
		if (setrlimit((int) req->rlimits[i].resource, &rl) != 0)
			child_fails(STAGE_RLIMIT);
	}
	child_fds(req, fds);
	/* After setsid, the fresh session has no controlling terminal: take
	 * fd 0's. Before the user switch, like everything the child's own
	 * rights do not decide. */
	if ((req->flags & SPAWN_CTTY) && ioctl(0, TIOCSCTTY, 0) != 0)
		child_fails(STAGE_CTTY);
	if ((req->flags & SPAWN_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		child_fails(STAGE_IDS);
	/* Raw system calls: glibc's wrappers would try to change every thread
	 * of the process, and ours (the spawner's memory) has one to spare. */
	if ((req->flags & SPAWN_SET_IDS) &&
	    (syscall(SYS_setgroups, (size_t) req->n_groups, req->groups) != 0 ||
	     syscall(SYS_setresgid, req->gid, req->gid, req->gid) != 0 ||
	     syscall(SYS_setresuid, req->uid, req->uid, req->uid) != 0))
		child_fails(STAGE_IDS);
	/* After the switch: a directory the user may not enter is refused. */
	if (req->cwd != NULL && chdir(req->cwd) != 0)
		child_fails(STAGE_CHDIR);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(req->path, req->argv, req->envp);
	child_fails(STAGE_EXEC);
}

/* --- requests --------------------------------------------------------- */

static void
failed(uint64_t id, int stage, int err)
{
	int32_t body[2] = { stage, err };

	reply(SPAWNER_FAILED, id, body, sizeof(body));
}

static void
spawn(uint64_t id, uint8_t *body, uint32_t len, const int *fds, int n_fds)
{
	struct spawner_req req;
	struct child *c;
	void *owned;
	int32_t pid32;
	pid_t pid;

	if (!spawner_req_decode(body, len, &req, &owned)) {
		failed(id, STAGE_SPAWN, EINVAL);
		return;
	}
	for (int t = 0; t < 4; t++)
		if (req.fd_map[t] >= n_fds) {
			free(owned);
			failed(id, STAGE_FDS, EBADF);
			return;
		}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (req.n_cgroups && (c->cgroups = calloc(req.n_cgroups, sizeof(char *))) == NULL)) {
		free(c);
		free(owned);
		failed(id, STAGE_SPAWN, ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < req.n_cgroups; i++)
		if ((c->cgroups[c->n_cgroups++] = strdup(req.cgroups[i])) == NULL) {
			child_free(c);
			free(owned);
			failed(id, STAGE_SPAWN, ENOMEM);
			return;
		}
	child_fail.stage = 0;
	child_fail.err = 0;
	pid = vfork();
	if (pid == 0)
		child_main(&req, fds);
	free(owned);
	if (pid < 0) {
		child_free(c);
		failed(id, STAGE_SPAWN, errno);
		return;
	}
	if (child_fail.stage != 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		child_free(c);
		failed(id, child_fail.stage, child_fail.err);
		return;
	}
	c->id = id;
	c->pid = pid;
	c->flags = req.flags;
	c->pid_next = by_pid[(unsigned) pid % BUCKETS];
	by_pid[(unsigned) pid % BUCKETS] = c;
	c->id_next = by_id[id % BUCKETS];
	by_id[id % BUCKETS] = c;
	pid32 = pid;
	reply(SPAWNER_SPAWNED, id, &pid32, sizeof(pid32));
}

static void
signal_child(uint64_t id, const uint8_t *body, uint32_t len)
{
	struct child *c = *id_slot(id);
	int32_t sig;

	if (c == NULL || len != sizeof(sig))
		return;
	memcpy(&sig, body, sizeof(sig));
	/* The child is not reaped (it is still in the table), so its pid, and
	 * the group it leads, cannot have been recycled. */
	kill((c->flags & SPAWN_SETSID) ? -c->pid : c->pid, sig);
}

static void
unlink_child(struct child *c)
{
	*pid_slot(c->pid) = c->pid_next;
	*id_slot(c->id) = c->id_next;
}

/* Reap every exited child: a tracked one's group goes first (its zombie
 * still pins the group id), then its status goes to runnerd. Orphans
 * (we are a subreaper) are reaped silently. */
static void
reap(void)
{
	for (;;) {
		siginfo_t si = { 0 };
		struct spawner_exit ex = { 0 };
		struct rusage ru;
		struct child *c;
		int status;

		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
			return;
		c = *pid_slot(si.si_pid);
		if (c != NULL && (c->flags & SPAWN_KILL_GROUP))
			kill(-c->pid, SIGKILL);
		while (wait4(si.si_pid, &status, 0, &ru) < 0 && errno == EINTR)
			;
		if (c == NULL)
			continue;
		ex.wstatus = status;
		ex.user_us = (uint64_t) ru.ru_utime.tv_sec * 1000000u + (uint64_t) ru.ru_utime.tv_usec;
		ex.system_us = (uint64_t) ru.ru_stime.tv_sec * 1000000u + (uint64_t) ru.ru_stime.tv_usec;
		ex.max_rss_kb = (uint64_t) ru.ru_maxrss;
		unlink_child(c);
		reply(SPAWNER_EXITED, c->id, &ex, sizeof(ex));
		child_free(c);
	}
}

/* --- reading the control socket ---------------------------------------- */

static int
read_full(void *buf, size_t len, int *fds, int *n_fds)
{
	size_t got = 0;

	while (got < len) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} cm;
		struct iovec iov = { (char *) buf + got, len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (fds != NULL) {
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
		}
		n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (struct cmsghdr *h = fds ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h)) {
			size_t k;
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				if (*n_fds < 4)
					fds[(*n_fds)++] = fd;
				else
					close(fd);
			}
		}
		got += (size_t) n;
	}
	return 0;
}

/* One message; -1 when runnerd's end is closed (or talks nonsense). */
static int
handle_message(void)
{
	struct spawner_hdr h;
	int fds[4], n_fds = 0, rv = 0;
	uint8_t *body = NULL;

	if (read_full(&h, sizeof(h), fds, &n_fds) < 0)
		goto out_eof;
	if (h.len > SPAWNER_MAX_BODY || (h.len > 0 && (body = malloc(h.len)) == NULL) ||
	    (h.len > 0 && read_full(body, h.len, NULL, NULL) < 0))
		goto out_eof;
	switch (h.type) {
	case SPAWNER_SPAWN:
		spawn(h.id, body, h.len, fds, n_fds);
		break;
	case SPAWNER_SIGNAL:
		signal_child(h.id, body, h.len);
		break;
	default:
		break;
	}
	goto out;
out_eof:
	rv = -1;
out:
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	free(body);
	return rv;
}

/* Kill a cgroup's processes: cgroup.kill (cgroup v2), else each pid in
 * cgroup.procs, until it reads empty (v1 has no atomic kill). */
static void
kill_cgroup(const char *procs)
{
	char path[PATH_MAX], buf[4096];
	const char *slash = strrchr(procs, '/');
	int fd;

	if (slash == NULL || (size_t) (slash - procs) + sizeof("/cgroup.kill") > sizeof(path))
		return;
	snprintf(path, sizeof(path), "%.*s/cgroup.kill", (int) (slash - procs), procs);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "1", 1) == 1) {
			close(fd);
			return;
		}
		close(fd);
	}
	for (int round = 0; round < 100; round++) {
		ssize_t n;
		bool any = false;
		if ((fd = open(procs, O_RDONLY | O_CLOEXEC)) < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return;
		buf[n] = '\0';
		for (char *p = buf, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0 && kill((pid_t) pid, SIGKILL) == 0)
				any = true;
		}
		if (!any)
			return;
	}
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* runnerd is gone: so is everything it started. */
static _Noreturn void
shut_down(void)
{
	uint64_t deadline = now_ms() + EXIT_REAP_MS;

	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct child *c = by_pid[b]; c; c = c->pid_next) {
			kill((c->flags & SPAWN_SETSID) ? -c->pid : c->pid, SIGKILL);
			for (uint32_t i = 0; i < c->n_cgroups; i++)
				kill_cgroup(c->cgroups[i]);
		}
	/* Reap what dies; something that escaped both its group and its
	 * cgroup is not waited for past the deadline. */
	while (now_ms() < deadline) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == ECHILD)
			break;
		if (p <= 0)
			usleep(10000);
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct pollfd pfd[2];
	sigset_t chld;
	char *end;
	int sfd;

	if (argc != 2 || (ctl = (int) strtol(argv[1], &end, 10), *end != '\0') || ctl < 0) {
		fprintf(stderr, "usage: runnerd-spawner FD (started by runnerd)\n");
		return 64;
	}
	if (fcntl(ctl, F_SETFD, FD_CLOEXEC) != 0) {
		perror("runnerd-spawner: control fd");
		return 71;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Orphans of our children come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if ((sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		perror("runnerd-spawner: signalfd");
		return 71;
	}
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = ctl, .events = POLLIN | (outq_len ? POLLOUT : 0) };
		pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			shut_down();
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap();
		}
		if (pfd[0].revents & POLLOUT)
			flush_out();
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && handle_message() < 0)
			shut_down();
	}
}
