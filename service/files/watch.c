/* watch.c — WatchDir: a directory's changes, as FileEvents on the stream
 * socket (the stream layer's source of frames, session/streams.h).
 *
 * A watch owns an inotify instance, read on the loop (non-blocking). What
 * touches the file system is a worker's job, as the watch's user: opening
 * a directory beneath the watched one (openat2, no symlinks), adding its
 * inotify watch through the descriptor (/proc/self/fd/N, which a thread of
 * the process may always follow; inotify then checks read permission as
 * that user), and listing what it already holds. So a subdirectory the
 * user may not read is never watched, and the loop never waits on a disk.
 *
 * Events are numbered and kept until the reader acknowledges them (at most
 * WATCH_MAX_EVENTS); when the queue is full new events are dropped and an
 * EVENTS_LOST event takes their place once there is room. A MOVED_FROM is
 * held until its MOVED_TO (same cookie) to make one FILE_RENAMED; alone,
 * it is a removal (moved out of the watch).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <unistd.h>

#include <nng/nng.h>

#include "files/beneath.h"
#include "files/files_internal.h"
#include "utf8.h"

#define WATCH_MAX_EVENTS 4096      /* retained per watch */
#define WATCH_FRAME_EVENTS 1024    /* per frame */
#define WATCH_FRAME_BYTES (1024u * 1024u - 16384u)
#define WATCH_MAX_DIRS 8192        /* inotify watches per recursive watch */
#define WATCH_MAX_PENDING 4096     /* raw events waiting for their directory's registration */
#define WATCH_SECRET_LEN 32
#define WATCH_MOVE_FLUSH_US 50000  /* a MOVED_FROM alone this long was a move out */
#define WATCH_MASK                                                                                 \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
	 IN_ONLYDIR | IN_EXCL_UNLINK)

struct wdir {
	int wd;
	char *rel; /* relative to the watched directory; "" for itself */
};

struct wevent {
	int kind;  /* Runner__V1__FileEventKind */
	int type;  /* Runner__V1__FileType */
	char *path, *from;
};

/* An inotify event read before its directory's registration came back. */
struct raw_event {
	int wd;
	uint32_t mask, cookie;
	char *name;
};

struct watch {
	struct files *f;
	char id[33];
	uint8_t secret[WATCH_SECRET_LEN];
	char address[700];
	char shown[4096];
	bool recursive;
	struct user_ids ids;
	bool as_user;
	/* Where the watched directory is. No descriptor of it is kept: an
	 * open one would hold off IN_DELETE_SELF until it is closed, so the
	 * watch would never learn that its directory was removed. */
	struct files_location loc;
	int ifd;
	struct loop_watch lw;
	bool lw_added;
	struct wdir *dirs;
	size_t n_dirs, cap_dirs;
	/* Events [base, end), in ring slots seq % WATCH_MAX_EVENTS. */
	struct wevent *ring;
	uint64_t base, end;
	bool lost;
	/* A MOVED_FROM waiting for its MOVED_TO. */
	bool move_pending;
	uint32_t move_cookie;
	char *move_from;
	bool move_isdir;
	struct loop_timer move_timer;
	struct raw_event *pending;
	size_t n_pending;
	unsigned jobs;             /* scans in flight */
	/* The reader. */
	struct stream_reader *reader;
	uint64_t pos;              /* next event to send it */
	uint64_t idle_since_us;    /* unattached since */
	bool ended;                /* a last frame is due: end_code, end_message */
	int end_code;
	char end_message[200];
	bool dead;                 /* to be freed once no scan is in flight */
	struct watch *next, *prev;
};

/* A scan: directories to open and watch beneath the watched one, with
 * what they already hold (worker), registered on the loop. */
struct scan {
	struct watch *w;
	bool initial;              /* the watch's start: the base directory itself */
	char *rel;                 /* the directory to scan ("" for the base) */
	/* Results. */
	struct wdir *found;        /* watches added */
	size_t n_found, cap_found;
	struct wevent *created;    /* entries already there (not for the initial scan) */
	size_t n_created, cap_created;
	int ifd;                   /* the initial scan creates it */
	struct files_location loc; /* ...and locates the directory */
};

