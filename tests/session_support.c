/* session_support.c — session RPCs and stream readers for tests; see
 * session_support.h. */
#include "session_support.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- unary calls ----------------------------------------------------------- */

/* A call's outcome as a code: RUNNER_OK, or the error (in `st`). A reply
 * that came with an error is freed. */
static int
answer_code(int rv, void *reply, runner_status *st)
{
	if (rv == 0)
		return RUNNER_OK;
	if (reply != NULL)
		protobuf_c_message_free_unpacked(reply, NULL);
	return st->code != RUNNER_OK ? st->code : RUNNER_UNKNOWN;
}

int
rd_start_pipes_code(runner_client *cl, const rd_cmd *c, const char *key, const char *tag,
		    rd_session *s, runner_status *st)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;

	req.command = (Runner__V1__CommandSpec *) &c->spec;
	req.idempotency_key = (char *) (key ? key : "");
	req.tag = (char *) (tag ? tag : "");
	return rd_start_request_code(cl, &req, s, st);
}

int
rd_start_request_code(runner_client *cl, const Runner__V1__StartPipesRequest *req, rd_session *s,
		      runner_status *st)
{
	Runner__V1__StartPipesResponse *resp = NULL;
	int rv, code;

	memset(s, 0, sizeof(*s));
	rv = runner_start_pipes(cl, req, &resp, RD_SESSION_CALL_MS, st);
	if ((code = answer_code(rv, resp, st)) != RUNNER_OK)
		return code;
	if (resp->session_id == NULL || strlen(resp->session_id) >= sizeof(s->id) ||
	    resp->stream_address == NULL || strlen(resp->stream_address) >= sizeof(s->stream_address) ||
	    resp->stream_secret.len > sizeof(s->secret)) {
		snprintf(st->message, sizeof(st->message), "StartPipes reply with oversized fields");
		runner__v1__start_pipes_response__free_unpacked(resp, NULL);
		return st->code = RUNNER_INTERNAL;
	}
	strcpy(s->id, resp->session_id);
	strcpy(s->stream_address, resp->stream_address);
	memcpy(s->secret, resp->stream_secret.data, resp->stream_secret.len);
	s->secret_len = resp->stream_secret.len;
	s->pid = resp->pid;
	s->existing = resp->existing;
	runner__v1__start_pipes_response__free_unpacked(resp, NULL);
	return RUNNER_OK;
}

void
rd_start_pipes(runner_client *cl, const rd_cmd *c, const char *key, const char *tag, rd_session *s)
{
	runner_status st;
	int code = rd_start_pipes_code(cl, c, key, tag, s, &st);

	ck_assert_msg(code == RUNNER_OK, "StartPipes: %s: %s", runner_status_code_name(code), st.message);
	ck_assert_msg(s->id[0] != '\0', "StartPipes answered OK without a session id");
	ck_assert_msg(s->stream_address[0] != '\0', "StartPipes answered OK without a stream address");
	ck_assert_msg(s->secret_len > 0, "StartPipes answered OK without a stream secret");
}

void
rd_start_argv(runner_client *cl, rd_session *s, ...)
{
	va_list ap;
	rd_cmd c;
	char *a;

	rd_cmd_init(&c);
	va_start(ap, s);
	while ((a = va_arg(ap, char *)) != NULL) {
		ck_assert_int_lt(c.spec.n_argv, RD_MAX_ARGS);
		c.argv[c.spec.n_argv++] = a;
	}
	va_end(ap);
	rd_start_pipes(cl, &c, NULL, NULL, s);
}

void
rd_start_shell(runner_client *cl, rd_session *s, const char *shell)
{
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	rd_start_pipes(cl, &c, NULL, NULL, s);
}

int
rd_write_stdin_code(runner_client *cl, const char *id, uint64_t offset, const void *data, size_t len,
		    uint64_t *accepted, runner_status *st)
{
	Runner__V1__WriteStdinRequest req = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
	Runner__V1__WriteStdinResponse *resp = NULL;
	int rv, code;

	req.session_id = (char *) id;
	req.offset = offset;
	req.data.data = (uint8_t *) data;
	req.data.len = len;
	rv = runner_write_stdin(cl, &req, &resp, RD_SESSION_CALL_MS, st);
	if ((code = answer_code(rv, resp, st)) != RUNNER_OK)
		return code;
	if (accepted != NULL)
		*accepted = resp->accepted;
	runner__v1__write_stdin_response__free_unpacked(resp, NULL);
	return RUNNER_OK;
}

