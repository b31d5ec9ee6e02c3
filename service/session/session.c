#include "session/session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "routing.h"
#include "run/launch.h"
#include "session/session_internal.h"

#define MAX_LABEL 128

static unsigned
bucket(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char) *id) * 16777619u;
	return h % BUCKETS;
}

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

struct session *
session_find(struct sessions *ss, const char *id)
{
	for (struct session *s = ss->buckets[bucket(id)]; s; s = s->hnext)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

int
session_lookup(struct sessions *ss, const char *id, struct session **out, rstatus *st)
{
	const char *owner = routing_session_owner(id);

	if ((*out = session_find(ss, id ? id : "")) != NULL)
		return 0;
	if (owner != NULL && (ss->cfg.instance == NULL || strcmp(owner, ss->cfg.instance) != 0))
		return rstatus_fail(st, RS_UNAVAILABLE, "session %.32s is on the runnerd at %.200s, not this one (%s)",
				    id, owner, ss->cfg.instance ? ss->cfg.instance : "which has no --advertise");
	return rstatus_fail(st, RS_NOT_FOUND, "no session \"%.300s\" (never started, or collected)", id ? id : "");
}

struct session *
sessions_first(struct sessions *ss)
{
	return ss->all;
}

struct session *
sessions_next(struct session *s)
{
	return s->next;
}

unsigned
sessions_running(const struct sessions *ss)
{
	return ss->running;
}

unsigned
sessions_count(const struct sessions *ss)
{
	return ss->count;
}

size_t
sessions_retained_output(const struct sessions *ss)
{
	return ss->retained_output;
}

static struct sessions *
table_of(struct session *s)
{
	return s->ss;
}

const char *
session_id(const struct session *s)
{
	return s->id;
}

const uint8_t *
session_secret(const struct session *s)
{
	return s->secret;
}

const void *
session_principal(const struct session *s)
{
	return s->owner.principal;
}

void *
session_owner_ctx(const struct session *s)
{
	return s->owner.ctx;
}

/* The owner hears once how its session ended (result NULL: it never did). */
static void
tell_owner(struct session *s, const Runner__V1__RunResult *result)
{
	void *ctx = s->owner.ctx;

	s->owner.ctx = NULL;
	if (ctx != NULL && s->ss->cfg.owner_done != NULL)
		s->ss->cfg.owner_done(ctx, result, s->stdin_accepted);
}

const char *
session_tag(const struct session *s)
{
	return s->tag ? s->tag : "";
}

int
session_pid(const struct session *s)
{
	struct job *j = job_of(s);

	return s->result.pid ? s->result.pid : j ? job_result(j)->pid : 0;
}

const struct command *
session_command(const struct session *s)
{
	return launch_command(s->launch);
}

bool
session_secret_matches(const struct session *s, const uint8_t *given, size_t len)
{
	unsigned char diff = len == SESSION_SECRET_LEN ? 0 : 1;

	/* Constant time: the comparison must not tell how much matched. */
	for (size_t i = 0; i < SESSION_SECRET_LEN; i++)
		diff |= s->secret[i] ^ (i < len ? given[i] : 0);
	return diff == 0;
}

const struct outbuf *
session_output(const struct session *s, enum job_stream which)
{
	return which == JOB_STDOUT ? &s->out : &s->err;
}

const Runner__V1__RunResult *
session_result(const struct session *s)
{
	return s->finished ? &s->result : NULL;
}

void *
session_watcher(const struct session *s)
{
	return s->watcher;
}

void
session_set_watcher(struct session *s, void *watcher)
{
	s->watcher = watcher;
	if (watcher == NULL && !s->freeing)
		session_keep_unwatched(s);
}

/* --- stdin ---------------------------------------------------------------- */

static void
reply_accepted(struct call *c, uint64_t accepted, bool close)
{
	Runner__V1__WriteStdinResponse w = RUNNER__V1__WRITE_STDIN_RESPONSE__INIT;
	Runner__V1__CloseStdinResponse cl = RUNNER__V1__CLOSE_STDIN_RESPONSE__INIT;

	w.accepted = cl.accepted = accepted;
	call_reply(c, RS_OK, "", close ? &cl.base : &w.base);
}

/* stdin can no longer take bytes: every parked write (and a parked close)
 * learns why. */
static void
stdin_fail(struct session *s, const char *why)
{
	s->stdin_gone = why;
	while (s->writes != NULL) {
		struct stdin_write *w = s->writes;
		s->writes = w->next;
		call_reply(w->call, RS_FAILED_PRECONDITION, why, NULL);
		free(w);
	}
	s->n_writes = 0;
	s->stdin_queued = s->stdin_accepted;
	if (s->close_call != NULL) {
		reply_accepted(s->close_call, s->stdin_accepted, true);
		s->close_call = NULL;
	}
	if (job_of(s) != NULL) {
		job_want_stdin(job_of(s), false);
		job_close_stdin(job_of(s));
	}
}

static void
maybe_close_stdin(struct session *s)
{
	if (s->close_call == NULL || s->writes != NULL)
		return;
	s->stdin_closed = true;
	s->stdin_gone = "stdin was closed by CloseStdin";
	if (job_of(s) != NULL)
		job_close_stdin(job_of(s));
	reply_accepted(s->close_call, s->stdin_accepted, true);
	s->close_call = NULL;
}

static void
session_stdin_writable(struct job *j, int fd, void *arg)
{
	struct session *s = arg;

	while (s->writes != NULL) {
		struct stdin_write *w = s->writes;
		ssize_t n = w->len > w->done ? write(fd, w->data + w->done, w->len - w->done) : 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			stdin_fail(s, "the process closed its stdin");
			return;
		}
		w->done += (size_t) n;
		s->stdin_accepted += (uint64_t) n;
		metrics_add(METRIC_SESSION_STDIN_BYTES, (uint64_t) n);
		if (w->done == w->len) {
			s->writes = w->next;
			s->n_writes--;
			reply_accepted(w->call, s->stdin_accepted, false);
			free(w);
		}
	}
	job_want_stdin(j, false);
	maybe_close_stdin(s);
}

