/* runnerd-spawner: creates, watches and reaps runnerd's job processes, and
 * keeps the pipe ends of idle ones. Why it exists and what it speaks:
 * spawner_wire.h.
 *
 *   runnerd-spawner FD [NOFILE_CUR NOFILE_MAX]
 *
 * FD: this end of runnerd's socketpair; NOFILE_*: the RLIMIT_NOFILE
 * runnerd started with, which children get back (runnerd raises its own).
 *
 * Single-threaded: an epoll loop over the control socket, a signalfd for
 * SIGCHLD and the parked output ends. A child is made vfork-style
 * (clone(CLONE_VM | CLONE_VFORK): the spawner's memory is small and
 * nothing else runs in it while the child prepares) and shares the
 * spawner's fd table (CLONE_FILES) until its first system call copies just
 * the fds below the highest one it needs (close_range's
 * CLOSE_RANGE_UNSHARE): thousands of parked ends above SPAWNER_PARK_BASE
 * are never copied. Between clone and execve the child makes only system
 * calls: join cgroups, set rlimits, place fds, drop privileges, chdir,
 * reset signals. A failure there is recorded in memory the parent shares,
 * so the reply says which step failed with which errno — never guessed
 * from an exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

struct child {
	uint64_t id;
	pid_t pid;
	uint32_t flags;
	char **cgroups;   /* cgroup.procs paths, for the kill at EOF */
	uint32_t n_cgroups;
	struct child *pid_next, *id_next;
};

/* runnerd's end of a pipe, kept here until it is wanted (spawner_wire.h). */
struct parked {
	uint64_t id;
	uint32_t which; /* the child's fd it belongs to */
	int fd;
	bool dead;      /* handed back or dropped: freed after this epoll batch */
	struct parked *next;
};

static struct child *by_pid[BUCKETS], *by_id[BUCKETS];
static struct parked *parked[BUCKETS];
/* Ends let go during the current epoll batch, which may still hold an
 * event for them. */
static struct parked *graveyard;
static int ctl = -1, epfd = -1;
static struct rlimit child_nofile;
static bool restore_nofile;

/* Replies waiting for room in the socket: runnerd may be busy, and the
 * spawner must never block on it (runnerd may be blocked writing to us).
 * The fds a queued reply carries are sent with its first byte, and closed
 * here once sent. */
struct out_msg {
	uint8_t *bytes;
	size_t len, off;
	int fds[4], n_fds;
	struct out_msg *next;
};
static struct out_msg *outq, *outq_tail;

/* The child's stack: it runs while we are suspended (CLONE_VFORK), so one
 * serves every spawn. */
static char child_stack[64 * 1024] __attribute__((aligned(64)));

/* valgrind cannot run a clone(CLONE_VM | CLONE_FILES) child (it stops the
 * whole process): under it (its preload library is in LD_PRELOAD), children
 * are made with CLONE_VM | CLONE_VFORK alone, as vfork, and each copies the
 * fd table. */
static int clone_flags = CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD;

static void
choose_clone_flags(void)
{
	const char *preload = getenv("LD_PRELOAD");

	if (preload != NULL && strstr(preload, "vgpreload") != NULL)
		clone_flags &= ~CLONE_FILES;
}

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
out_free(struct out_msg *m)
{
	for (int i = 0; i < m->n_fds; i++)
		close(m->fds[i]);
	free(m->bytes);
	free(m);
}