static void watch_end(struct watch *w, int code, const char *message);
static void scan_queue(struct watch *w, const char *rel);

/* --- events ------------------------------------------------------------------------- */

static struct wevent *
slot(struct watch *w, uint64_t seq)
{
	return &w->ring[seq % WATCH_MAX_EVENTS];
}

static void
event_clear(struct wevent *e)
{
	free(e->path);
	free(e->from);
	e->path = e->from = NULL;
}

/* A name as it may travel in a protobuf string (taken; NULL stays NULL). */
static char *
as_utf8(char *s)
{
	bool exact;
	char *t;

	if (s == NULL || (t = utf8_lossy(s, strlen(s), &exact)) == NULL)
		return s;
	if (exact) {
		free(t);
		return s;
	}
	free(s);
	return t;
}

/* Queue an event (taking path and from); dropped, and EVENTS_LOST
 * remembered, when the queue is full. */
static void
push(struct watch *w, int kind, int type, char *path, char *from)
{
	struct wevent *last = w->end > w->pos ? slot(w, w->end - 1) : NULL;

	/* Writes come in bursts of IN_MODIFY: one event while unsent. */
	if (kind == RUNNER__V1__FILE_EVENT_KIND__FILE_MODIFIED && last != NULL &&
	    last->kind == RUNNER__V1__FILE_EVENT_KIND__FILE_MODIFIED && strcmp(last->path, path) == 0) {
		free(path);
		free(from);
		return;
	}
	if (w->lost && w->end - w->base < WATCH_MAX_EVENTS) {
		*slot(w, w->end++) = (struct wevent){ .kind = RUNNER__V1__FILE_EVENT_KIND__EVENTS_LOST };
		w->lost = false;
	}
	if (w->end - w->base >= WATCH_MAX_EVENTS) {
		w->lost = true;
		free(path);
		free(from);
		return;
	}
	*slot(w, w->end++) = (struct wevent){ .kind = kind, .type = type, .path = as_utf8(path), .from = as_utf8(from) };
}