uint64_t
rd_write_stdin(runner_client *cl, const char *id, uint64_t offset, const void *data, size_t len)
{
	uint64_t accepted = 0;
	runner_status st;
	int code = rd_write_stdin_code(cl, id, offset, data, len, &accepted, &st);

	ck_assert_msg(code == RUNNER_OK, "WriteStdin(offset %llu, %zu bytes): %s: %s",
		      (unsigned long long) offset, len, runner_status_code_name(code), st.message);
	return accepted;
}

int
rd_close_stdin_code(runner_client *cl, const char *id, uint64_t *accepted, runner_status *st)
{
	Runner__V1__CloseStdinRequest req = RUNNER__V1__CLOSE_STDIN_REQUEST__INIT;
	Runner__V1__CloseStdinResponse *resp = NULL;
	int rv, code;

	req.session_id = (char *) id;
	rv = runner_close_stdin(cl, &req, &resp, RD_SESSION_CALL_MS, st);
	if ((code = answer_code(rv, resp, st)) != RUNNER_OK)
		return code;
	if (accepted != NULL)
		*accepted = resp->accepted;
	runner__v1__close_stdin_response__free_unpacked(resp, NULL);
	return RUNNER_OK;
}

uint64_t
rd_close_stdin(runner_client *cl, const char *id)
{
	uint64_t accepted = 0;
	runner_status st;
	int code = rd_close_stdin_code(cl, id, &accepted, &st);

	ck_assert_msg(code == RUNNER_OK, "CloseStdin: %s: %s", runner_status_code_name(code), st.message);
	return accepted;
}

int
rd_wait_code(runner_client *cl, const char *id, uint64_t timeout_ms, Runner__V1__WaitResponse **resp,
	     runner_status *st)
{
	Runner__V1__WaitRequest req = RUNNER__V1__WAIT_REQUEST__INIT;
	Runner__V1__WaitResponse *r = NULL;
	int rv, code;

	req.session_id = (char *) id;
	req.timeout_ms = timeout_ms;
	rv = runner_wait(cl, &req, &r, RD_SESSION_CALL_MS, st);
	if ((code = answer_code(rv, r, st)) != RUNNER_OK)
		return code;
	if (resp != NULL)
		*resp = r;
	else
		runner__v1__wait_response__free_unpacked(r, NULL);
	return RUNNER_OK;
}

Runner__V1__WaitResponse *
rd_wait(runner_client *cl, const char *id, uint64_t timeout_ms)
{
	Runner__V1__WaitResponse *resp = NULL;
	runner_status st;
	int code = rd_wait_code(cl, id, timeout_ms, &resp, &st);

	ck_assert_msg(code == RUNNER_OK, "Wait: %s: %s", runner_status_code_name(code), st.message);
	ck_assert_msg(resp->result != NULL, "Wait answered OK without a result");
	return resp;
}

int
rd_signal_code(runner_client *cl, const char *id, int sig, runner_status *st)
{
	Runner__V1__SignalRequest req = RUNNER__V1__SIGNAL_REQUEST__INIT;
	Runner__V1__SignalResponse *resp = NULL;
	int rv;

	req.session_id = (char *) id;
	req.signal = sig;
	rv = runner_signal(cl, &req, &resp, RD_SESSION_CALL_MS, st);
	if (rv == 0)
		runner__v1__signal_response__free_unpacked(resp, NULL);
	return answer_code(rv, resp, st);
}

Runner__V1__ListResponse *
rd_list(runner_client *cl, const char *tag)
{
	Runner__V1__ListRequest req = RUNNER__V1__LIST_REQUEST__INIT;
	Runner__V1__ListResponse *resp = NULL;
	runner_status st;
	int rv, code;

	req.tag = (char *) (tag ? tag : "");
	rv = runner_list(cl, &req, &resp, RD_SESSION_CALL_MS, &st);
	code = answer_code(rv, resp, &st);
	ck_assert_msg(code == RUNNER_OK, "List: %s: %s", runner_status_code_name(code), st.message);
	return resp;
}