static void
flush_out(void)
{
	while (outq != NULL) {
		struct out_msg *m = outq;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} cm;
		struct iovec iov = { m->bytes + m->off, m->len - m->off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (m->off == 0 && m->n_fds > 0) {
			struct cmsghdr *c;
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = CMSG_SPACE((size_t) m->n_fds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN((size_t) m->n_fds * sizeof(int));
			memcpy(CMSG_DATA(c), m->fds, (size_t) m->n_fds * sizeof(int));
		}
		n = sendmsg(ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* runnerd is gone: EOF will tell the loop. */
			while (outq != NULL) {
				m = outq;
				outq = m->next;
				out_free(m);
			}
			outq_tail = NULL;
			return;
		}
		m->off += (size_t) n;
		if (m->off < m->len)
			continue;
		outq = m->next;
		if (outq == NULL)
			outq_tail = NULL;
		out_free(m);
	}
}

/* Queue a reply carrying `fds` (ours: closed once sent) and send what
 * the socket takes now. */
static void
reply_fds(uint32_t type, uint64_t id, const void *body, uint32_t len, const int *fds, int n_fds)
{
	struct spawner_hdr h = { .type = type, .len = len, .id = id };
	struct out_msg *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->bytes = malloc(sizeof(h) + len)) == NULL)
		abort(); /* runnerd sees EOF and fails our jobs */
	memcpy(m->bytes, &h, sizeof(h));
	memcpy(m->bytes + sizeof(h), body, len);
	m->len = sizeof(h) + len;
	for (int i = 0; i < n_fds; i++)
		m->fds[m->n_fds++] = fds[i];
	if (outq_tail != NULL)
		outq_tail->next = m;
	else
		outq = m;
	outq_tail = m;
	flush_out();
}

static void
reply(uint32_t type, uint64_t id, const void *body, uint32_t len)
{
	reply_fds(type, id, body, len, NULL, 0);
}

/* --- parked ends ---------------------------------------------------------- */

static struct parked **
parked_slot(uint64_t id, uint32_t which)
{
	struct parked **pp = &parked[id % BUCKETS];

	while (*pp && ((*pp)->id != id || (*pp)->which != which))
		pp = &(*pp)->next;
	return pp;
}

/* Keep runnerd's end `fd` of the child's fd `which`; an output end is
 * watched. Moved up out of the way of the low fds children copy. */
static bool
park(uint64_t id, uint32_t which, int fd)
{
	struct parked *p = calloc(1, sizeof(*p));
	int high = fcntl(fd, F_DUPFD_CLOEXEC, SPAWNER_PARK_BASE);

	if (p == NULL) {
		if (high >= 0)
			close(high);
		return false;
	}
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	p->id = id;
	p->which = which;
	p->fd = fd;
	if (which != 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			free(p);
			return false;
		}
	}
	p->next = parked[id % BUCKETS];
	parked[id % BUCKETS] = p;
	return true;
}