static struct wdir *
dir_by_wd(struct watch *w, int wd)
{
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static int
add_dir(struct wdir **v, size_t *n, size_t *cap, int wd, char *rel)
{
	if (*n == *cap) {
		struct wdir *nv = realloc(*v, (*cap = *cap ? 2 * *cap : 16) * sizeof(**v));
		if (nv == NULL) {
			free(rel);
			return -ENOMEM;
		}
		*v = nv;
	}
	(*v)[(*n)++] = (struct wdir){ .wd = wd, .rel = rel };
	return 0;
}

static void
drop_dir(struct watch *w, size_t i)
{
	free(w->dirs[i].rel);
	w->dirs[i] = w->dirs[--w->n_dirs];
}

static bool
under(const char *rel, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(rel, prefix, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

/* A directory moved within the watch: its watches' paths follow. */
static void
rename_dirs(struct watch *w, const char *from, const char *to)
{
	for (size_t i = 0; i < w->n_dirs; i++) {
		char *rel;
		if (!under(w->dirs[i].rel, from) ||
		    asprintf(&rel, "%s%s", to, w->dirs[i].rel + strlen(from)) < 0)
			continue;
		free(w->dirs[i].rel);
		w->dirs[i].rel = rel;
	}
}

/* A directory left the watch: stop watching it and what is under it. */
static void
forget_dirs(struct watch *w, const char *rel)
{
	for (size_t i = 0; i < w->n_dirs;) {
		if (under(w->dirs[i].rel, rel)) {
			(void) inotify_rm_watch(w->ifd, w->dirs[i].wd);
			drop_dir(w, i);
		} else {
			i++;
		}
	}
}

static int
type_of(uint32_t mask)
{
	return mask & IN_ISDIR ? RUNNER__V1__FILE_TYPE__FILE_DIRECTORY : RUNNER__V1__FILE_TYPE__FILE_REGULAR;
}

/* The held MOVED_FROM had no MOVED_TO: it moved out. */
static void
flush_move(struct watch *w)
{
	if (!w->move_pending)
		return;
	w->move_pending = false;
	loop_timer_disarm(w->f->loop, &w->move_timer);
	if (w->move_isdir)
		forget_dirs(w, w->move_from);
	push(w, RUNNER__V1__FILE_EVENT_KIND__FILE_REMOVED,
	     w->move_isdir ? RUNNER__V1__FILE_TYPE__FILE_DIRECTORY : RUNNER__V1__FILE_TYPE__FILE_REGULAR, w->move_from,
	     NULL);
	w->move_from = NULL;
}

static void
notify_reader(struct watch *w)
{
	if (w->reader != NULL && w->pos < w->end)
		streams_source_ready(w->reader);
}

static void
move_timer_cb(struct loop_timer *t)
{
	struct watch *w = (struct watch *) ((char *) t - offsetof(struct watch, move_timer));

	flush_move(w);
	notify_reader(w);
}

/* Keep an event of a directory not registered yet (a scan in flight). */
static void
hold(struct watch *w, int wd, uint32_t mask, uint32_t cookie, const char *name)
{
	struct raw_event *nv;

	if (w->n_pending >= WATCH_MAX_PENDING ||
	    (nv = realloc(w->pending, (w->n_pending + 1) * sizeof(*nv))) == NULL) {
		w->lost = true;
		return;
	}
	w->pending = nv;
	nv[w->n_pending++] = (struct raw_event){ .wd = wd, .mask = mask, .cookie = cookie, .name = strdup(name) };
}

/* One inotify event, as FileEvents; one of a directory not registered yet
 * is held while scans are in flight (`may_hold`). Returns false when the
 * watch ended. */
static bool
translate(struct watch *w, int wd, uint32_t mask, uint32_t cookie, const char *name, bool may_hold)
{
	struct wdir *d;
	char *path;

	if (mask & IN_Q_OVERFLOW) {
		flush_move(w);
		w->lost = true;
		push(w, RUNNER__V1__FILE_EVENT_KIND__EVENTS_LOST, 0, NULL, NULL);
		return true;
	}
	if ((d = dir_by_wd(w, wd)) == NULL) {
		/* Its registration is on its way back from a worker. */
		if (may_hold && w->jobs > 0 && !(mask & IN_IGNORED))
			hold(w, wd, mask, cookie, name);
		return true;
	}
	if (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
		if (d->rel[0] == '\0') {
			flush_move(w);
			watch_end(w, RS_NOT_FOUND,
				  mask & IN_MOVE_SELF ? "the watched directory was moved away"
						      : "the watched directory was removed");
			return false;
		}
		if (mask & IN_IGNORED)
			drop_dir(w, (size_t) (d - w->dirs));
		return true;
	}
	if (w->move_pending && !((mask & IN_MOVED_TO) && cookie == w->move_cookie))
		flush_move(w);
	if ((path = files_join(d->rel, name)) == NULL) {
		w->lost = true;
		return true;
	}
	if (mask & IN_MOVED_FROM) {
		w->move_pending = true;
		w->move_cookie = cookie;
		w->move_from = path;
		w->move_isdir = (mask & IN_ISDIR) != 0;
		loop_timer_arm(w->f->loop, &w->move_timer, loop_now_us() + WATCH_MOVE_FLUSH_US);
	} else if ((mask & IN_MOVED_TO) && w->move_pending) {
		w->move_pending = false;
		loop_timer_disarm(w->f->loop, &w->move_timer);
		if (mask & IN_ISDIR)
			rename_dirs(w, w->move_from, path);
		push(w, RUNNER__V1__FILE_EVENT_KIND__FILE_RENAMED, type_of(mask), path, w->move_from);
		w->move_from = NULL;
	} else if (mask & (IN_CREATE | IN_MOVED_TO)) {
		bool dir = (mask & IN_ISDIR) != 0;
		char *copy = dir && w->recursive ? strdup(path) : NULL;
		push(w, RUNNER__V1__FILE_EVENT_KIND__FILE_CREATED, type_of(mask), path, NULL);
		if (copy != NULL) {
			scan_queue(w, copy);
			free(copy);
		}
	} else if (mask & IN_DELETE) {
		push(w, RUNNER__V1__FILE_EVENT_KIND__FILE_REMOVED, type_of(mask), path, NULL);
	} else if (mask & IN_MODIFY) {
		push(w, RUNNER__V1__FILE_EVENT_KIND__FILE_MODIFIED, type_of(mask), path, NULL);
	} else {
		free(path);
	}
	return true;
}

static void
inotify_ready(struct loop_watch *lw, uint32_t events)
{
	struct watch *w = (struct watch *) ((char *) lw - offsetof(struct watch, lw));
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *) p;
			p += sizeof(*e) + e->len;
			if (!translate(w, e->wd, e->mask, e->cookie, e->len ? e->name : "", true))
				return;
		}
	}
	notify_reader(w);
}

