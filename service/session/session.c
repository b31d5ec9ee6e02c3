#include "session/session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/probes.h"
#include "runnerd.h"
#include "session/streams.h"

#define BUCKETS 4096
#define MAX_LABEL 128

/* A WriteStdin parked until its bytes are in the pipe. */
struct stdin_write {
	struct call *call;
	const uint8_t *data; /* into the call's decoded request */
	size_t len, done;
	struct stdin_write *next;
};

/* A Wait parked until the process ends (or its timeout). */
struct session_waiter {
	struct call *call;
	struct session *s;
	struct loop_timer timer;
	struct session_waiter *next, *prev;
};

struct sessions {
	struct runnerd *d;
	struct session_config cfg;
	struct session *all;
	struct session *buckets[BUCKETS];
	unsigned count, running;
};

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
	if ((*out = session_find(ss, id ? id : "")) == NULL)
		return rstatus_fail(st, RS_NOT_FOUND, "no session \"%.64s\" (never started, or collected)",
				    id ? id : "");
	return 0;
}

struct session *
sessions_first(struct sessions *ss)
{
	return ss->all;
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

static struct sessions *
table_of(struct session *s)
{
	return s->d->sessions;
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
	if (s->job != NULL) {
		job_want_stdin(s->job, false);
		job_close_stdin(s->job);
	}
}

static void
maybe_close_stdin(struct session *s)
{
	if (s->close_call == NULL || s->writes != NULL)
		return;
	s->stdin_closed = true;
	s->stdin_gone = "stdin was closed by CloseStdin";
	if (s->job != NULL)
		job_close_stdin(s->job);
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
	job_want_stdin(s->job, true);
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

/* --- output --------------------------------------------------------------- */

static int
session_output(struct job *j, enum job_stream which, int fd, void *arg)
{
	struct session *s = arg;
	struct outbuf *b = which == JOB_STDOUT ? &s->out : &s->err;
	int rv = outbuf_read_fd(b, fd);

	/* Full: stop reading; the child blocks on its pipe until a reader
	 * acknowledges and session_output_acked resumes us. */
	if (rv == 0 && outbuf_room(b) == 0)
		job_pause_output(j, which, true);
	streams_session_changed(s);
	return rv;
}

void
session_output_acked(struct session *s)
{
	if (s->job == NULL)
		return;
	if (outbuf_room(&s->out) > 0)
		job_pause_output(s->job, JOB_STDOUT, false);
	if (outbuf_room(&s->err) > 0)
		job_pause_output(s->job, JOB_STDERR, false);
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
	loop_timer_disarm(w->s->d->loop, &w->timer);
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
		loop_timer_arm(s->d->loop, &w->timer, until);
}

int
session_signal(struct session *s, int sig, rstatus *st)
{
	int rv;

	if (sig < 1 || sig >= NSIG)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "signal %d is not a signal number", sig);
	if (s->job == NULL || job_exited(s->job))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "the process has exited");
	if ((rv = job_signal_requested(s->job, sig)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "kill");
	return 0;
}

static void session_free(struct session *s);

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
	/* A reader attached counts as use: it is waiting for output. */
	if (s->reader != NULL)
		s->touched_us = now;
	if (now < s->touched_us + cfg->idle_ttl_ms * 1000u) {
		loop_timer_arm(s->d->loop, &s->timer, s->touched_us + cfg->idle_ttl_ms * 1000u);
		return;
	}
	job_stop(s->job, RUNNER__V1__TERMINATION__KILLED);
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
	s->result.stdout_total = s->out.end;
	s->result.stderr_total = s->err.end;
	s->finished = true;
	s->finished_us = loop_now_us();
	ss->running--;
	job_free(s->job);
	s->job = NULL;
	stdin_fail(s, "the process has exited");
	answer_waiters(s, RS_OK, NULL);
	streams_session_changed(s);
	loop_timer_arm(s->d->loop, &s->timer, s->finished_us + ss->cfg.retention_ms * 1000u);
}

static const struct job_ops session_ops = {
	.output = session_output,
	.stdin_writable = session_stdin_writable,
	.done = session_done,
};

/* --- creation and collection ---------------------------------------------- */

/* Free what a session owns; it is in no table any more (or never was). */
static void
session_destroy(struct session *s)
{
	job_free(s->job);
	if (s->launched)
		s->backend->release(&s->launch);
	outbuf_free(&s->out);
	outbuf_free(&s->err);
	resolved_free(&s->res);
	free(s->tag);
	free(s->key);
	free(s);
}

