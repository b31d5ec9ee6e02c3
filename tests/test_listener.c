/* test_listener — listeners keep accepting after peers that connect and go
 * away before (or during) the SP handshake (nng 1.5.2 bug #1518): the
 * request listeners and the stream listeners, ipc and tcp. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "rpc.h"
#include "session_support.h"
#include "support.h"

#define CHURN_CYCLES 1000
#define RUN_WITHIN_MS 2000

static void
listener_setup(void)
{
	rd_options o = { .tcp = true };

	rd_start(&rd_fx, &o);
}

/* Both listeners are churned; loop iteration _i then checks one of them
 * (0: ipc, 1: tcp), so a broken one cannot hide the other's result. */
static const char *
checked_url(int i)
{
	return i == 0 ? rd_fx.ipc_url : rd_fx.tcp_url;
}

START_TEST(test_connect_close_churn)
{
	rd_churn(rd_fx.ipc_url, CHURN_CYCLES, NULL, 0);
	rd_churn(rd_fx.tcp_url, CHURN_CYCLES, NULL, 0);
	rd_assert_echo_ok_within(checked_url(_i), RUN_WITHIN_MS);
}
END_TEST

/* Peers that send a partial or a wrong SP header and then close. */
START_TEST(test_bad_handshake_churn)
{
	static const unsigned char partial[] = { 0x00, 'S', 'P' };
	static const unsigned char wrong[] = { 'G', 'E', 'T', ' ', '/', ' ', 'H', 'T' };

	rd_churn(rd_fx.ipc_url, CHURN_CYCLES / 4, partial, sizeof(partial));
	rd_churn(rd_fx.ipc_url, CHURN_CYCLES / 4, wrong, sizeof(wrong));
	rd_churn(rd_fx.tcp_url, CHURN_CYCLES / 4, partial, sizeof(partial));
	rd_churn(rd_fx.tcp_url, CHURN_CYCLES / 4, wrong, sizeof(wrong));
	rd_assert_echo_ok_within(checked_url(_i), RUN_WITHIN_MS);
}
END_TEST

/* --- the stream listeners ---------------------------------------------------- */

/* A ReadStream reader on a bare PAIR1 socket, without the client library's
 * re-attach: a connection the server drops shows up as a second pipe (nng
 * redials) and a frame that never comes. */
struct raw_reader {
	nng_socket sock;
	int pipes; /* connections the dialer made */
	pthread_mutex_t mtx;
	uint64_t frames, out;
	char data[256];
	bool last;
	int code;
};

static void
raw_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct raw_reader *r = arg;

	pthread_mutex_lock(&r->mtx);
	r->pipes++;
	pthread_mutex_unlock(&r->mtx);
}

static int
raw_pipes(struct raw_reader *r)
{
	int n;

	pthread_mutex_lock(&r->mtx);
	n = r->pipes;
	pthread_mutex_unlock(&r->mtx);
	return n;
}

static void
raw_send(struct raw_reader *r, const Runner__V1__StreamClientMessage *m)
{
	size_t len = runner__v1__stream_client_message__get_packed_size(m);
	nng_msg *msg;

	ck_assert_int_eq(nng_msg_alloc(&msg, len), 0);
	runner__v1__stream_client_message__pack(m, nng_msg_body(msg));
	ck_assert_int_eq(nng_sendmsg(r->sock, msg, 0), 0);
}

/* Dial (synchronously: the connection is up when this returns) and send
 * one attach from offset 0. */
static void
raw_attach(struct raw_reader *r, const rd_session *s)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__ReadStreamRequest a = RUNNER__V1__READ_STREAM_REQUEST__INIT;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mtx, NULL);
	ck_assert_int_eq(nng_pair1_open(&r->sock), 0);
	ck_assert_int_eq(nng_pipe_notify(r->sock, NNG_PIPE_EV_ADD_POST, raw_pipe_added, r), 0);
	ck_assert_int_eq(nng_dial(r->sock, s->stream_address, NULL, 0), 0);
	a.session_id = (char *) s->id;
	a.stream_secret.data = (uint8_t *) s->secret;
	a.stream_secret.len = s->secret_len;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH;
	m.attach = &a;
	raw_send(r, &m);
}

/* Receive and acknowledge one frame within what is left until `end_ms`;
 * false when none came. */