/* --- scans (on a worker, as the watch's user) ------------------------------------------- */

/* Watch the directory `fd` (ours) through its descriptor. */
static int
add_watch_fd(int ifd, int fd)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return inotify_add_watch(ifd, proc, WATCH_MASK);
}

/* Watch `rel` and, for a recursive watch, every directory under it;
 * note what they hold (`note`: as FILE_CREATED events). */
static int
scan_tree(struct scan *sc, int basefd, int ifd, bool recursive, bool note, rstatus *st)
{
	char **queue = NULL;
	size_t head = 0, n_queue = 0, cap = 0;
	int rv = 0;

	if ((queue = malloc(sizeof(char *))) == NULL || (queue[0] = strdup(sc->rel)) == NULL) {
		free(queue);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	n_queue = cap = 1;
	while (rv == 0 && head < n_queue) {
		char *rel = queue[head++];
		int fd, wd, keep;
		DIR *d;
		struct dirent *e;
		rstatus why;

		if (beneath_open(basefd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
				 BENEATH_FLAGS_STRICT, sc->w->shown, &fd, &why) < 0) {
			if (head == 1 && sc->initial) {
				*st = why;
				rv = -why.code;
			}
			continue; /* gone again, or not ours to read: not watched */
		}
		if ((wd = add_watch_fd(ifd, fd)) < 0) {
			if (errno == ENOSPC || sc->n_found >= WATCH_MAX_DIRS)
				rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
						  "%s: too many directories to watch (the system's inotify limit)",
						  sc->w->shown);
			else if (head == 1 && sc->initial)
				rv = files_errno(st, errno, sc->w->shown, "watch");
			close(fd);
			continue;
		}
		if (sc->n_found >= WATCH_MAX_DIRS) {
			close(fd);
			rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "%s: more than %d directories to watch",
					  sc->w->shown, WATCH_MAX_DIRS);
			break;
		}
		if (add_dir(&sc->found, &sc->n_found, &sc->cap_found, wd, strdup(rel)) < 0) {
			close(fd);
			rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
			break;
		}
		if (!recursive && !note) {
			close(fd);
			continue;
		}
		keep = dup(fd);
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			if (keep >= 0)
				close(keep);
			continue;
		}
		while ((e = readdir(d)) != NULL && rv == 0) {
			struct stat sb;
			bool is_dir;
			char *path;

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			is_dir = keep >= 0 && fstatat(keep, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
				 S_ISDIR(sb.st_mode);
			if ((path = files_join(rel, e->d_name)) == NULL)
				continue;
			if (note) {
				struct wevent *nv = sc->n_created < sc->cap_created
							    ? sc->created
							    : realloc(sc->created, (sc->cap_created = sc->cap_created ? 2 * sc->cap_created : 16) *
											   sizeof(*nv));
				if (nv != NULL) {
					sc->created = nv;
					nv[sc->n_created++] = (struct wevent){
						.kind = RUNNER__V1__FILE_EVENT_KIND__FILE_CREATED,
						.type = is_dir ? RUNNER__V1__FILE_TYPE__FILE_DIRECTORY
							       : RUNNER__V1__FILE_TYPE__FILE_REGULAR,
						.path = strdup(path),
					};
				}
			}
			if (is_dir && recursive) {
				if (n_queue == cap) {
					char **nq = realloc(queue, (cap *= 2) * sizeof(*nq));
					if (nq == NULL) {
						free(path);
						rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
						break;
					}
					queue = nq;
				}
				queue[n_queue++] = path;
			} else {
				free(path);
			}
		}
		closedir(d);
		if (keep >= 0)
			close(keep);
	}
	for (size_t i = 0; i < n_queue; i++)
		free(queue[i]);
	free(queue);
	return rv;
}