/* Out of the table and the epoll set; freed after the current batch. */
static void
unpark(struct parked *p)
{
	*parked_slot(p->id, p->which) = p->next;
	if (p->which != 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
	p->dead = true;
	p->next = graveyard;
	graveyard = p;
}

/* Hand the end to runnerd (which then owns it), or say it is gone. */
static void
give_back(struct parked *p, bool closed)
{
	struct spawner_fd body = { .fd = p->which, .flags = closed ? SPAWNER_FD_CLOSED : 0 };

	unpark(p);
	if (closed) {
		close(p->fd);
		reply(SPAWNER_FD, p->id, &body, sizeof(body));
	} else {
		reply_fds(SPAWNER_FD, p->id, &body, sizeof(body), &p->fd, 1);
	}
}

/* A parked output end became readable or hung up: runnerd reads it from
 * now on; one that hung up empty is simply over. */
static void
parked_ready(struct parked *p, uint32_t events)
{
	if (!p->dead)
		give_back(p, !(events & EPOLLIN));
}

static void
take(uint64_t id, const uint8_t *body, uint32_t len)
{
	struct spawner_fd none = { .flags = SPAWNER_FD_CLOSED };
	struct parked *p;
	uint32_t which;

	if (len != sizeof(which))
		return;
	memcpy(&which, body, sizeof(which));
	if ((p = *parked_slot(id, which)) != NULL) {
		give_back(p, false);
		return;
	}
	none.fd = which;
	reply(SPAWNER_FD, id, &none, sizeof(none));
}

static void
drop(uint64_t id, const uint8_t *body, uint32_t len)
{
	struct parked *p;
	uint32_t which;

	if (len != sizeof(which))
		return;
	memcpy(&which, body, sizeof(which));
	if ((p = *parked_slot(id, which)) != NULL) {
		unpark(p);
		close(p->fd);
	}
}

static void
forget(uint64_t id)
{
	for (uint32_t which = 0; which < 4; which++) {
		uint32_t w = which;
		drop(id, (const uint8_t *) &w, sizeof(w));
	}
}

/* --- the child, between clone and execve: system calls only ---------- */

static _Noreturn void
child_fails(int stage)
{
	child_fail.err = errno;
	child_fail.stage = stage;
	_exit(127);
}

/* Put the sources at 0-3: first out of the way (a source may sit on a
 * target), then in place; /dev/null for unset stdio. */
static void
child_fds(const int *source)
{
	int src[4];

	for (int t = 0; t < 4; t++) {
		src[t] = source[t];
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

/* What the child needs: the request and its stdio sources. */
struct child_args {
	const struct spawner_req *req;
	int src[4];
};

/* Our own fd table, holding only the fds below `hi`: CLONE_FILES shared
 * the spawner's, which must not change under it. */
static void
child_unshare_fds(const int *src)
{
	unsigned hi = 4;

	for (int t = 0; t < 4; t++)
		if (src[t] >= 0 && (unsigned) src[t] + 1 > hi)
			hi = (unsigned) src[t] + 1;
	if (!(clone_flags & CLONE_FILES))
		return; /* a copy already */
	if (syscall(SYS_close_range, hi, ~0u, CLOSE_RANGE_UNSHARE) != 0 && syscall(SYS_unshare, CLONE_FILES) != 0)
		child_fails(STAGE_FDS);
}

static int
child_main(void *arg)
{
	const struct child_args *a = arg;
	const struct spawner_req *req = a->req;
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

	child_unshare_fds(a->src);
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
	child_fds(a->src);
	/* runnerd's own limit is raised for its sessions' pipes; a command
	 * gets the one runnerd started with, unless its profile sets one. */
	if (restore_nofile && setrlimit(RLIMIT_NOFILE, &child_nofile) != 0)
		child_fails(STAGE_RLIMIT);
	for (uint32_t i = 0; i < req->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = req->rlimits[i].cur, .rlim_max = req->rlimits[i].max };
		if (setrlimit((int) req->rlimits[i].resource, &rl) != 0)
			child_fails(STAGE_RLIMIT);
	}
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

/* Close the fds this spawn made or was given. */
static void
close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* The pipes a request asks for: the child's end into src[t], ours into
 * mine[t] (non-blocking). 0, or an errno. */
static int
make_pipes(const struct spawner_req *req, int src[4], int mine[4])
{
	for (int t = 0; t < 4; t++) {
		int p[2];
		if (req->fd_map[t] != SPAWNER_FD_PIPE)
			continue;
		if (pipe2(p, O_CLOEXEC) != 0)
			return errno;
		/* The child reads its stdin and writes the rest. */
		src[t] = t == 0 ? p[0] : p[1];
		mine[t] = t == 0 ? p[1] : p[0];
		if (fcntl(mine[t], F_SETFL, O_NONBLOCK) != 0)
			return errno;
	}
	return 0;
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
	struct child_args a = { .src = { -1, -1, -1, -1 } };
	int mine[4] = { -1, -1, -1, -1 }, made[4] = { -1, -1, -1, -1 }, give[4], n_give = 0, err;
	struct spawner_req req;
	struct child *c;
	void *owned;
	int32_t back[2];
	pid_t pid;

	if (!spawner_req_decode(body, len, &req, &owned)) {
		failed(id, STAGE_SPAWN, EINVAL);
		return;
	}
	for (int t = 0; t < 4; t++) {
		if (req.fd_map[t] >= n_fds) {
			free(owned);
			failed(id, STAGE_FDS, EBADF);
			return;
		}
		if (req.fd_map[t] >= 0)
			a.src[t] = fds[req.fd_map[t]];
	}
	if ((err = make_pipes(&req, made, mine)) != 0) {
		close_all(made, 4);
		close_all(mine, 4);
		free(owned);
		failed(id, STAGE_FDS, err);
		return;
	}
	for (int t = 0; t < 4; t++)
		if (made[t] >= 0)
			a.src[t] = made[t];
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (req.n_cgroups && (c->cgroups = calloc(req.n_cgroups, sizeof(char *))) == NULL)) {
		free(c);
		close_all(made, 4);
		close_all(mine, 4);
		free(owned);
		failed(id, STAGE_SPAWN, ENOMEM);
		return;
	}
	for (uint32_t i = 0; i < req.n_cgroups; i++)
		if ((c->cgroups[c->n_cgroups++] = strdup(req.cgroups[i])) == NULL) {
			child_free(c);
			close_all(made, 4);
			close_all(mine, 4);
			free(owned);
			failed(id, STAGE_SPAWN, ENOMEM);
			return;
		}
	child_fail.stage = 0;
	child_fail.err = 0;
	a.req = &req;
	pid = clone(child_main, child_stack + sizeof(child_stack), clone_flags, &a);
	err = errno;
	free(owned);
	/* The child has its own copies now (or never will). */
	close_all(made, 4);
	if (pid < 0) {
		child_free(c);
		close_all(mine, 4);
		failed(id, STAGE_SPAWN, err);
		return;
	}
	if (child_fail.stage != 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		child_free(c);
		close_all(mine, 4);
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
	back[0] = pid;
	back[1] = 0;
	for (int t = 0; t < 4; t++) {
		if (mine[t] < 0)
			continue;
		/* A parked end that cannot be kept goes to runnerd at once. */
		if ((req.park & (1u << t)) && park(id, (uint32_t) t, mine[t]))
			continue;
		back[1] |= 1 << t;
		give[n_give++] = mine[t];
	}
	reply_fds(SPAWNER_SPAWNED, id, back, sizeof(back), give, n_give);
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
	case SPAWNER_TAKE:
		take(h.id, body, h.len);
		break;
	case SPAWNER_DROP:
		drop(h.id, body, h.len);
		break;
	case SPAWNER_FORGET:
		forget(h.id);
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

/* Markers for the epoll data of our two own fds; parked ends carry their
 * struct parked. */
static char ctl_tag, sig_tag;

static void
watch(int fd, void *tag, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = tag };

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		perror("runnerd-spawner: epoll_ctl");
		exit(71);
	}
}

static bool
parse_nofile(int argc, char **argv)
{
	char *end;

	if (argc != 4)
		return argc == 2;
	child_nofile.rlim_cur = strtoull(argv[2], &end, 10);
	if (*end != '\0')
		return false;
	child_nofile.rlim_max = strtoull(argv[3], &end, 10);
	if (*end != '\0')
		return false;
	restore_nofile = true;
	return true;
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[64];
	bool want_out = false;
	sigset_t chld;
	char *end;
	int sfd;

	if ((argc != 2 && argc != 4) || (ctl = (int) strtol(argv[1], &end, 10), *end != '\0') || ctl < 0 ||
	    !parse_nofile(argc, argv)) {
		fprintf(stderr, "usage: runnerd-spawner FD [NOFILE_CUR NOFILE_MAX] (started by runnerd)\n");
		return 64;
	}
	if (fcntl(ctl, F_SETFD, FD_CLOEXEC) != 0) {
		perror("runnerd-spawner: control fd");
		return 71;
	}
	signal(SIGPIPE, SIG_IGN);
	choose_clone_flags();
	/* Orphans of our children come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if ((sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("runnerd-spawner: signalfd/epoll");
		return 71;
	}
	watch(ctl, &ctl_tag, EPOLLIN);
	watch(sfd, &sig_tag, EPOLLIN);
	for (;;) {
		int n;

		if ((outq != NULL) != want_out) {
			want_out = outq != NULL;
			watch(ctl, &ctl_tag, EPOLLIN | (want_out ? EPOLLOUT : 0));
		}
		if ((n = epoll_wait(epfd, evs, 64, -1)) < 0) {
			if (errno == EINTR)
				continue;
			shut_down();
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			uint32_t ev = evs[i].events;

			if (tag == &sig_tag) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) > 0)
					;
				reap();
			} else if (tag == &ctl_tag) {
				if (ev & EPOLLOUT)
					flush_out();
				if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && handle_message() < 0)
					shut_down();
			} else {
				parked_ready(tag, ev);
			}
		}
		while (graveyard != NULL) {
			struct parked *p = graveyard;
			graveyard = p->next;
			free(p);
		}
	}
}