const Runner__V1__SessionInfo *
rd_list_find(const Runner__V1__ListResponse *l, const char *id)
{
	for (size_t i = 0; i < l->n_sessions; i++)
		if (l->sessions[i]->session_id != NULL && strcmp(l->sessions[i]->session_id, id) == 0)
			return l->sessions[i];
	return NULL;
}

static Runner__V1__HealthResponse *
health(runner_client *cl)
{
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *resp = NULL;
	runner_status st;
	int rv = runner_health(cl, &req, &resp, RD_SESSION_CALL_MS, &st);
	int code = answer_code(rv, resp, &st);

	ck_assert_msg(code == RUNNER_OK, "Health: %s: %s", runner_status_code_name(code), st.message);
	return resp;
}

void
rd_assert_health(runner_client *cl)
{
	Runner__V1__HealthResponse *h = health(cl);

	ck_assert_str_eq(h->status, "SERVING");
	runner__v1__health_response__free_unpacked(h, NULL);
}

unsigned
rd_health_running(runner_client *cl)
{
	Runner__V1__HealthResponse *h = health(cl);
	unsigned n = h->running;

	runner__v1__health_response__free_unpacked(h, NULL);
	return n;
}

/* --- sinks ------------------------------------------------------------------- */

uint64_t
rd_fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

void
rd_sink_init(rd_sink *k, bool keep, uint64_t start)
{
	memset(k, 0, sizeof(*k));
	k->keep = keep;
	k->start = k->end = start;
	k->hash = RD_FNV_INIT;
}

void
rd_sink_free(rd_sink *k)
{
	free(k->data);
	k->data = NULL;
	k->cap = 0;
}

static void
sink_append(rd_sink *k, const uint8_t *data, size_t len)
{
	k->hash = rd_fnv1a(k->hash, data, len);
	if (k->keep) {
		size_t have = (size_t) (k->end - k->start);

		if (have + len + 1 > k->cap) {
			size_t cap = k->cap ? k->cap : 256;
			while (cap < have + len + 1)
				cap *= 2;
			k->data = realloc(k->data, cap);
			ck_assert_ptr_nonnull(k->data);
			k->cap = cap;
		}
		memcpy(k->data + have, data, len);
	}
	k->end += len;
}

const char *
rd_sink_str(rd_sink *k)
{
	size_t have = (size_t) (k->end - k->start);

	ck_assert_msg(k->keep, "rd_sink_str on a sink that does not keep its bytes");
	if (k->data == NULL || have + 1 > k->cap) {
		k->data = realloc(k->data, have + 1);
		ck_assert_ptr_nonnull(k->data);
		k->cap = have + 1;
	}
	k->data[have] = '\0';
	return (const char *) k->data;
}

void
rd_sink_assert_eq(rd_sink *k, const void *want, size_t len, const char *what)
{
	ProtobufCBinaryData got = { (size_t) (k->end - k->start), k->data };

	ck_assert_msg(k->keep, "rd_sink_assert_eq on a sink that does not keep its bytes");
	rd_assert_bytes(got, want, len, what);
}

/* --- readers ----------------------------------------------------------------- */

void
rd_reader_open_as(rd_reader *r, const rd_session *s, const char *id, const uint8_t *secret,
		  size_t secret_len, rd_sink *out, rd_sink *err)
{
	runner_status st = { 0 };
	int rv;

	memset(r, 0, sizeof(*r));
	r->out = out;
	r->err = err;
	rv = runner_stream_open(&r->rs, s->stream_address, id ? id : s->id, secret ? secret : s->secret,
				secret ? secret_len : s->secret_len, out->end, err->end, 3000, &st);
	ck_assert_msg(rv == 0, "runner_stream_open %s: %s: %s", s->stream_address,
		      runner_status_code_name(st.code), st.message);
}

void
rd_reader_open(rd_reader *r, const rd_session *s, rd_sink *out, rd_sink *err)
{
	rd_reader_open_as(r, s, NULL, NULL, 0, out, err);
}

void
rd_reader_open_pty(rd_reader *r, const rd_session *s, rd_sink *out, rd_sink *err)
{
	rd_reader_open_as(r, s, NULL, NULL, 0, out, err);
	r->pty = true;
}