/* The watched directory, opened for a scan (beneath its root, afresh). */
static int
open_base(struct files_job *j, const struct files_location *loc, int *fd, rstatus *st)
{
	int rootfd, rv;

	if ((rv = files_job_root(j, loc, &rootfd, st)) < 0)
		return rv;
	rv = beneath_open(rootfd, loc->rel, O_RDONLY | O_DIRECTORY, 0, 0, loc->path, fd, st);
	close(rootfd);
	return rv;
}

static int
scan_run(struct files_job *j, rstatus *st)
{
	struct scan *sc = j->arg;
	struct watch *w = sc->w;
	int basefd, rv;

	if (sc->initial) {
		if ((rv = files_policy_locate(&j->policy, ((const Runner__V1__WatchDirRequest *) j->c->request)->path,
					      false, &sc->loc, st)) < 0 ||
		    (rv = open_base(j, &sc->loc, &basefd, st)) < 0)
			return rv;
		snprintf(w->shown, sizeof(w->shown), "%s", sc->loc.path);
		if ((sc->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
			rv = errno == EMFILE ? rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
							    "no inotify instance left (fs.inotify.max_user_instances)")
					     : files_errno(st, errno, sc->loc.path, "inotify_init");
		} else {
			rv = scan_tree(sc, basefd, sc->ifd, w->recursive, false, st);
		}
		close(basefd);
		return rv;
	}
	/* The directory is gone, or was replaced: its events say so. */
	if (open_base(j, &w->loc, &basefd, st) < 0)
		return 0;
	rv = scan_tree(sc, basefd, w->ifd, true, true, st);
	close(basefd);
	return rv;
}

static void
scan_free(struct scan *sc)
{
	for (size_t i = 0; i < sc->n_found; i++)
		free(sc->found[i].rel);
	free(sc->found);
	for (size_t i = 0; i < sc->n_created; i++)
		event_clear(&sc->created[i]);
	free(sc->created);
	free(sc->rel);
	free(sc);
}

static void watch_free(struct watch *w);

/* A later scan is back: register its directories, report what they held,
 * then the events that waited for them. */
static void
scan_finish(struct files_job *j)
{
	struct scan *sc = j->arg;
	struct watch *w = sc->w;
	struct raw_event *pending = w->pending;
	size_t n_pending = w->n_pending;

	/* This job still counts while it works: an end met on the way marks
	 * the watch dead instead of freeing it under our feet. */
	if (w->dead) {
		;
	} else if (j->rv < 0 && j->st.code == RS_RESOURCE_EXHAUSTED) {
		watch_end(w, RS_RESOURCE_EXHAUSTED, j->st.message);
	} else if (!w->ended) {
		for (size_t i = 0; i < sc->n_found; i++) {
			if (add_dir(&w->dirs, &w->n_dirs, &w->cap_dirs, sc->found[i].wd, sc->found[i].rel) == 0)
				sc->found[i].rel = NULL;
		}
		sc->n_found = 0;
		for (size_t i = 0; i < sc->n_created; i++) {
			push(w, sc->created[i].kind, sc->created[i].type, sc->created[i].path, NULL);
			sc->created[i].path = NULL;
		}
		w->pending = NULL;
		w->n_pending = 0;
		for (size_t i = 0; i < n_pending; i++) {
			if (!w->ended)
				translate(w, pending[i].wd, pending[i].mask, pending[i].cookie,
					  pending[i].name ? pending[i].name : "", w->jobs > 1);
			free(pending[i].name);
		}
		free(pending);
		if (!w->dead)
			notify_reader(w);
	}
	if (--w->jobs == 0 && w->dead)
		watch_free(w);
	scan_free(sc);
	files_job_answer(j);
}

