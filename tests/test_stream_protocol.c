/* test_stream_protocol — ReadStream as runner.proto and the README specify
 * it, spoken with a bare nng PAIR1 socket and the generated messages, as a
 * client in another language speaks it (not through runner_stream.h):
 *
 *   - an ack before any attach is ignored and the connection stays usable;
 *   - a second attach while one is active on the connection is ignored; once
 *     the last frame came, the same connection may attach again;
 *   - the credit window: 2 frames unacknowledged at most, the last frame
 *     included;
 *   - a reader that never acknowledges reads everything by attaching again
 *     from its offsets;
 *   - ReadStream sent over REQ/REP is UNIMPLEMENTED;
 *   - with --listen tcp://0.0.0.0:P the stream address is dialable (the
 *     address the request came to), and --advertise-stream overrides it;
 *   - ReadOutput (retained bytes, offsets, errors) and Remove (an attached
 *     reader's last frame says NOT_FOUND).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "runner_client_internal.h"
#include "session_support.h"

/* A frame of data is at most this (the server's STREAM_FRAME_MAX or less). */
#define FRAME_DATA_MAX (1u << 20)
#define QUIET_MS 700

typedef struct raw {
	nng_socket sock;
	uint64_t frames; /* received on the current attachment */
	uint64_t off[3]; /* by StreamKind */
} raw;

static void
raw_open(raw *r, const char *addr)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(nng_pair1_open(&r->sock), 0);
	/* Frames may be a little over 1 MiB before the frame-size change. */
	ck_assert_int_eq(nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, 4u << 20), 0);
	ck_assert_int_eq(nng_socket_set_ms(r->sock, NNG_OPT_SENDTIMEO, 5000), 0);
	ck_assert_msg(nng_dial(r->sock, addr, NULL, 0) == 0, "dial %s", addr);
}

static void
raw_send(raw *r, const Runner__V1__StreamClientMessage *m)
{
	size_t len = runner__v1__stream_client_message__get_packed_size(m);
	void *buf = nng_alloc(len ? len : 1);

	runner__v1__stream_client_message__pack(m, buf);
	ck_assert_int_eq(nng_send(r->sock, buf, len, NNG_FLAG_ALLOC), 0);
}

static void
raw_attach(raw *r, const rd_session *s, uint64_t out, uint64_t err)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__ReadStreamRequest a = RUNNER__V1__READ_STREAM_REQUEST__INIT;

	a.session_id = (char *) s->id;
	a.stream_secret.data = (uint8_t *) s->secret;
	a.stream_secret.len = s->secret_len;
	a.stdout_offset = out;
	a.stderr_offset = err;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH;
	m.attach = &a;
	r->frames = 0;
	r->off[RUNNER__V1__STREAM_KIND__STDOUT] = out;
	r->off[RUNNER__V1__STREAM_KIND__STDERR] = err;
	raw_send(r, &m);
}

static void
raw_ack(raw *r)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__StreamAck a = RUNNER__V1__STREAM_ACK__INIT;

	a.frames = r->frames;
	a.stdout_offset = r->off[RUNNER__V1__STREAM_KIND__STDOUT];
	a.stderr_offset = r->off[RUNNER__V1__STREAM_KIND__STDERR];
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK;
	m.ack = &a;
	raw_send(r, &m);
}

/* The next frame within timeout_ms, NULL when none came; checks it follows
 * on what came before and counts it. */
static StreamFrame *
raw_recv(raw *r, int timeout_ms)
{
	StreamFrame *f;
	size_t len;
	void *buf;
	int rv;

	ck_assert_int_eq(nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, timeout_ms), 0);
	if ((rv = nng_recv(r->sock, &buf, &len, NNG_FLAG_ALLOC)) == NNG_ETIMEDOUT)
		return NULL;
	ck_assert_msg(rv == 0, "recv: %s", nng_strerror(rv));
	f = runner__v1__stream_frame__unpack(NULL, len, buf);
	nng_free(buf, len);
	ck_assert(f != NULL);
	r->frames++;
	if (f->data.len > 0) {
		ck_assert(f->stream == RUNNER__V1__STREAM_KIND__STDOUT || f->stream == RUNNER__V1__STREAM_KIND__STDERR);
		ck_assert_msg(f->offset == r->off[f->stream], "frame at %llu, expected %llu",
			      (unsigned long long) f->offset, (unsigned long long) r->off[f->stream]);
		ck_assert_uint_le(f->data.len, FRAME_DATA_MAX);
		r->off[f->stream] += f->data.len;
	}
	return f;
}

/* Receive, acknowledging each frame, until the last one (returned); the
 * first bytes of stdout into `out` (NULL: dropped), NUL-terminated. */