int
rd_reader_step(rd_reader *r, int timeout_ms)
{
	StreamFrame *f = NULL;
	runner_status st = { 0 };
	rd_sink *k;
	int rv;

	ck_assert_msg(r->last == NULL, "reading past the last frame");
	rv = runner_stream_next(r->rs, &f, timeout_ms, &st);
	if (rv != 0 && st.code == RUNNER_DEADLINE_EXCEEDED)
		return -1;
	ck_assert_msg(rv == 0, "runner_stream_next: %s: %s (stdout at %llu, stderr at %llu)",
		      runner_status_code_name(st.code), st.message, (unsigned long long) r->out->end,
		      (unsigned long long) r->err->end);
	if (f->data.len > 0) {
		/* A PTY session's first stream is its terminal. */
		int out_kind = r->pty ? RUNNER__V1__STREAM_KIND__PTY : RUNNER__V1__STREAM_KIND__STDOUT;
		ck_assert_msg((int) f->stream == out_kind || f->stream == RUNNER__V1__STREAM_KIND__STDERR,
			      "data frame of %zu bytes names stream %d", f->data.len, (int) f->stream);
		k = (int) f->stream == out_kind ? r->out : r->err;
		ck_assert_msg(f->offset == k->end, "%s frame at offset %llu, want %llu",
			      k == r->out ? (r->pty ? "pty" : "stdout") : "stderr",
			      (unsigned long long) f->offset, (unsigned long long) k->end);
		sink_append(k, f->data.data, f->data.len);
		r->data_frames++;
		ck_assert_uint_eq(runner_stream_offset(r->rs, f->stream), k->end);
	}
	if (f->last) {
		r->last = f;
		return 0;
	}
	runner__v1__stream_frame__free_unpacked(f, NULL);
	return 1;
}

const StreamFrame *
rd_reader_drain(rd_reader *r)
{
	int rv;

	while ((rv = rd_reader_step(r, RD_FRAME_TIMEOUT_MS)) != 0)
		ck_assert_msg(rv > 0, "no stream frame within %d ms (stdout at %llu, stderr at %llu)",
			      RD_FRAME_TIMEOUT_MS, (unsigned long long) r->out->end,
			      (unsigned long long) r->err->end);
	return r->last;
}

void
rd_reader_until_out(rd_reader *r, uint64_t n)
{
	while (r->out->end - r->out->start < n) {
		int rv = rd_reader_step(r, RD_FRAME_TIMEOUT_MS);

		ck_assert_msg(rv >= 0, "no stream frame within %d ms (stdout at %llu, want %llu bytes)",
			      RD_FRAME_TIMEOUT_MS, (unsigned long long) r->out->end,
			      (unsigned long long) n);
		ck_assert_msg(rv != 0,
			      "the stream ended (code %s \"%s\") with %llu stdout bytes, want %llu",
			      runner_status_code_name(r->last->code), r->last->message ? r->last->message : "",
			      (unsigned long long) (r->out->end - r->out->start), (unsigned long long) n);
	}
}

static void *
close_main(void *arg)
{
	runner_stream_close(arg);
	return NULL;
}

void
rd_reader_close(rd_reader *r)
{
	struct timespec until;
	pthread_t t;
	int rv;

	/* In a helper thread, so a close that never returns fails the test
	 * with a clear message instead of running into check's timeout. */
	if (r->rs != NULL) {
		ck_assert_int_eq(pthread_create(&t, NULL, close_main, r->rs), 0);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += RD_CLOSE_TIMEOUT_MS / 1000;
		rv = pthread_timedjoin_np(t, NULL, &until);
		ck_assert_msg(rv == 0,
			      "runner_stream_close did not return within %d ms (stdout at %llu, "
			      "stderr at %llu, %s)",
			      RD_CLOSE_TIMEOUT_MS, (unsigned long long) r->out->end,
			      (unsigned long long) r->err->end,
			      r->last ? "after the last frame" : "closed mid-stream");
	}
	r->rs = NULL;
	if (r->last != NULL)
		runner__v1__stream_frame__free_unpacked(r->last, NULL);
	r->last = NULL;
}