static const struct files_op op_scan = { .name = "WatchDir", .run = scan_run, .finish = scan_finish };

static void
scan_queue(struct watch *w, const char *rel)
{
	struct scan *sc = calloc(1, sizeof(*sc));
	struct files_job *j;

	if (sc == NULL || (sc->rel = strdup(rel)) == NULL) {
		free(sc);
		w->lost = true;
		return;
	}
	sc->w = w;
	if ((j = files_job_new(w->f, NULL, &op_scan, NULL, sc)) == NULL) {
		scan_free(sc);
		w->lost = true;
		return;
	}
	j->resolved = true;
	j->ids = w->ids;
	j->as_user = w->as_user;
	w->jobs++;
	files_job_queue(j);
}

/* --- the watch's life ------------------------------------------------------------------ */

static void
watch_free(struct watch *w)
{
	struct files *f = w->f;

	if (w->jobs > 0) {
		w->dead = true; /* freed by the last scan_finish */
		return;
	}
	if (w->prev)
		w->prev->next = w->next;
	else if (f->watches == w)
		f->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	f->n_watches--;
	if (w->lw_added)
		loop_watch_del(f->loop, &w->lw);
	loop_timer_disarm(f->loop, &w->move_timer);
	if (w->ifd >= 0)
		close(w->ifd);
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].rel);
	free(w->dirs);
	for (uint64_t s = w->base; s < w->end; s++)
		event_clear(slot(w, s));
	free(w->ring);
	for (size_t i = 0; i < w->n_pending; i++)
		free(w->pending[i].name);
	free(w->pending);
	free(w->move_from);
	free(w);
}

/* The watch is over: its reader gets the events still queued, then a last
 * frame with `code`. */
static void
watch_end(struct watch *w, int code, const char *message)
{
	if (w->ended)
		return;
	w->ended = true;
	w->end_code = code;
	snprintf(w->end_message, sizeof(w->end_message), "%.96s: %.96s", w->shown, message);
	if (w->lw_added) {
		loop_watch_del(w->f->loop, &w->lw);
		w->lw_added = false;
	}
	if (w->reader != NULL)
		streams_source_ready(w->reader);
}