static StreamFrame *
raw_until_last(raw *r, char *out, size_t cap)
{
	size_t used = 0;

	if (out != NULL)
		out[0] = '\0';
	for (;;) {
		StreamFrame *f = raw_recv(r, RD_FRAME_TIMEOUT_MS);

		ck_assert_msg(f != NULL, "no frame within %d ms", RD_FRAME_TIMEOUT_MS);
		raw_ack(r);
		if (out != NULL && f->stream == RUNNER__V1__STREAM_KIND__STDOUT) {
			size_t n = f->data.len < cap - 1 - used ? f->data.len : cap - 1 - used;

			memcpy(out + used, f->data.data, n);
			used += n;
			out[used] = '\0';
		}
		if (f->last)
			return f;
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
}

/* A session of `shell`, ended before anyone reads it. */
static void
finished_session(runner_client *cl, rd_session *s, const char *shell)
{
	rd_start_shell(cl, s, shell);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, s->id, 10000), NULL);
}

/* A fresh connection attached to `s` from the start. */
static void
raw_attach_new(raw *r, const rd_session *s)
{
	raw_open(r, s->stream_address);
	raw_attach(r, s, 0, 0);
}

/* Take `n` frames without acknowledging them; the last of them is the last
 * frame when `ends`, none is otherwise. */
static void
take_unacked(raw *r, int n, bool ends)
{
	for (int i = 0; i < n; i++) {
		StreamFrame *f = raw_recv(r, RD_FRAME_TIMEOUT_MS);

		ck_assert_msg(f != NULL, "frame %d of %d did not come", i + 1, n);
		ck_assert_msg(f->last == (ends && i == n - 1), "frame %d of %d: last=%d", i + 1, n, f->last);
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
}

/* ---- the attach sequence ---- */

START_TEST(test_ack_before_attach_is_ignored)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__StreamAck a = RUNNER__V1__STREAM_ACK__INIT;
	StreamFrame *f;
	rd_session s;
	char out[64];
	raw r;

	finished_session(cl, &s, "echo hello");
	raw_open(&r, s.stream_address);
	/* It claims frames and bytes it never got: nothing may come of it. */
	a.frames = 5;
	a.stdout_offset = 3;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK;
	m.ack = &a;
	raw_send(&r, &m);
	ck_assert_ptr_null(raw_recv(&r, QUIET_MS));
	raw_attach(&r, &s, 0, 0);
	f = raw_until_last(&r, out, sizeof(out));
	rd_assert_exited(rd_assert_final_result(f), 0);
	ck_assert_str_eq(out, "hello\n");
	runner__v1__stream_frame__free_unpacked(f, NULL);
	nng_close(r.sock);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_second_attach_on_one_connection)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	StreamFrame *f;
	rd_session s;
	char out[64];
	raw r;

	rd_start_argv(cl, &s, "cat", NULL);
	raw_attach_new(&r, &s);
	rd_write_stdin(cl, s.id, 0, "one", 3);
	ck_assert_ptr_nonnull(f = raw_recv(&r, RD_FRAME_TIMEOUT_MS));
	ck_assert(f->data.len == 3 && memcmp(f->data.data, "one", 3) == 0 && !f->last);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	raw_ack(&r);
	/* While attached: a second attach is ignored, the first goes on. */
	{
		uint64_t frames = r.frames, at = r.off[RUNNER__V1__STREAM_KIND__STDOUT];

		raw_attach(&r, &s, 0, 0);
		r.frames = frames;
		r.off[RUNNER__V1__STREAM_KIND__STDOUT] = at;
	}
	ck_assert_ptr_null(raw_recv(&r, QUIET_MS));
	rd_write_stdin(cl, s.id, 3, "two", 3);
	ck_assert_ptr_nonnull(f = raw_recv(&r, RD_FRAME_TIMEOUT_MS));
	ck_assert_uint_eq(f->offset, 3);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	raw_ack(&r);
	rd_close_stdin(cl, s.id);
	f = raw_until_last(&r, NULL, 0);
	rd_assert_exited(rd_assert_final_result(f), 0);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	/* After the last frame the connection may attach again. */
	raw_attach(&r, &s, 0, 0);
	f = raw_until_last(&r, out, sizeof(out));
	rd_assert_exited(rd_assert_final_result(f), 0);
	ck_assert_str_eq(out, "onetwo");
	runner__v1__stream_frame__free_unpacked(f, NULL);
	nng_close(r.sock);
	runner_client_close(cl);
}
END_TEST

/* ---- credit ---- */

/* Output of `frames` full frames and a bit, finished before anyone reads
 * (the session buffer holds 4 MiB). */
static void
start_frames(runner_client *cl, rd_session *s, unsigned mib)
{
	char shell[64];

	snprintf(shell, sizeof(shell), "head -c %uM /dev/zero; printf x", mib);
	rd_start_shell(cl, s, shell);
}

