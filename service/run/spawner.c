/* runnerd's side of the spawner processes: see spawner.h. */
#include "run/spawner.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/reaper.h"
#include "spawn_child.h"

#define WATCH_BUCKETS 4096
#define RESTART_DELAY_US 100000

struct spawner_proc {
	struct spawners *owner;
	struct loop_watch io;      /* our end of the socketpair */
	struct reaper_watch child; /* the spawner process itself */
	struct loop_timer restart;
	uint8_t *in;               /* replies received, not yet parsed */
	size_t in_len, in_cap;
	int *fdq;                  /* fds received, not yet claimed by a reply */
	size_t fdq_len, fdq_cap;
};

struct spawners {
	struct loop *loop;
	char *path;
	char nofile[2][24];        /* children's RLIMIT_NOFILE, for the spawner's argv */
	unsigned n, next;
	uint64_t next_id;
	unsigned live;
	struct spawn_watch *watches[WATCH_BUCKETS];
	struct spawner_proc procs[];
};

#define PROC_OF(ptr, member) ((struct spawner_proc *) ((char *) (ptr) - offsetof(struct spawner_proc, member)))

static struct spawn_watch **
watch_slot(struct spawners *s, uint64_t id)
{
	struct spawn_watch **pp = &s->watches[id % WATCH_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Take `w` out of the table; it gets no callback after this. */
static void
unlink_watch(struct spawners *s, struct spawn_watch *w)
{
	struct spawn_watch **pp = watch_slot(s, w->id);

	if (*pp == w) {
		*pp = w->next;
		s->live--;
	}
	w->proc = NULL;
}

static void proc_io(struct loop_watch *lw, uint32_t events);
static void proc_reaped(struct reaper_watch *rw, int wstatus, const struct rusage *ru);

static void
proc_close(struct spawner_proc *p)
{
	if (p->io.fd >= 0) {
		loop_watch_del(p->owner->loop, &p->io);
		close(p->io.fd);
		p->io.fd = -1;
	}
	p->in_len = 0;
	while (p->fdq_len > 0)
		close(p->fdq[--p->fdq_len]);
}

static int
proc_launch(struct spawner_proc *p, rstatus *st)
{
	char *argv[] = { p->owner->path, "3", p->owner->nofile[0], p->owner->nofile[1], NULL };
	char *envp[] = { NULL };
	struct spawn_request sr = {
		.argv = argv,
		.envp = envp,
		.cwd = "/",
		.stdin_fd = -1,
		.stdout_fd = -1,
		.stderr_fd = STDERR_FILENO, /* its rare complaints go to our log */
		.status_fd = -1,
	};
	int sv[2], rv, err;

	if (p->owner->nofile[0][0] == '\0')
		argv[2] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, errno, "spawner: socketpair");
	sr.status_fd = sv[1]; /* becomes the spawner's fd 3 */
	rv = spawn_child(&sr, &p->child.pid, &err, st);
	close(sv[1]);
	if (rv < 0) {
		close(sv[0]);
		return rv;
	}
	p->io.fd = sv[0];
	p->io.cb = proc_io;
	p->child.reaped = proc_reaped;
	p->child.exiting = NULL;
	reaper_track(&p->child);
	return loop_watch_add(p->owner->loop, &p->io, EPOLLIN, st);
}

static void
restart_cb(struct loop_timer *t)
{
	struct spawner_proc *p = PROC_OF(t, restart);
	rstatus st;

	if (proc_launch(p, &st) < 0) {
		proc_close(p);
		loop_timer_arm(p->owner->loop, t, loop_now_us() + RESTART_DELAY_US);
	}
}

/* The spawner is gone (a bug: it never exits while we hold its channel).
 * Its children are ours now (we are a subreaper): they die by group, and
 * their owners learn it as a SIGKILL. */
static void
proc_lost(struct spawner_proc *p)
{
	struct spawners *s = p->owner;
	struct spawn_watch *lost = NULL;
	static const struct spawner_exit killed = { .wstatus = SIGKILL };

	proc_close(p);
	for (unsigned b = 0; b < WATCH_BUCKETS; b++)
		for (struct spawn_watch **pp = &s->watches[b]; *pp;) {
			struct spawn_watch *w = *pp;
			if (w->proc != p) {
				pp = &w->next;
				continue;
			}
			*pp = w->next;
			s->live--;
			w->next = lost;
			lost = w;
		}
	/* The owners do not free their watches from these callbacks (job.c
	 * finishes from a posted task). */
	while (lost != NULL) {
		struct spawn_watch *w = lost;
		uint8_t parked = w->parked;
		lost = w->next;
		w->proc = NULL;
		w->parked = 0;
		for (int t = 0; t < 4; t++)
			if (parked & (1u << t))
				w->ops->fd(w, t, -1);
		if (w->reaped)
			continue;
		w->reaped = true;
		if (w->pid > 0) {
			kill(w->setsid ? -w->pid : w->pid, SIGKILL);
			w->ops->exited(w, &killed);
		} else {
			w->ops->failed(w, STAGE_SPAWN, EPIPE);
		}
	}
	/* A new spawner once this one is reaped (proc_reaped), so that the
	 * two never share p->child. */
	if (p->child.pid > 0)
		kill(p->child.pid, SIGKILL);
	else if (!p->restart.armed)
		loop_timer_arm(s->loop, &p->restart, loop_now_us());
}

static void
proc_reaped(struct reaper_watch *rw, int wstatus, const struct rusage *ru)
{
	struct spawner_proc *p = PROC_OF(rw, child);

	p->child.pid = 0;
	if (p->io.fd >= 0)
		proc_lost(p);
	else if (!p->restart.armed)
		loop_timer_arm(p->owner->loop, &p->restart, loop_now_us());
}

/* The next `n` fds received, into out[] (-1 past what came); false when
 * fewer came than the reply says (a broken spawner). */
static bool
pop_fds(struct spawner_proc *p, int n, int *out)
{
	if ((size_t) n > p->fdq_len)
		return false;
	memcpy(out, p->fdq, (size_t) n * sizeof(int));
	memmove(p->fdq, p->fdq + n, (p->fdq_len - (size_t) n) * sizeof(int));
	p->fdq_len -= (size_t) n;
	return true;
}

/* A reaped child whose ends are all back needs its watch no more. */
static void
maybe_release(struct spawners *s, struct spawn_watch *w)
{
	if (w->reaped && w->parked == 0)
		unlink_watch(s, w);
}

/* One reply; false when it breaks the protocol. */
static bool
dispatch(struct spawner_proc *p, const struct spawner_hdr *h, const uint8_t *body)
{
	struct spawners *s = p->owner;
	struct spawn_watch *w = *watch_slot(s, h->id);
	int32_t v[2];
	int fds[4] = { -1, -1, -1, -1 }, got[4], n = 0;

	switch (h->type) {
	case SPAWNER_SPAWNED:
		if (h->len != sizeof(v))
			return false;
		memcpy(v, body, sizeof(v));
		for (int t = 0; t < 4; t++)
			n += (v[1] >> t) & 1;
		if (!pop_fds(p, n, got))
			return false;
		n = 0;
		for (int t = 0; t < 4; t++)
			if (v[1] & (1 << t))
				fds[t] = got[n++];
		if (w == NULL) {
			for (int t = 0; t < 4; t++)
				if (fds[t] >= 0)
					close(fds[t]);
			return true; /* forgotten by its owner */
		}
		w->pid = v[0];
		/* What the spawner could not keep came back with the rest. */
		w->parked &= (uint8_t) ~v[1];
		w->ops->spawned(w, w->pid, fds);
		return true;
	case SPAWNER_FD: {
		struct spawner_fd f;
		if (h->len != sizeof(f))
			return false;
		memcpy(&f, body, sizeof(f));
		if (f.fd > 3 || (!(f.flags & SPAWNER_FD_CLOSED) && !pop_fds(p, 1, &fds[0])))
			return false;
		if (w == NULL || !(w->parked & (1u << f.fd))) {
			if (fds[0] >= 0)
				close(fds[0]);
			return true;
		}
		w->parked &= (uint8_t) ~(1u << f.fd);
		maybe_release(s, w);
		w->ops->fd(w, (int) f.fd, fds[0]);
		return true;
	}
	case SPAWNER_FAILED:
		if (h->len != sizeof(v))
			return false;
		if (w == NULL)
			return true;
		memcpy(v, body, sizeof(v));
		w->parked = 0; /* the spawner closed every pipe it made */
		w->reaped = true;
		unlink_watch(s, w);
		w->ops->failed(w, v[0], v[1]);
		return true;
	case SPAWNER_EXITED: {
		struct spawner_exit ex;
		if (h->len != sizeof(ex))
			return false;
		if (w == NULL)
			return true;
		memcpy(&ex, body, sizeof(ex));
		w->reaped = true;
		maybe_release(s, w);
		w->ops->exited(w, &ex);
		return true;
	}
	default:
		return true;
	}
}

/* Read what the spawner sent: bytes into p->in, fds onto p->fdq (each
 * reply's fds arrive no later than its first byte). */
static int
proc_read(struct spawner_proc *p)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(16 * sizeof(int))];
		} cm;
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf) };
		ssize_t n;

		if (p->in_cap - p->in_len < 4096) {
			size_t cap = p->in_cap ? p->in_cap * 2 : 16384;
			uint8_t *nb = realloc(p->in, cap);
			if (nb == NULL)
				return 0; /* try again at the next event */
			p->in = nb;
			p->in_cap = cap;
		}
		if (p->fdq_cap - p->fdq_len < 16) {
			size_t cap = p->fdq_cap ? p->fdq_cap * 2 : 32;
			int *nq = realloc(p->fdq, cap * sizeof(int));
			if (nq == NULL)
				return 0;
			p->fdq = nq;
			p->fdq_cap = cap;
		}
		iov.iov_base = p->in + p->in_len;
		iov.iov_len = p->in_cap - p->in_len;
		n = recvmsg(p->io.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			size_t k;
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++)
				memcpy(&p->fdq[p->fdq_len++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		/* Lost fds would make every later reply claim the wrong ones. */
		if (mh.msg_flags & MSG_CTRUNC)
			return -1;
		p->in_len += (size_t) n;
		/* Short: most likely all there was (epoll says if not), so no
		 * extra call to hear EAGAIN. */
		if ((size_t) n < iov.iov_len)
			return 0;
	}
}