void
session_write_stdin(struct session *s, struct call *c, uint64_t offset, const uint8_t *data,
		    size_t len)
{
	struct stdin_write *w, **tail;
	uint64_t skip;

	if (s->stdin_gone != NULL || s->finished) {
		call_reply(c, RS_FAILED_PRECONDITION,
			   s->finished ? "the process has exited" : s->stdin_gone, NULL);
		return;
	}
	if (s->close_call != NULL) {
		call_reply(c, RS_FAILED_PRECONDITION, "stdin is being closed", NULL);
		return;
	}
	if (offset > s->stdin_queued) {
		char msg[160];
		snprintf(msg, sizeof(msg), "offset %llu is past the %llu bytes written so far",
			 (unsigned long long) offset, (unsigned long long) s->stdin_queued);
		call_reply(c, RS_OUT_OF_RANGE, msg, NULL);
		return;
	}
	/* A replay: the part already taken is skipped, never written twice. */
	skip = s->stdin_queued - offset;
	if (skip >= len && offset + len <= s->stdin_accepted) {
		reply_accepted(c, s->stdin_accepted, false);
		return;
	}
	/* A replay of bytes still queued is answered when they are in the
	 * pipe, as the original will be: it joins the queue with nothing of
	 * its own to write. */
	if (skip > len)
		skip = len;
	if (s->n_writes >= table_of(s)->cfg.max_pending_writes) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "too many writes waiting on this session's stdin", NULL);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	w->call = c;
	w->data = data + skip;
	w->len = len - (size_t) skip;
	for (tail = &s->writes; *tail; tail = &(*tail)->next)
		;
	*tail = w;
	s->n_writes++;
	s->stdin_queued += w->len;
	job_want_stdin(job_of(s), true);
}

void
session_close_stdin(struct session *s, struct call *c)
{
	if (s->stdin_closed || s->finished || s->stdin_gone != NULL) {
		reply_accepted(c, s->stdin_accepted, true);
		return;
	}
	if (s->close_call != NULL) {
		call_reply(c, RS_FAILED_PRECONDITION, "stdin is already being closed", NULL);
		return;
	}
	s->close_call = c;
	maybe_close_stdin(s);
}

/* --- waiting and the end -------------------------------------------------- */

static void
reply_result(struct call *c, struct session *s)
{
	Runner__V1__WaitResponse resp = RUNNER__V1__WAIT_RESPONSE__INIT;

	resp.result = &s->result;
	call_reply(c, RS_OK, "", &resp.base);
}