/* The first scan is back: the watch exists from now on. */
static void
start_finish(struct files_job *j)
{
	struct scan *sc = j->arg;
	struct watch *w = sc->w;
	struct files *f = j->f;
	Runner__V1__WatchDirResponse *resp;
	rstatus st;

	w->jobs--;
	w->ifd = sc->ifd;
	w->loc = sc->loc;
	w->loc.rel = w->loc.path + (sc->loc.rel - sc->loc.path); /* it points into path */
	sc->ifd = -1;
	w->ids = j->ids;
	w->as_user = j->as_user;
	if (j->rv == 0) {
		w->dirs = sc->found;
		w->n_dirs = w->cap_dirs = sc->n_found;
		sc->found = NULL;
		sc->n_found = 0;
		w->lw.fd = w->ifd;
		w->lw.cb = inotify_ready;
		if (loop_watch_add(f->loop, &w->lw, EPOLLIN, &st) < 0) {
			j->rv = -st.code;
			j->st = st;
		} else {
			w->lw_added = true;
		}
	}
	if (j->rv == 0 && (resp = files_alloc(sizeof(*resp))) != NULL) {
		runner__v1__watch_dir_response__init(resp);
		j->reply = &resp->base;
		resp->watch_id = strdup(w->id);
		resp->stream_address = strdup(w->address);
		if ((resp->stream_secret.data = malloc(WATCH_SECRET_LEN)) != NULL) {
			memcpy(resp->stream_secret.data, w->secret, WATCH_SECRET_LEN);
			resp->stream_secret.len = WATCH_SECRET_LEN;
		}
		if (resp->watch_id == NULL || resp->stream_address == NULL || resp->stream_secret.data == NULL) {
			j->rv = rstatus_fail(&j->st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
	} else if (j->rv == 0) {
		j->rv = rstatus_fail(&j->st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (j->rv < 0 || f->stopping)
		watch_free(w);
	else
		w->idle_since_us = loop_now_us();
	scan_free(sc);
	files_job_answer(j);
}

static const struct files_op op_start = { .name = "WatchDir", .run = scan_run, .finish = start_finish };

void
files_watch_dir(struct files *f, struct call *c, const char *stream_address)
{
	const Runner__V1__WatchDirRequest *req = (const Runner__V1__WatchDirRequest *) c->request;
	uint8_t rnd[16];
	struct watch *w;
	struct scan *sc;
	struct files_job *j;

	if (f->n_watches >= f->max_watches) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "too many watches", NULL);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->ring = calloc(WATCH_MAX_EVENTS, sizeof(*w->ring))) == NULL ||
	    (sc = calloc(1, sizeof(*sc))) == NULL || (sc->rel = strdup("")) == NULL) {
		if (w != NULL)
			free(w->ring);
		free(w);
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	w->f = f;
	w->ifd = -1;
	w->recursive = req->recursive;
	w->move_timer.cb = move_timer_cb;
	snprintf(w->address, sizeof(w->address), "%s", stream_address);
	snprintf(w->shown, sizeof(w->shown), "%s", req->path);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd) ||
	    getrandom(w->secret, sizeof(w->secret), 0) != (ssize_t) sizeof(w->secret)) {
		free(sc->rel);
		free(sc);
		free(w->ring);
		free(w);
		call_reply(c, RS_INTERNAL, "getrandom failed", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(w->id + 2 * i, "%02x", rnd[i]);
	sc->w = w;
	sc->initial = true;
	sc->ifd = -1;
	/* Listed (and counted) from now on, so the limit holds for starts in flight. */
	w->next = f->watches;
	if (f->watches)
		f->watches->prev = w;
	f->watches = w;
	f->n_watches++;
	if ((j = files_job_new(f, c, &op_start, req->scope, sc)) == NULL) {
		scan_free(sc);
		watch_free(w);
		return;
	}
	w->jobs++;
	files_job_queue(j);
}

/* --- the stream layer's source ----------------------------------------------------------- */

static void *
source_bind(void *arg, const Runner__V1__WatchAttach *a, struct stream_reader *r, rstatus *st)
{
	struct files *f = arg;
	struct watch *w;
	uint8_t diff = 0;

	for (w = f->watches; w; w = w->next)
		if (!w->dead && w->lw_added + w->ended > 0 && strcmp(w->id, a->watch_id ? a->watch_id : "") == 0)
			break;
	if (w == NULL) {
		rstatus_fail(st, RS_NOT_FOUND, "no such watch");
		return NULL;
	}
	if (a->stream_secret.len != WATCH_SECRET_LEN) {
		diff = 1;
	} else {
		for (size_t i = 0; i < WATCH_SECRET_LEN; i++)
			diff |= a->stream_secret.data[i] ^ w->secret[i];
	}
	if (diff != 0) {
		rstatus_fail(st, RS_UNAUTHENTICATED, "wrong stream secret for this watch");
		return NULL;
	}
	if (a->events_offset < w->base || a->events_offset > w->end) {
		rstatus_fail(st, RS_OUT_OF_RANGE, "event %llu is not retained; the first retained event is %llu",
			     (unsigned long long) a->events_offset, (unsigned long long) w->base);
		return NULL;
	}
	if (w->reader != NULL)
		streams_source_end(w->reader, RS_ABORTED, "another reader attached to this watch");
	w->reader = r;
	w->pos = a->events_offset;
	/* What the reader says it has is acknowledged by definition. */
	files_watch_source.ack(w, a->events_offset);
	return w;
}

static nng_msg *
source_next(void *src, bool *last)
{
	struct watch *w = src;
	Runner__V1__StreamFrame fr = RUNNER__V1__STREAM_FRAME__INIT;
	Runner__V1__FileEvent ev[WATCH_FRAME_EVENTS], *evp[WATCH_FRAME_EVENTS];
	size_t n = 0, bytes = 64;
	nng_msg *msg;

	*last = false;
	if (w->pos >= w->end && !w->ended)
		return NULL;
	if (w->pos < w->end) {
		fr.stream = RUNNER__V1__STREAM_KIND__FILE_EVENTS;
		fr.offset = w->pos;
		for (uint64_t s = w->pos; s < w->end && n < WATCH_FRAME_EVENTS; s++, n++) {
			const struct wevent *e = slot(w, s);
			size_t len = 16 + (e->path ? strlen(e->path) : 0) + (e->from ? strlen(e->from) : 0);
			if (n > 0 && bytes + len > WATCH_FRAME_BYTES)
				break;
			bytes += len;
			runner__v1__file_event__init(&ev[n]);
			ev[n].kind = (Runner__V1__FileEventKind) e->kind;
			ev[n].type = (Runner__V1__FileType) e->type;
			ev[n].path = e->path ? e->path : "";
			ev[n].from_path = e->from ? e->from : "";
			evp[n] = &ev[n];
		}
		fr.events = evp;
		fr.n_events = n;
	} else {
		fr.last = true;
		fr.code = (Runner__V1__StatusCode) w->end_code;
		fr.message = w->end_message;
		*last = true;
	}
	if (nng_msg_alloc(&msg, protobuf_c_message_get_packed_size(&fr.base)) != 0) {
		*last = false;
		return NULL;
	}
	protobuf_c_message_pack(&fr.base, nng_msg_body(msg));
	w->pos += n;
	return msg;
}

static void
source_ack(void *src, uint64_t events_offset)
{
	struct watch *w = src;

	if (events_offset > w->pos)
		events_offset = w->pos;
	for (; w->base < events_offset; w->base++)
		event_clear(slot(w, w->base));
	if (w->lost && w->end - w->base < WATCH_MAX_EVENTS) {
		*slot(w, w->end++) = (struct wevent){ .kind = RUNNER__V1__FILE_EVENT_KIND__EVENTS_LOST };
		w->lost = false;
	}
}

static void
source_unbind(void *src, bool detached)
{
	struct watch *w = src;

	w->reader = NULL;
	w->idle_since_us = loop_now_us();
	/* Detached, or its last frame sent: the watch is over. */
	if (detached || w->ended)
		watch_free(w);
}

const struct stream_source_ops files_watch_source = {
	.bind = source_bind,
	.next = source_next,
	.ack = source_ack,
	.unbind = source_unbind,
};

void
watches_sweep(struct files *f, uint64_t now_us)
{
	for (struct watch *w = f->watches, *next; w; w = next) {
		next = w->next;
		if (w->reader == NULL && !w->dead && w->lw_added + w->ended > 0 &&
		    now_us - w->idle_since_us >= f->idle_ttl_us)
			watch_free(w);
	}
}

void
watches_stop_all(struct files *f)
{
	for (struct watch *w = f->watches, *next; w; w = next) {
		next = w->next;
		if (w->dead)
			continue;
		w->ended = true;
		if (w->reader != NULL)
			streams_source_end(w->reader, RS_UNAVAILABLE, "runnerd is shutting down");
		else
			watch_free(w);
	}
}

void
watches_free_all(struct files *f)
{
	while (f->watches != NULL) {
		f->watches->jobs = 0;
		watch_free(f->watches);
	}
}
