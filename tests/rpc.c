/* rpc.c — Run request building and answer checks; see rpc.h. */
#include "rpc.h"
#include "runner_client_internal.h"
#include "support.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

void
rd_cmd_init(rd_cmd *c)
{
	static const Runner__V1__RunRequest req0 = RUNNER__V1__RUN_REQUEST__INIT;
	static const Runner__V1__CommandSpec spec0 = RUNNER__V1__COMMAND_SPEC__INIT;

	memset(c, 0, sizeof(*c));
	c->req = req0;
	c->spec = spec0;
	c->req.command = &c->spec;
	c->spec.argv = c->argv;
	c->spec.env = c->envp;
}

void
rd_cmd_argv(rd_cmd *c, ...)
{
	va_list ap;
	char *a;

	va_start(ap, c);
	while ((a = va_arg(ap, char *)) != NULL) {
		ck_assert_int_lt(c->spec.n_argv, RD_MAX_ARGS);
		c->argv[c->spec.n_argv++] = a;
	}
	va_end(ap);
}

void
rd_cmd_shell(rd_cmd *c, const char *shell)
{
	c->spec.shell = (char *) shell;
}

void
rd_cmd_env(rd_cmd *c, const char *name, const char *value)
{
	static const Runner__V1__EnvVar ev0 = RUNNER__V1__ENV_VAR__INIT;
	Runner__V1__EnvVar *e;

	ck_assert_int_lt(c->spec.n_env, RD_MAX_ENV);
	e = &c->env[c->spec.n_env];
	*e = ev0;
	e->name = (char *) name;
	e->value.data = (uint8_t *) value;
	e->value.len = strlen(value);
	c->envp[c->spec.n_env++] = e;
}

void
rd_cmd_stdin(rd_cmd *c, const void *data, size_t len)
{
	c->req.stdin.data = (uint8_t *) data;
	c->req.stdin.len = len;
}

uint8_t *
rd_cmd_pack(const rd_cmd *c, size_t *len)
{
	uint8_t *buf;

	*len = runner__v1__run_request__get_packed_size(&c->req);
	buf = malloc(*len ? *len : 1);
	ck_assert_ptr_nonnull(buf);
	runner__v1__run_request__pack(&c->req, buf);
	return buf;
}

Runner__V1__RunResponse *
rd_run_ok(runner_client *cl, const rd_cmd *c)
{
	Runner__V1__RunResponse *resp = NULL;
	runner_status st = { 0 };
	int rv = runner_run(cl, &c->req, &resp, RD_CALL_DEADLINE_MS, &st);

	ck_assert_msg(rv == 0, "Run failed: %s: %s", runner_status_code_name(st.code), st.message);
	ck_assert_msg(resp != NULL && resp->result != NULL, "Run answered OK without a result");
	return resp;
}

Runner__V1__RunResponse *
rd_run_ok_at(const char *url, const rd_cmd *c)
{
	runner_client *cl = rd_client(url);
	Runner__V1__RunResponse *resp = rd_run_ok(cl, c);

	runner_client_close(cl);
	return resp;
}

int
rd_run_code(runner_client *cl, const rd_cmd *c, runner_status *st)
{
	Runner__V1__RunResponse *resp = NULL;
	int rv = runner_run(cl, &c->req, &resp, RD_CALL_DEADLINE_MS, st);

	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	return rv == 0 ? RUNNER_OK : st->code;
}

Runner__V1__ReplyEnvelope *
rd_call_envelope(runner_client *cl, const char *method, const void *id, size_t id_len,
		 const void *payload, size_t len)
{
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	Runner__V1__ReplyEnvelope *reply = NULL;
	runner_status st = { 0 };

	env.method = (char *) method;
	env.request_id.data = (uint8_t *) id;
	env.request_id.len = id_len;
	env.payload.data = (uint8_t *) payload;
	env.payload.len = len;
	env.deadline_ms = RD_CALL_DEADLINE_MS;
	ck_assert_msg(runner_client_call_envelope(cl, &env, &reply, &st) == 0,
		      "envelope call failed: %s: %s", runner_status_code_name(st.code), st.message);
	return reply;
}