static void
waiter_unlink(struct session_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->s->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	loop_timer_disarm(w->s->ss->loop, &w->timer);
}

static void
waiter_timeout(struct loop_timer *t)
{
	struct session_waiter *w = (struct session_waiter *) ((char *) t - offsetof(struct session_waiter, timer));

	waiter_unlink(w);
	call_reply(w->call, RS_DEADLINE_EXCEEDED, "the process is still running", NULL);
	free(w);
}

void
session_wait(struct session *s, struct call *c, uint64_t timeout_ms)
{
	struct session_waiter *w;
	uint64_t until = 0;

	if (s->finished) {
		reply_result(c, s);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		call_reply(c, RS_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	w->call = c;
	w->s = s;
	w->timer.cb = waiter_timeout;
	w->next = s->waiters;
	if (s->waiters)
		s->waiters->prev = w;
	s->waiters = w;
	if (timeout_ms > 0)
		until = loop_now_us() + timeout_ms * 1000u;
	if (c->deadline_us > 0 && (until == 0 || c->deadline_us < until))
		until = c->deadline_us;
	if (until > 0)
		loop_timer_arm(s->ss->loop, &w->timer, until);
}

int
session_signal(struct session *s, int sig, rstatus *st)
{
	if (sig < 1 || sig >= NSIG)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "signal %d is not a signal number", sig);
	if (job_of(s) == NULL || job_exited(job_of(s)))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "the process has exited");
	return job_signal_requested(job_of(s), sig, st);
}

static void
session_timer(struct loop_timer *t)
{
	struct session *s = (struct session *) ((char *) t - offsetof(struct session, timer));
	const struct session_config *cfg = &table_of(s)->cfg;
	uint64_t now = loop_now_us();

	if (s->finished) {
		session_free(s);
		return;
	}
	/* A watcher counts as use: it is waiting for output. */
	if (s->watcher != NULL)
		s->touched_us = now;
	if (now < s->touched_us + cfg->idle_ttl_ms * 1000u) {
		loop_timer_arm(s->ss->loop, &s->timer, s->touched_us + cfg->idle_ttl_ms * 1000u);
		return;
	}
	job_stop(job_of(s), RUNNER__V1__TERMINATION__KILLED);
}

void
session_touch(struct session *s)
{
	s->touched_us = loop_now_us();
}

/* Every parked Wait gets the result (OK) or the given error. */
static void
answer_waiters(struct session *s, int code, const char *message)
{
	while (s->waiters != NULL) {
		struct session_waiter *w = s->waiters;
		waiter_unlink(w);
		if (code == RS_OK)
			reply_result(w->call, s);
		else
			call_reply(w->call, code, message, NULL);
		free(w);
	}
}

static void
session_done(struct job *j, void *arg)
{
	struct session *s = arg;
	struct sessions *ss = table_of(s);
	Runner__V1__RunResult *r = job_result(j);

	s->result = *r;
	if (r->exec_error != NULL) {
		snprintf(s->exec_error, sizeof(s->exec_error), "%s", r->exec_error);
		s->result.exec_error = s->exec_error;
	}
	/* A PTY session's output buffer is its terminal's (session.h). */
	if (session_has_terminal(s))
		s->result.pty_total = s->out.end;
	else
		s->result.stdout_total = s->out.end;
	s->result.stderr_total = s->err.end;
	s->finished = true;
	s->finished_us = loop_now_us();
	ss->running--;
	launch_drop_job(s->launch);
	session_keep_finished(s);
	stdin_fail(s, "the process has exited");
	answer_waiters(s, RS_OK, NULL);
	tell_owner(s, &s->result);
	NOTIFY(s, finished);
	loop_timer_arm(s->ss->loop, &s->timer, s->finished_us + ss->cfg.retention_ms * 1000u);
}

/* Answer every StartPipes waiting for the process; `s` NULL: the session
 * is going away. */
static void
answer_start_waiters(struct session *s, bool gone)
{
	while (s->start_waiters != NULL) {
		struct start_waiter *w = s->start_waiters;
		s->start_waiters = w->next;
		w->fn(w->arg, gone ? NULL : s);
		free(w);
	}
}