const RunResult *
rd_assert_final_result(const StreamFrame *f)
{
	ck_assert_msg(f->code == RUNNER__V1__STATUS_CODE__OK, "last frame code %s (\"%s\"), want OK",
		      runner_status_code_name(f->code), f->message ? f->message : "");
	ck_assert_msg(f->result != NULL, "last frame without a result");
	ck_assert_msg(f->data.len == 0, "last frame carries %zu data bytes", f->data.len);
	ck_assert_msg(f->result->stdout.len == 0 && f->result->stderr.len == 0,
		      "the last frame's result carries output (%zu/%zu bytes); it came in frames",
		      f->result->stdout.len, f->result->stderr.len);
	return f->result;
}

void
rd_assert_final_code(const StreamFrame *f, int code)
{
	ck_assert_msg((int) f->code == code, "last frame code %s (\"%s\"), want %s",
		      runner_status_code_name(f->code), f->message ? f->message : "", runner_status_code_name(code));
	ck_assert_msg(f->result == NULL, "a refused stream's last frame carries a result");
	ck_assert_msg(f->data.len == 0, "a refused stream's last frame carries %zu data bytes",
		      f->data.len);
	ck_assert_msg(f->message != NULL && f->message[0] != '\0', "last frame %s without a message",
		      runner_status_code_name(code));
}

const RunResult *
rd_read_all(rd_reader *r, const rd_session *s, rd_sink *out, rd_sink *err)
{
	rd_sink_init(out, true, 0);
	rd_sink_init(err, true, 0);
	rd_reader_open(r, s, out, err);
	return rd_assert_final_result(rd_reader_drain(r));
}

int
rd_drain_code(const rd_session *s, uint64_t stdout_from, rd_drained *d, runner_status *st)
{
	runner_stream *rs = NULL;
	int code = RUNNER_OK;

	memset(d, 0, sizeof(*d));
	d->out_hash = RD_FNV_INIT;
	if (runner_stream_open(&rs, s->stream_address, s->id, s->secret, s->secret_len, stdout_from, 0,
			       5000, st) != 0)
		return st->code != RUNNER_OK ? st->code : RUNNER_UNKNOWN;
	for (;;) {
		StreamFrame *f = NULL;
		bool out;

		if (runner_stream_next(rs, &f, RD_FRAME_TIMEOUT_MS, st) != 0) {
			code = st->code != RUNNER_OK ? st->code : RUNNER_UNKNOWN;
			break;
		}
		out = f->stream == RUNNER__V1__STREAM_KIND__STDOUT;
		if (f->data.len > 0 && f->offset != (out ? stdout_from + d->out : d->err)) {
			snprintf(st->message, sizeof(st->message), "%s frame at offset %llu, want %llu",
				 out ? "stdout" : "stderr", (unsigned long long) f->offset,
				 (unsigned long long) (out ? stdout_from + d->out : d->err));
			code = st->code = RUNNER_DATA_LOSS;
		} else if (f->data.len > 0 && out) {
			d->out += f->data.len;
			d->out_hash = rd_fnv1a(d->out_hash, f->data.data, f->data.len);
		} else {
			d->err += f->data.len;
		}
		if (code == RUNNER_OK && f->last) {
			d->code = (int) f->code;
			snprintf(d->message, sizeof(d->message), "%s", f->message ? f->message : "");
			if ((d->has_result = f->result != NULL)) {
				d->reason = (int) f->result->reason;
				d->exit_code = f->result->exit_code;
				d->stdout_total = f->result->stdout_total;
			}
		}
		bool done = code != RUNNER_OK || f->last;
		runner__v1__stream_frame__free_unpacked(f, NULL);
		if (done)
			break;
	}
	runner_stream_close(rs);
	return code;
}

/* --- bulk data --------------------------------------------------------------- */

char *
rd_seq_text(unsigned n, size_t *len)
{
	size_t cap = (size_t) n * 8 + 16, o = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (unsigned i = 1; i <= n; i++)
		o += (size_t) snprintf(buf + o, cap - o, "%u\n", i);
	*len = o;
	return buf;
}

void
rd_fill_pattern(uint8_t *buf, size_t len, uint64_t seed, uint64_t index)
{
	uint64_t x = seed ^ (index * 0x9e3779b97f4a7c15ull) ^ 0x2545f4914f6cdd1dull;
	size_t i = 0;

	if (x == 0)
		x = 1;
	while (i < len) {
		uint64_t v;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dull;
		for (int b = 0; b < 8 && i < len; b++, v >>= 8)
			buf[i++] = (uint8_t) v;
	}
}

