/* session_keep.c — what a session keeps of its output: reading it into
 * the buffers, the output modes while nobody reads, acknowledgements, and
 * the limits of finished sessions (session.h's session_config). Work that
 * may free a session or move a buffer's base runs from a loop timer, never
 * under the caller's feet (a reader being re-bound). */
#include "metrics/metrics.h"
#include "session/session_internal.h"

/* Output may be dropped now: a lossy mode and nobody reading. */
static bool
dropping(const struct session *s)
{
	return s->mode != RUNNER__V1__OUTPUT_MODE__OUTPUT_KEEP && s->watcher == NULL;
}

static struct outbuf *
buf_of(struct session *s, enum job_stream which)
{
	return which == JOB_STDOUT ? &s->out : &s->err;
}

/* Read (the stream's job is running) only while the buffer has room. */
static void
set_full(struct session *s, enum job_stream which, bool full)
{
	if (s->full[which] == full || job_of(s) == NULL)
		return;
	s->full[which] = full;
	job_pause_output(job_of(s), which, full);
}

int
session_read_output(struct job *j, enum job_stream which, int fd, void *arg)
{
	struct session *s = arg;
	struct outbuf *b = buf_of(s, which);
	uint64_t end = b->end;
	int rv;

	/* Tail and discard, unread: the oldest bytes make room. */
	while ((rv = outbuf_read_fd(b, fd)) == 0 && dropping(s) && outbuf_room(b) == 0)
		outbuf_keep_last(b, s->tail);
	if (dropping(s))
		outbuf_keep_last(b, s->tail);
	metrics_add(which == JOB_STDERR	   ? METRIC_SESSION_STDERR_BYTES
		    : session_has_terminal(s) ? METRIC_SESSION_PTY_BYTES
					      : METRIC_SESSION_STDOUT_BYTES,
		    b->end - end);
	/* Full: stop reading; the child blocks on its pipe until a reader
	 * acknowledges and session_ack_output resumes us. */
	if (rv == 0 && outbuf_room(b) == 0)
		set_full(s, which, true);
	/* A full pipe's worth at once, and room for more: a producer faster
	 * than we read (job_grow_pipe). Not when the buffer stopped us: a
	 * slow reader gains nothing from the child running further ahead. */
	if (b->end - end >= JOB_PIPE_DEFAULT && outbuf_room(b) > 0)
		job_grow_pipe(j, which);
	NOTIFY(s, output_ready);
	return rv;
}

void
session_ack_output(struct session *s, uint64_t stdout_offset, uint64_t stderr_offset)
{
	outbuf_ack(&s->out, stdout_offset);
	outbuf_ack(&s->err, stderr_offset);
	/* A finished session's buffers change only through the budget, which
	 * counts what they hold: outbuf_room would forget on its own. */
	if (job_of(s) == NULL)
		return;
	if (outbuf_room(&s->out) > 0)
		set_full(s, JOB_STDOUT, false);
	if (outbuf_room(&s->err) > 0)
		set_full(s, JOB_STDERR, false);
}

/* Drop the oldest output of a finished session until the budget holds
 * (or it holds nothing), the larger stream first. */
static void
trim_finished(struct sessions *ss, struct session *s)
{
	while (ss->retained_output > ss->cfg.retained_output) {
		struct outbuf *big = outbuf_memory(&s->out) >= outbuf_memory(&s->err) ? &s->out : &s->err;
		size_t freed = outbuf_drop_oldest(big);

		if (freed == 0 && (freed = outbuf_drop_oldest(big == &s->out ? &s->err : &s->out)) == 0)
			return;
		s->retained -= freed;
		ss->retained_output -= freed;
	}
}

/* Past the limits of finished sessions: the oldest finished are
 * collected (count), or lose their oldest output (bytes). A session with
 * a reader attached is left for when the reader leaves. */
static void
enforce_retention(struct sessions *ss)
{
	struct session *s, *next;

	for (s = ss->oldest_finished; s != NULL && ss->finished > ss->cfg.max_retained; s = next) {
		next = s->fnext;
		if (s->watcher == NULL)
			session_free(s);
	}
	for (s = ss->oldest_finished; s != NULL && ss->retained_output > ss->cfg.retained_output;
	     s = s->fnext)
		if (s->watcher == NULL)
			trim_finished(ss, s);
}

/* A running session in a lossy mode lost its reader: keep its tail only,
 * and read its pipes again if they were paused for a full buffer. */