static bool
raw_step(struct raw_reader *r, int64_t end_ms)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__StreamAck ack = RUNNER__V1__STREAM_ACK__INIT;
	int64_t left = end_ms - rd_now_ms();
	StreamFrame *f;
	nng_msg *msg;

	if (left <= 0 || nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, (nng_duration) left) != 0 ||
	    nng_recvmsg(r->sock, &msg, 0) != 0)
		return false;
	f = runner__v1__stream_frame__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	ck_assert_msg(f != NULL, "a stream frame that does not decode");
	r->frames++;
	if (f->stream == RUNNER__V1__STREAM_KIND__STDOUT && f->data.len > 0) {
		ck_assert_uint_eq(f->offset, r->out);
		ck_assert_uint_lt(r->out + f->data.len, sizeof(r->data));
		memcpy(r->data + r->out, f->data.data, f->data.len);
		r->out += f->data.len;
	}
	r->last = f->last;
	r->code = f->code;
	runner__v1__stream_frame__free_unpacked(f, NULL);
	ack.frames = r->frames;
	ack.stdout_offset = r->out;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK;
	m.ack = &ack;
	raw_send(r, &m);
	return true;
}

/* Read until stdout holds `want` exactly (and, with `to_last`, the last
 * frame came), all before `end_ms`, on the one connection dialed. */
static void
raw_expect(struct raw_reader *r, const char *want, bool to_last, int64_t end_ms, const char *what)
{
	while ((r->out < strlen(want) || (to_last && !r->last)) && !r->last)
		if (!raw_step(r, end_ms))
			break;
	r->data[r->out] = '\0';
	ck_assert_msg(strcmp(r->data, want) == 0 && (!to_last || r->last),
		      "%s: got \"%s\"%s within the time allowed, want \"%s\"%s", what, r->data,
		      r->last ? " and the last frame" : "", want, to_last ? " and the last frame" : "");
	ck_assert_msg(!to_last || r->code == 0, "%s: last frame with code %d", what, r->code);
	ck_assert_msg(raw_pipes(r) == 1, "%s: the connection was dropped (%d connections dialed)", what,
		      raw_pipes(r));
}

static void
raw_close(struct raw_reader *r)
{
	nng_close(r->sock);
	pthread_mutex_destroy(&r->mtx);
}

/* After 1,000 raw connect/close cycles on a stream listener (ipc, then
 * tcp), an attach made right away succeeds within 2 s on its first
 * connection, and a reader attached before the churn still receives on
 * its own. */
START_TEST(test_stream_connect_close_churn)
{
	runner_client *cl = rd_client(checked_url(_i));
	struct raw_reader before, after;
	rd_session cat, echo;
	int64_t end;

	rd_start_argv(cl, &cat, "cat", NULL);
	ck_assert_msg(strncmp(cat.stream_address, _i == 0 ? "ipc://" : "tcp://", 6) == 0, "stream address %s",
		      cat.stream_address);
	raw_attach(&before, &cat);
	ck_assert_uint_eq(rd_write_stdin(cl, cat.id, 0, "before\n", 7), 7);
	raw_expect(&before, "before\n", false, rd_now_ms() + RUN_WITHIN_MS, "the reader attached before");

	rd_churn(cat.stream_address, CHURN_CYCLES, NULL, 0);

	rd_start_argv(cl, &echo, "echo", "attached", NULL);
	end = rd_now_ms() + RUN_WITHIN_MS;
	raw_attach(&after, &echo);
	raw_expect(&after, "attached\n", true, end, "an attach right after the churn");
	raw_close(&after);

	ck_assert_uint_eq(rd_write_stdin(cl, cat.id, 7, "after\n", 6), 13);
	raw_expect(&before, "before\nafter\n", false, rd_now_ms() + RUN_WITHIN_MS,
		   "the reader attached before the churn");
	rd_close_stdin(cl, cat.id);
	raw_expect(&before, "before\nafter\n", true, rd_now_ms() + RUN_WITHIN_MS,
		   "the reader attached before the churn, to its end");
	raw_close(&before);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = rd_tcase("listener");

	tcase_add_checked_fixture(tc, listener_setup, rd_fixture_stop);
	tcase_add_loop_test(tc, test_connect_close_churn, 0, 2);
	tcase_add_loop_test(tc, test_bad_handshake_churn, 0, 2);
	tcase_add_loop_test(tc, test_stream_connect_close_churn, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