struct pump_writer {
	const char *url;
	const char *id;
	uint64_t total;
	size_t chunk;
	uint64_t seed;
	uint64_t hash;      /* of what was sent */
	uint64_t sent;
	char error[600];    /* first failure, empty when none */
};

static void *
pump_write(void *arg)
{
	struct pump_writer *w = arg;
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *cl = NULL;
	uint8_t *buf = malloc(w->chunk);
	runner_status st = { 0 };
	uint64_t accepted;
	int code;

	w->hash = RD_FNV_INIT;
	if (buf == NULL || runner_client_open(&cl, w->url, &o, &st) != 0) {
		snprintf(w->error, sizeof(w->error), "writer setup: %s", st.message);
		goto out;
	}
	for (uint64_t i = 0; w->sent < w->total; i++) {
		size_t n = w->total - w->sent < w->chunk ? (size_t) (w->total - w->sent) : w->chunk;

		rd_fill_pattern(buf, n, w->seed, i);
		code = rd_write_stdin_code(cl, w->id, w->sent, buf, n, &accepted, &st);
		if (code != RUNNER_OK) {
			snprintf(w->error, sizeof(w->error), "WriteStdin at offset %llu: %s: %s",
				 (unsigned long long) w->sent, runner_status_code_name(code), st.message);
			goto out;
		}
		w->hash = rd_fnv1a(w->hash, buf, n);
		w->sent += n;
		if (accepted != w->sent) {
			snprintf(w->error, sizeof(w->error), "WriteStdin answered accepted=%llu, want %llu",
				 (unsigned long long) accepted, (unsigned long long) w->sent);
			goto out;
		}
	}
	code = rd_close_stdin_code(cl, w->id, &accepted, &st);
	if (code != RUNNER_OK)
		snprintf(w->error, sizeof(w->error), "CloseStdin: %s: %s", runner_status_code_name(code),
			 st.message);
	else if (accepted != w->total)
		snprintf(w->error, sizeof(w->error), "CloseStdin answered accepted=%llu, want %llu",
			 (unsigned long long) accepted, (unsigned long long) w->total);
out:
	runner_client_close(cl);
	free(buf);
	return NULL;
}

int64_t
rd_pump_through_cat(const char *url, uint64_t total, size_t chunk)
{
	struct pump_writer w = { .url = url, .total = total, .chunk = chunk };
	runner_client *cl = rd_client(url);
	const RunResult *res;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	pthread_t t;
	int64_t t0 = rd_now_ms(), ms;

	w.seed = (uint64_t) t0 * 2654435761u + total;
	rd_start_argv(cl, &s, "cat", NULL);
	w.id = s.id;
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_int_eq(pthread_create(&t, NULL, pump_write, &w), 0);
	/* Reading on while the writer works; a writer failure shows up as a
	 * stream that ends early or stalls, then in w.error. */
	for (;;) {
		int rv = rd_reader_step(&r, RD_FRAME_TIMEOUT_MS);

		if (rv == 0)
			break;
		ck_assert_msg(w.error[0] == '\0', "writer failed: %s", w.error);
		ck_assert_msg(rv > 0, "no stream frame within %d ms (%llu of %llu bytes read, %llu written)",
			      RD_FRAME_TIMEOUT_MS, (unsigned long long) out.end,
			      (unsigned long long) total, (unsigned long long) w.sent);
	}
	pthread_join(t, NULL);
	ms = rd_now_ms() - t0;
	ck_assert_msg(w.error[0] == '\0', "writer failed: %s", w.error);
	res = rd_assert_final_result(r.last);
	rd_assert_exited(res, 0);
	ck_assert_uint_eq(out.end, total);
	ck_assert_uint_eq(res->stdout_total, total);
	ck_assert_uint_eq(err.end, 0);
	ck_assert_msg(out.hash == w.hash, "output hash %016llx differs from input hash %016llx",
		      (unsigned long long) out.hash, (unsigned long long) w.hash);
	rd_reader_close(&r);
	rd_sink_free(&err);
	runner_client_close(cl);
	return ms;
}