static void
resume_dropping(struct session *s)
{
	for (enum job_stream w = JOB_STDOUT; w <= JOB_STDERR; w++) {
		outbuf_keep_last(buf_of(s, w), s->tail);
		if (outbuf_room(buf_of(s, w)) > 0)
			set_full(s, w, false);
	}
}

static void
tidy_timer(struct loop_timer *t)
{
	struct sessions *ss = (struct sessions *) ((char *) t - offsetof(struct sessions, tidy_timer));

	while (ss->tidy != NULL) {
		struct session *s = ss->tidy;
		ss->tidy = s->tidy_next;
		s->tidy = false;
		if (!s->finished && dropping(s))
			resume_dropping(s);
	}
	enforce_retention(ss);
}

/* Look at `s` (and the budget) from the loop, soon. */
static void
tidy_soon(struct session *s)
{
	struct sessions *ss = s->ss;

	if (!s->tidy) {
		s->tidy = true;
		s->tidy_next = ss->tidy;
		ss->tidy = s;
	}
	if (!ss->tidy_timer.armed)
		loop_timer_arm(ss->loop, &ss->tidy_timer, loop_now_us());
}

static void
unlink_finished(struct sessions *ss, struct session *s)
{
	if (s->fprev)
		s->fprev->fnext = s->fnext;
	else
		ss->oldest_finished = s->fnext;
	if (s->fnext)
		s->fnext->fprev = s->fprev;
	else
		ss->newest_finished = s->fprev;
	ss->finished--;
	ss->retained_output -= s->retained;
}

static void
unlink_tidy(struct sessions *ss, struct session *s)
{
	for (struct session **pp = &ss->tidy; *pp; pp = &(*pp)->tidy_next) {
		if (*pp == s) {
			*pp = s->tidy_next;
			return;
		}
	}
}

int
session_check_output_mode(const struct sessions *ss, const Runner__V1__StartPipesRequest *req, rstatus *st)
{
	switch (req->output_mode) {
	case RUNNER__V1__OUTPUT_MODE__OUTPUT_KEEP:
	case RUNNER__V1__OUTPUT_MODE__OUTPUT_DISCARD:
		return 0;
	case RUNNER__V1__OUTPUT_MODE__OUTPUT_TAIL:
		if (req->output_tail_bytes > ss->cfg.buffer_bytes)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "output_tail_bytes %llu is more than the session buffer (%zu bytes)",
					    (unsigned long long) req->output_tail_bytes, ss->cfg.buffer_bytes);
		return 0;
	default:
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "output_mode %d is not an output mode",
				    (int) req->output_mode);
	}
}


void
session_keep_init(struct session *s, const Runner__V1__StartPipesRequest *req)
{
	size_t buffer = s->ss->cfg.buffer_bytes;

	s->mode = req->output_mode;
	if (s->mode == RUNNER__V1__OUTPUT_MODE__OUTPUT_TAIL)
		s->tail = req->output_tail_bytes ? req->output_tail_bytes : buffer;
	/* Room for one more chunk above the tail, so dropping always makes
	 * room to read. */
	outbuf_init(&s->out, s->tail + OUTBUF_CHUNK > buffer ? s->tail + OUTBUF_CHUNK : buffer);
	outbuf_init(&s->err, s->out.cap);
}

void
session_keep_finished(struct session *s)
{
	struct sessions *ss = s->ss;

	s->full[JOB_STDOUT] = s->full[JOB_STDERR] = false;
	outbuf_shrink(&s->out);
	outbuf_shrink(&s->err);
	s->retained = outbuf_memory(&s->out) + outbuf_memory(&s->err);
	ss->retained_output += s->retained;
	s->fprev = ss->newest_finished;
	if (ss->newest_finished)
		ss->newest_finished->fnext = s;
	else
		ss->oldest_finished = s;
	ss->newest_finished = s;
	ss->finished++;
	tidy_soon(s);
}

void
session_keep_unwatched(struct session *s)
{
	/* What the mode or the budget would have dropped meanwhile goes, from
	 * the loop: the caller may be about to bind another reader at offsets
	 * it checked. */
	if (s->finished || s->mode != RUNNER__V1__OUTPUT_MODE__OUTPUT_KEEP)
		tidy_soon(s);
}

void
session_keep_forget(struct session *s)
{
	if (s->finished)
		unlink_finished(s->ss, s);
	if (s->tidy)
		unlink_tidy(s->ss, s);
}

void
sessions_keep_init(struct sessions *ss)
{
	ss->tidy_timer.cb = tidy_timer;
}

void
sessions_keep_stop(struct sessions *ss)
{
	loop_timer_disarm(ss->loop, &ss->tidy_timer);
}