START_TEST(test_credit_window_and_the_last_frame)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	StreamFrame *f;
	rd_session s;
	raw r;

	/* More than two frames of data: without an ack, exactly two come. */
	start_frames(cl, &s, 3);
	raw_attach_new(&r, &s);
	take_unacked(&r, 2, false);
	ck_assert_msg((f = raw_recv(&r, QUIET_MS)) == NULL, "a third frame without credit (last: %d)",
		      f ? f->last : 0);
	/* Acknowledging gives credit again; the rest, and the last frame,
	 * come as long as the reader goes on acknowledging. */
	raw_ack(&r);
	f = raw_until_last(&r, NULL, 0);
	rd_assert_exited(rd_assert_final_result(f), 0);
	ck_assert_uint_eq(r.off[RUNNER__V1__STREAM_KIND__STDOUT], (3u << 20) + 1);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	nng_close(r.sock);

	/* The last frame needs credit too: after two unacknowledged data
	 * frames it waits for an ack; after one it comes. */
	finished_session(cl, &s, "head -c 1000 /dev/zero; head -c 10 /dev/zero >&2");
	raw_attach_new(&r, &s);
	take_unacked(&r, 2, false);
	ck_assert_ptr_null(raw_recv(&r, QUIET_MS));
	raw_ack(&r);
	take_unacked(&r, 1, true);
	nng_close(r.sock);

	finished_session(cl, &s, "echo one frame");
	raw_attach_new(&r, &s);
	take_unacked(&r, 2, true);
	nng_close(r.sock);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_reattach_serves_readers_that_cannot_ack)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint64_t out = 0, err = 0;
	int attaches = 0;
	rd_session s;
	bool last = false;

	start_frames(cl, &s, 3);
	while (!last) {
		StreamFrame *f;
		raw r;

		ck_assert_int_lt(++attaches, 20);
		raw_open(&r, s.stream_address);
		raw_attach(&r, &s, out, err);
		/* What the window allows, never an ack. */
		while (!last && (f = raw_recv(&r, QUIET_MS)) != NULL) {
			last = f->last;
			if (last)
				rd_assert_exited(rd_assert_final_result(f), 0);
			runner__v1__stream_frame__free_unpacked(f, NULL);
		}
		out = r.off[RUNNER__V1__STREAM_KIND__STDOUT];
		err = r.off[RUNNER__V1__STREAM_KIND__STDERR];
		nng_close(r.sock);
	}
	ck_assert_uint_eq(out, (3u << 20) + 1);
	ck_assert_int_ge(attaches, 2);
	runner_client_close(cl);
}
END_TEST

/* ---- over REQ/REP ---- */

START_TEST(test_read_stream_over_req_is_unimplemented)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__ReadStreamRequest req = RUNNER__V1__READ_STREAM_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;
	runner_status st;

	req.session_id = "x";
	ck_assert_int_lt(runner_client_call(cl, "ReadStream", &req.base, &reply, 5000, NULL, &st), 0);
	ck_assert_msg(st.code == RUNNER_UNIMPLEMENTED, "%s: %s", runner_status_code_name(st.code), st.message);
	ck_assert_msg(strstr(st.message, "stream_address") != NULL, "%s", st.message);
	if (reply != NULL)
		protobuf_c_message_free_unpacked(reply, NULL);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_read_output_and_remove)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__ReadOutputRequest req = RUNNER__V1__READ_OUTPUT_REQUEST__INIT;
	Runner__V1__ReadOutputResponse *resp = NULL;
	Runner__V1__RemoveRequest rm = RUNNER__V1__REMOVE_REQUEST__INIT;
	Runner__V1__RemoveResponse *rmr = NULL;
	runner_status st;
	StreamFrame *f;
	rd_session s;
	raw r;

	finished_session(cl, &s, "printf 0123456789; printf err >&2");
	req.session_id = s.id;
	req.stream_secret.data = s.secret;
	req.stream_secret.len = s.secret_len;
	req.stdout_offset = 4;
	req.max_bytes = 3;
	ck_assert_int_eq(runner_read_output(cl, &req, &resp, 5000, &st), 0);
	ck_assert(resp->stdout.len == 3 && memcmp(resp->stdout.data, "456", 3) == 0);
	ck_assert(resp->stderr.len == 3 && memcmp(resp->stderr.data, "err", 3) == 0);
	ck_assert_uint_eq(resp->stdout_offset, 4);
	ck_assert_uint_eq(resp->stdout_end, 10);
	ck_assert_uint_eq(resp->stderr_end, 3);
	ck_assert_ptr_nonnull(resp->result);
	runner__v1__read_output_response__free_unpacked(resp, NULL);
	resp = NULL;
	req.stdout_offset = 11;
	ck_assert_int_lt(runner_read_output(cl, &req, &resp, 5000, &st), 0);
	ck_assert_int_eq(st.code, RUNNER_OUT_OF_RANGE);
	req.stdout_offset = 0;
	req.stream_secret.len = 1;
	ck_assert_int_lt(runner_read_output(cl, &req, &resp, 5000, &st), 0);
	ck_assert_int_eq(st.code, RUNNER_UNAUTHENTICATED);

	/* Remove: refused while running; an attached reader then hears of it. */
	rd_start_argv(cl, &s, "cat", NULL);
	rm.session_id = s.id;
	ck_assert_int_lt(runner_remove(cl, &rm, &rmr, 5000, &st), 0);
	ck_assert_int_eq(st.code, RUNNER_FAILED_PRECONDITION);
	raw_open(&r, s.stream_address);
	raw_attach(&r, &s, 0, 0);
	rd_close_stdin(cl, s.id);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, s.id, 10000), NULL);
	/* The last frame (the result) comes; attach again to be there when
	 * the session goes. */
	f = raw_until_last(&r, NULL, 0);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	ck_assert_int_eq(runner_remove(cl, &rm, &rmr, 5000, &st), 0);
	runner__v1__remove_response__free_unpacked(rmr, NULL);
	raw_attach(&r, &s, 0, 0);
	f = raw_until_last(&r, NULL, 0);
	rd_assert_final_code(f, RUNNER_NOT_FOUND);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	ck_assert_int_lt(runner_remove(cl, &rm, &rmr, 5000, &st), 0);
	ck_assert_int_eq(st.code, RUNNER_NOT_FOUND);
	nng_close(r.sock);
	runner_client_close(cl);
}
END_TEST