static void
proc_io(struct loop_watch *lw, uint32_t events)
{
	struct spawner_proc *p = PROC_OF(lw, io);
	size_t off = 0;

	if (proc_read(p) < 0) {
		proc_lost(p);
		return;
	}
	while (p->in_len - off >= sizeof(struct spawner_hdr)) {
		struct spawner_hdr h;
		memcpy(&h, p->in + off, sizeof(h));
		if (p->in_len - off - sizeof(h) < h.len)
			break;
		if (!dispatch(p, &h, p->in + off + sizeof(h))) {
			/* A spawner that breaks the protocol is stopped: its
			 * children die with it (EOF on its channel). */
			proc_lost(p);
			return;
		}
		/* A callback may have lost this spawner (and emptied in). */
		if (p->in_len == 0)
			return;
		off += sizeof(h) + h.len;
	}
	memmove(p->in, p->in + off, p->in_len - off);
	p->in_len -= off;
}

static int
send_all(int fd, const struct spawner_hdr *h, const void *body, const int *fds, int n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct iovec iov[2] = { { (void *) h, sizeof(*h) }, { (void *) body, h->len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = h->len ? 2 : 1 };
	size_t total = sizeof(*h) + h->len, sent;
	ssize_t n;

	if (n_fds > 0) {
		struct cmsghdr *c;
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE((size_t) n_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t) n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t) n_fds * sizeof(int));
	}
	while ((n = sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	/* The spawner reads promptly and never blocks on us, so a blocking
	 * send of the rest cannot deadlock. */
	for (sent = (size_t) n; sent < total;) {
		const uint8_t *src = sent < sizeof(*h) ? (const uint8_t *) h + sent
						       : (const uint8_t *) body + (sent - sizeof(*h));
		size_t chunk = sent < sizeof(*h) ? sizeof(*h) - sent : total - sent;
		if ((n = send(fd, src, chunk, MSG_NOSIGNAL)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		sent += (size_t) n;
	}
	return 0;
}

int
spawner_spawn(struct spawners *s, struct spawn_watch *w, const struct spawner_req *req, const int *fds,
	      int n_fds, rstatus *st)
{
	struct spawner_proc *p = NULL;
	struct spawner_hdr h = { .type = SPAWNER_SPAWN };
	uint8_t *body = NULL;
	int rv;

	for (unsigned i = 0; i < s->n && p == NULL; i++) {
		struct spawner_proc *c = &s->procs[(s->next + i) % s->n];
		if (c->io.fd >= 0)
			p = c;
	}
	if (p == NULL)
		return rstatus_fail(st, RS_UNAVAILABLE, "no spawner process is running (restarting)");
	s->next = (unsigned) (p - s->procs + 1) % s->n;
	if ((h.len = (uint32_t) spawner_req_encode(req, &body)) == 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "the command is too large to spawn");
	h.id = ++s->next_id;
	if ((rv = send_all(p->io.fd, &h, body, fds, n_fds)) < 0) {
		free(body);
		return rstatus_fail_errno(st, RS_UNAVAILABLE, -rv, "spawner");
	}
	free(body);
	w->id = h.id;
	w->pid = 0;
	w->setsid = (req->flags & SPAWN_SETSID) != 0;
	w->reaped = false;
	w->parked = (uint8_t) (req->park & 0xf);
	w->proc = p;
	w->next = s->watches[h.id % WATCH_BUCKETS];
	s->watches[h.id % WATCH_BUCKETS] = w;
	s->live++;
	return 0;
}

int
spawn_watch_signal(struct spawn_watch *w, int sig)
{
	struct spawner_hdr h = { .type = SPAWNER_SIGNAL, .len = sizeof(int32_t), .id = w->id };
	int32_t s32 = sig;

	if (w->proc == NULL || w->pid == 0 || w->proc->io.fd < 0)
		return -ESRCH;
	return send_all(w->proc->io.fd, &h, &s32, NULL, 0);
}

/* A message about `w`'s child with a u32 body (TAKE, DROP), or none. */
static int
send_about(struct spawn_watch *w, uint32_t type, const uint32_t *arg)
{
	struct spawner_hdr h = { .type = type, .len = arg ? sizeof(*arg) : 0, .id = w->id };

	if (w->proc == NULL || w->proc->io.fd < 0)
		return -ESRCH;
	return send_all(w->proc->io.fd, &h, arg, NULL, 0);
}

bool
spawn_watch_parked(const struct spawn_watch *w, int which)
{
	return w->proc != NULL && (w->parked & (1u << which));
}

int
spawn_watch_take(struct spawn_watch *w, int which)
{
	uint32_t v = (uint32_t) which;

	if (!spawn_watch_parked(w, which))
		return -ESRCH;
	return send_about(w, SPAWNER_TAKE, &v);
}

void
spawn_watch_drop(struct spawn_watch *w, int which)
{
	uint32_t v = (uint32_t) which;

	if (!spawn_watch_parked(w, which))
		return;
	(void) send_about(w, SPAWNER_DROP, &v);
	w->parked &= (uint8_t) ~(1u << which);
	maybe_release(w->proc->owner, w);
}

void
spawn_watch_forget(struct spawn_watch *w)
{
	if (w->proc == NULL)
		return;
	if (w->parked != 0)
		(void) send_about(w, SPAWNER_FORGET, NULL);
	w->parked = 0;
	unlink_watch(w->proc->owner, w);
}

unsigned
spawners_live(const struct spawners *s)
{
	return s->live;
}

void
spawners_free(struct spawners *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		struct spawner_proc *p = &s->procs[i];
		loop_timer_disarm(s->loop, &p->restart);
		/* EOF tells the spawner to kill what it still has and exit; our
		 * reaper (or init) collects it. */
		proc_close(p);
		if (p->child.pid > 0)
			reaper_untrack(&p->child);
		free(p->in);
		free(p->fdq);
	}
	free(s->path);
	free(s);
}

int
spawners_start(struct spawners **out, struct loop *l, unsigned n, const char *path,
	       const struct rlimit *child_nofile, rstatus *st)
{
	struct spawners *s;
	int rv;

	*out = NULL;
	if (n == 0)
		n = 1;
	if ((s = calloc(1, sizeof(*s) + n * sizeof(s->procs[0]))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	s->loop = l;
	s->n = n;
	if (child_nofile != NULL) {
		snprintf(s->nofile[0], sizeof(s->nofile[0]), "%llu", (unsigned long long) child_nofile->rlim_cur);
		snprintf(s->nofile[1], sizeof(s->nofile[1]), "%llu", (unsigned long long) child_nofile->rlim_max);
	}
	for (unsigned i = 0; i < n; i++) {
		s->procs[i].owner = s;
		s->procs[i].io.fd = -1;
		s->procs[i].restart.cb = restart_cb;
	}
	for (unsigned i = 0; i < n; i++)
		if ((rv = proc_launch(&s->procs[i], st)) < 0) {
			spawners_free(s);
			return rv;
		}
	*out = s;
	return 0;
}