int
rd_raw_request(const char *url, const void *buf, size_t len, int timeout_ms,
	       Runner__V1__ReplyEnvelope **reply)
{
	nng_socket s;
	nng_msg *msg = NULL;
	int rv;

	*reply = NULL;
	ck_assert_int_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	ck_assert_int_eq(nng_dial(s, url, NULL, 0), 0);
	ck_assert_int_eq(nng_msg_alloc(&msg, len), 0);
	memcpy(nng_msg_body(msg), buf, len);
	if ((rv = nng_sendmsg(s, msg, 0)) != 0)
		nng_msg_free(msg);
	else if ((rv = nng_recvmsg(s, &msg, 0)) == 0) {
		*reply = runner__v1__reply_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
		nng_msg_free(msg);
		ck_assert_msg(*reply != NULL, "reply envelope does not decode");
	}
	nng_close(s);
	return rv;
}

/* Quote up to 200 bytes of b for a failure message. */
static const char *
quote(const void *data, size_t len, char *out, size_t cap)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < len && i < 200 && o + 5 < cap; i++)
		o += (size_t) snprintf(out + o, cap - o, isprint(p[i]) ? "%c" : "\\x%02x", p[i]);
	if (len > 200 && o + 4 < cap)
		o += (size_t) snprintf(out + o, cap - o, "...");
	out[o] = '\0';
	return out;
}

void
rd_assert_bytes(ProtobufCBinaryData got, const void *want, size_t want_len, const char *what)
{
	char qg[1024], qw[1024];
	size_t i = 0, n = got.len < want_len ? got.len : want_len;

	while (i < n && got.data[i] == ((const uint8_t *) want)[i])
		i++;
	ck_assert_msg(got.len == want_len && i == want_len,
		      "%s: got %zu bytes \"%s\", want %zu bytes \"%s\" (first difference at %zu)",
		      what, got.len, quote(got.data, got.len, qg, sizeof(qg)), want_len,
		      quote(want, want_len, qw, sizeof(qw)), i);
}

void
rd_assert_output(ProtobufCBinaryData got, const char *want, const char *what)
{
	rd_assert_bytes(got, want, strlen(want), what);
}

void
rd_assert_exited(const Runner__V1__RunResult *r, int code)
{
	ck_assert_msg(r->reason == RUNNER__V1__TERMINATION__EXITED,
		      "reason %d, want EXITED (exec_error \"%s\", signal %d)", r->reason,
		      r->exec_error ? r->exec_error : "", r->signal);
	ck_assert_int_eq(r->exit_code, code);
	ck_assert_int_eq(r->signal, 0);
}

static void
echo_ok(runner_client *cl, uint64_t deadline_ms)
{
	Runner__V1__RunResponse *resp = NULL;
	runner_status st = { 0 };
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "echo", "ok", NULL);
	ck_assert_msg(runner_run(cl, &c.req, &resp, deadline_ms, &st) == 0 && resp->result,
		      "echo ok failed: %s: %s", runner_status_code_name(st.code), st.message);
	rd_assert_output(resp->result->stdout, "ok\n", "stdout of echo ok");
	rd_assert_exited(resp->result, 0);
	runner__v1__run_response__free_unpacked(resp, NULL);
}

void
rd_assert_echo_ok(runner_client *cl)
{
	echo_ok(cl, RD_CALL_DEADLINE_MS);
}

void
rd_assert_echo_ok_at(const char *url)
{
	runner_client *cl = rd_client(url);

	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}

void
rd_assert_echo_ok_within(const char *url, int ms)
{
	runner_client_options o = { .connect_timeout_ms = ms };
	runner_client *cl = NULL;
	runner_status st = { 0 };
	int64_t t0 = rd_now_ms(), elapsed;

	ck_assert_msg(runner_client_open(&cl, url, &o, &st) == 0, "client %s: %s", url, st.message);
	echo_ok(cl, (uint64_t) ms);
	elapsed = rd_now_ms() - t0;
	ck_assert_msg(elapsed <= ms, "echo ok via %s took %lld ms, more than %d ms", url,
		      (long long) elapsed, ms);
	runner_client_close(cl);
}