static void
session_free(struct session *s)
{
	struct sessions *ss = table_of(s);
	struct session **pp;

	streams_session_gone(s);
	if (!s->finished) {
		stdin_fail(s, "the session was collected");
		ss->running--;
	}
	answer_waiters(s, RS_ABORTED, "the session was collected");
	loop_timer_disarm(s->d->loop, &s->timer);
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

static struct session *
find_by_key(struct sessions *ss, const char *key)
{
	for (struct session *s = ss->all; s; s = s->next)
		if (s->key != NULL && strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

static int
new_identity(struct session *s, rstatus *st)
{
	uint8_t raw[SESSION_ID_LEN / 2];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw) ||
	    getrandom(s->secret, sizeof(s->secret), 0) != (ssize_t) sizeof(s->secret))
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "getrandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int
check_label(const char *what, const char *v, rstatus *st)
{
	if (v != NULL && strlen(v) > MAX_LABEL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s is longer than %d bytes", what, MAX_LABEL);
	return 0;
}

static int
launch(struct session *s, rstatus *st)
{
	struct runnerd *d = s->d;
	struct job_spec spec;
	int rv;

	if ((s->backend = backend_find(s->res.cmd.backend)) == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command.backend: no backend named \"%.64s\"",
				    s->res.cmd.backend);
	if ((rv = probes_state(s->backend, st)) < 0)
		return rv;
	s->launched = true;
	if ((rv = s->backend->prepare(&s->res.cmd, &s->res.policy, &s->launch, st)) < 0)
		return rv;
	spec = (struct job_spec){
		.launch = &s->launch,
		.stdin_pipe = true,
		.timeout_ms = s->res.cmd.timeout_ms,
		.grace_ms = d->cfg.grace_ms,
		.linger_ms = d->cfg.linger_ms,
	};
	return job_start(d->loop, &spec, &session_ops, s, &s->job, st);
}

int
session_start(struct sessions *ss, const Runner__V1__StartPipesRequest *req, struct session **out,
	      bool *existing, rstatus *st)
{
	struct session *s;
	unsigned b;
	int rv;

	*out = NULL;
	*existing = false;
	if ((rv = check_label("idempotency_key", req->idempotency_key, st)) < 0 ||
	    (rv = check_label("tag", req->tag, st)) < 0)
		return rv;
	if (req->idempotency_key != NULL && req->idempotency_key[0] != '\0' &&
	    (s = find_by_key(ss, req->idempotency_key)) != NULL) {
		*existing = true;
		*out = s;
		session_touch(s);
		return 0;
	}
	if (ss->count >= ss->cfg.max_sessions)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "session limit (%u) reached",
				    ss->cfg.max_sessions);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	s->d = ss->d;
	s->timer.cb = session_timer;
	outbuf_init(&s->out, ss->cfg.buffer_bytes);
	outbuf_init(&s->err, ss->cfg.buffer_bytes);
	runner__v1__run_result__init(&s->result);
	if ((rv = new_identity(s, st)) < 0 ||
	    (rv = profiles_resolve(ss->d->profiles, req->command, &s->res, st)) < 0)
		goto fail;
	if ((req->tag && req->tag[0] && (s->tag = strdup(req->tag)) == NULL) ||
	    (req->idempotency_key && req->idempotency_key[0] &&
	     (s->key = strdup(req->idempotency_key)) == NULL)) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if ((rv = launch(s, st)) < 0)
		goto fail;
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
	loop_timer_arm(ss->d->loop, &s->timer, s->touched_us + ss->cfg.idle_ttl_ms * 1000u);
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
	info->tag = s->tag ? s->tag : "";
	info->argv = s->res.cmd.argv;
	for (char **a = s->res.cmd.argv; a && *a; a++)
		info->n_argv++;
	info->state = s->finished ? "exited" : "running";
	info->pid = s->result.pid ? s->result.pid : (s->job ? job_result(s->job)->pid : 0);
	info->started_at_us = s->started_at_us;
	info->stdin_bytes = s->stdin_accepted;
	info->stdout_bytes = s->out.end;
	info->stderr_bytes = s->err.end;
	info->result = s->finished ? &s->result : NULL;
}

void
sessions_stop_all(struct sessions *ss)
{
	for (struct session *s = ss->all; s; s = s->next)
		if (s->job != NULL)
			job_stop(s->job, RUNNER__V1__TERMINATION__KILLED);
}

int
sessions_new(struct sessions **out, struct runnerd *d, const struct session_config *cfg,
	     rstatus *st)
{
	struct sessions *ss = calloc(1, sizeof(*ss));

	*out = NULL;
	if (ss == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	ss->d = d;
	ss->cfg = *cfg;
	*out = ss;
	return 0;
}

void
sessions_free(struct sessions *ss)
{
	if (ss == NULL)
		return;
	while (ss->all != NULL)
		session_free(ss->all);
	free(ss);
}