static void
session_started(struct job *j, void *arg)
{
	struct session *s = arg;

	s->started = true;
	answer_start_waiters(s, false);
}

int
session_when_started(struct session *s, session_started_fn fn, void *arg, rstatus *st)
{
	struct start_waiter *w, **tail;

	if (s->started || s->finished) {
		fn(arg, s);
		return 0;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	w->fn = fn;
	w->arg = arg;
	/* In arrival order. */
	for (tail = &s->start_waiters; *tail; tail = &(*tail)->next)
		;
	*tail = w;
	return 0;
}

static const struct job_ops session_ops = {
	.output = session_read_output,
	.stdin_writable = session_stdin_writable,
	.done = session_done,
	.started = session_started,
};

/* --- creation and collection ---------------------------------------------- */

/* Free what a session owns; it is in no table any more (or never was). */
static void
session_destroy(struct session *s)
{
	answer_start_waiters(s, true);
	launch_free(s->launch);
	outbuf_free(&s->out);
	outbuf_free(&s->err);
	free(s->id);
	free(s->tag);
	free(s->key);
	free(s);
}

void
session_free(struct session *s)
{
	struct sessions *ss = table_of(s);
	struct session **pp;

	s->freeing = true;
	NOTIFY(s, gone);
	s->watcher = NULL;
	if (!s->finished) {
		stdin_fail(s, "the session was collected");
		ss->running--;
		tell_owner(s, NULL);
	}
	session_keep_forget(s);
	answer_waiters(s, RS_ABORTED, "the session was collected");
	loop_timer_disarm(s->ss->loop, &s->timer);
	for (pp = &ss->buckets[bucket(s->id)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		ss->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ss->count--;
	session_destroy(s);
}

int
session_remove(struct session *s, rstatus *st)
{
	if (!s->finished)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "session %s is still running: stop it first (Signal, then Wait)", s->id);
	session_free(s);
	return 0;
}

static struct session *
find_by_key(struct sessions *ss, const char *key, const void *principal)
{
	for (struct session *s = ss->all; s; s = s->next)
		if (s->key != NULL && s->owner.principal == principal && strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

/* The id (routing.h: in a fleet, the owner after an '@') and the secret. */
static int
new_identity(struct session *s, const char *instance, rstatus *st)
{
	size_t len = SESSION_ID_LEN + (instance ? 1 + strlen(instance) : 0) + 1;
	uint8_t raw[SESSION_ID_LEN / 2];

	if ((s->id = malloc(len)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw) ||
	    getrandom(s->secret, sizeof(s->secret), 0) != (ssize_t) sizeof(s->secret))
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "getrandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	if (instance != NULL)
		snprintf(s->id + SESSION_ID_LEN, len - SESSION_ID_LEN, "@%s", instance);
	return 0;
}

static int
check_label(const char *what, const char *v, rstatus *st)
{
	if (v != NULL && strlen(v) > MAX_LABEL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s is longer than %d bytes", what, MAX_LABEL);
	return 0;
}

/* --- the terminal of a PTY session ----------------------------------------- */

static void
terminal_init(struct session *s, const struct command *cmd)
{
	runner__v1__terminal__init(&s->terminal);
	s->terminal.rows = cmd->tty_rows;
	s->terminal.cols = cmd->tty_cols;
	for (char **e = cmd->envp; e && *e; e++)
		if (strncmp(*e, "TERM=", 5) == 0)
			s->terminal.term = *e + 5;
}

bool
session_has_terminal(const struct session *s)
{
	return s->terminal.rows > 0;
}

int
session_resize(struct session *s, unsigned rows, unsigned cols, rstatus *st)
{
	int rv;

	if (!session_has_terminal(s))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "session %s has no terminal (started without one)",
				    s->id);
	if (job_of(s) == NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "the process has exited");
	if ((rv = job_resize(job_of(s), rows, cols, st)) < 0)
		return rv;
	s->terminal.rows = rows;
	s->terminal.cols = cols;
	return 0;
}

int
session_start(struct sessions *ss, const Runner__V1__StartPipesRequest *req,
	      const struct session_owner *owner, struct session **out, bool *existing, rstatus *st)
{
	const void *principal = owner ? owner->principal : NULL;
	struct session *s;
	unsigned b;
	int rv;

	*out = NULL;
	*existing = false;
	if ((rv = check_label("idempotency_key", req->idempotency_key, st)) < 0 ||
	    (rv = check_label("tag", req->tag, st)) < 0)
		return rv;
	if (req->idempotency_key != NULL && req->idempotency_key[0] != '\0' &&
	    (s = find_by_key(ss, req->idempotency_key, principal)) != NULL) {
		*existing = true;
		*out = s;
		session_touch(s);
		return 0;
	}
	if ((rv = session_check_output_mode(ss, req, st)) < 0)
		return rv;
	if (ss->running >= ss->cfg.max_live)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
				    "running session limit (%u) reached; finished sessions do not count",
				    ss->cfg.max_live);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	s->ss = ss;
	s->timer.cb = session_timer;
	session_keep_init(s, req);
	runner__v1__run_result__init(&s->result);
	if ((rv = new_identity(s, ss->cfg.instance, st)) < 0)
		goto fail;
	if ((req->tag && req->tag[0] && (s->tag = strdup(req->tag)) == NULL) ||
	    (req->idempotency_key && req->idempotency_key[0] &&
	     (s->key = strdup(req->idempotency_key)) == NULL)) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if ((rv = launch_prepare(ss->cfg.launcher, req->command, &s->launch, st)) < 0)
		goto fail;
	terminal_init(s, launch_command(s->launch));
	if ((rv = launch_start(s->launch, LAUNCH_STDIN | LAUNCH_SESSION, launch_command(s->launch)->timeout_ms, &session_ops, s,
			       st)) < 0)
		goto fail;
	if (owner != NULL)
		s->owner = *owner;
	s->started_at_us = wall_us();
	s->touched_us = loop_now_us();
	b = bucket(s->id);
	s->hnext = ss->buckets[b];
	ss->buckets[b] = s;
	s->next = ss->all;
	if (ss->all)
		ss->all->prev = s;
	ss->all = s;
	ss->count++;
	ss->running++;
	loop_timer_arm(ss->loop, &s->timer, s->touched_us + ss->cfg.idle_ttl_ms * 1000u);
	*out = s;
	return 0;
fail:
	session_destroy(s);
	return rv;
}

void
session_info(struct session *s, Runner__V1__SessionInfo *info)
{
	runner__v1__session_info__init(info);
	info->session_id = s->id;
	info->tag = (char *) session_tag(s);
	info->argv = launch_command(s->launch)->argv;
	for (char *const *a = info->argv; a && *a; a++)
		info->n_argv++;
	info->state = s->finished ? "exited" : "running";
	info->pid = session_pid(s);
	info->started_at_us = s->started_at_us;
	info->stdin_bytes = s->stdin_accepted;
	info->stdout_bytes = s->out.end;
	info->stderr_bytes = s->err.end;
	info->result = s->finished ? &s->result : NULL;
	if (session_has_terminal(s)) {
		info->stdout_bytes = 0;
		info->pty_bytes = s->out.end;
		info->terminal = &s->terminal;
	}
	info->output_blocked = !s->finished && s->watcher == NULL && (s->full[JOB_STDOUT] || s->full[JOB_STDERR]);
	info->output_mode = s->mode;
	info->stdout_dropped = s->out.dropped;
	info->stderr_dropped = s->err.dropped;
	info->stdout_retained_from = s->out.base;
	info->stderr_retained_from = s->err.base;
}

void
sessions_stop_all(struct sessions *ss)
{
	for (struct session *s = ss->all; s; s = s->next)
		if (job_of(s) != NULL)
			job_stop(job_of(s), RUNNER__V1__TERMINATION__KILLED);
}

int
sessions_new(struct sessions **out, const struct session_config *cfg, rstatus *st)
{
	struct sessions *ss = calloc(1, sizeof(*ss));

	*out = NULL;
	if (ss == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	ss->cfg = *cfg;
	ss->loop = cfg->launcher->loop;
	sessions_keep_init(ss);
	*out = ss;
	return 0;
}

void
sessions_set_observer(struct sessions *ss, const struct session_observer *obs)
{
	ss->obs = obs;
}

void
sessions_free(struct sessions *ss)
{
	if (ss == NULL)
		return;
	while (ss->all != NULL)
		session_free(ss->all);
	sessions_keep_stop(ss);
	free(ss);
}