/* ---- the address ---- */

/* A port P with P and P+1 free on every address (runnerd's stream
 * listener takes P+1), as far as a bind can tell. */
static int
free_port_pair(void)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		int p = rd_free_tcp_port(), fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) (p + 1)) };
		bool ok;

		ck_assert(fd >= 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		ok = p < 65535 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return p;
	}
	ck_abort_msg("no two free tcp ports in a row");
	return 0;
}

START_TEST(test_stream_address_is_dialable)
{
	char listen[64], want[64];
	int port = free_port_pair();
	const char *args[] = { "--listen", listen, "--insecure-tcp", NULL };
	rd_options o = { .args = args };
	runner_client *cl;
	StreamFrame *f;
	rd_daemon d;
	rd_session s;
	raw r;

	snprintf(listen, sizeof(listen), "tcp://0.0.0.0:%d", port);
	rd_start(&d, &o);
	snprintf(want, sizeof(want), "tcp://127.0.0.1:%d", port);
	cl = rd_client(want);
	snprintf(want, sizeof(want), "tcp://127.0.0.1:%d", port + 1);
	rd_start_shell(cl, &s, "echo wildcard");
	ck_assert_str_eq(s.stream_address, want);
	raw_open(&r, s.stream_address);
	raw_attach(&r, &s, 0, 0);
	f = raw_until_last(&r, NULL, 0);
	rd_assert_exited(rd_assert_final_result(f), 0);
	runner__v1__stream_frame__free_unpacked(f, NULL);
	nng_close(r.sock);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

START_TEST(test_advertised_stream_address)
{
	const char *args[] = { "--advertise-stream", "tcp://streams.example:7301", NULL };
	rd_options o = { .tcp = true, .args = args };
	runner_client *cl;
	rd_daemon d;
	rd_session s;

	rd_start(&d, &o);
	cl = rd_client(d.tcp_url);
	rd_start_argv(cl, &s, "true", NULL);
	ck_assert_str_eq(s.stream_address, "tcp://streams.example:7301");
	runner_client_close(cl);
	/* Only for its transport: ipc requests still get the ipc stream. */
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &s, "true", NULL);
	ck_assert_msg(strncmp(s.stream_address, "ipc://", 6) == 0, "%s", s.stream_address);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("stream_protocol");
	TCase *tc = rd_tcase("with_daemon");
	TCase *own = rd_tcase("own_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_ack_before_attach_is_ignored);
	tcase_add_test(tc, test_second_attach_on_one_connection);
	tcase_add_test(tc, test_credit_window_and_the_last_frame);
	tcase_add_test(tc, test_reattach_serves_readers_that_cannot_ack);
	tcase_add_test(tc, test_read_stream_over_req_is_unimplemented);
	tcase_add_test(tc, test_read_output_and_remove);
	suite_add_tcase(s, tc);
	tcase_add_test(own, test_stream_address_is_dialable);
	tcase_add_test(own, test_advertised_stream_address);
	suite_add_tcase(s, own);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
