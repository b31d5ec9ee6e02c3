/* test_client_api — the client library's own parts against a real runnerd:
 * the stdin writer (offsets, appending, copying from fds, and its replay of
 * a write whose answer was lost, through a proxy that drops connections the
 * way a restarting runnerd or a proxy would), the stream address it derives
 * (checked against the one runnerd serves), the notation, the version. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "runner_client_internal.h"
#include "session_support.h"

/* Everything session `s` printed on stdout, read to the end; asserts it
 * ended with exit 0 and nothing on stderr. */
static void
assert_stdout(const rd_session *s, const void *want, size_t len)
{
	rd_sink out, err;
	rd_reader r;

	rd_assert_exited(rd_read_all(&r, s, &out, &err), 0);
	rd_sink_assert_eq(&out, want, len, "stdout");
	rd_sink_assert_eq(&err, "", 0, "stderr");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
}

static runner_stdin_writer *
writer_at(runner_client *cl, const char *id, uint64_t offset)
{
	runner_stdin_writer *w = NULL;
	runner_status st = { 0 };

	ck_assert_msg(runner_stdin_writer_open(&w, cl, id, offset, &st) == 0, "writer: %s: %s",
		      runner_status_code_name(st.code), st.message);
	return w;
}

static void
write_ok(runner_stdin_writer *w, const char *text)
{
	runner_status st = { 0 };

	ck_assert_msg(runner_stdin_write(w, text, strlen(text), &st) == 0, "write: %s: %s",
		      runner_status_code_name(st.code), st.message);
}

/* Writers keep their offsets: one that starts over at 0 sends what is
 * already there again and only the rest goes in; RUNNER_STDIN_APPEND starts
 * where the stdin stands. */
START_TEST(test_writer_offsets)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_stdin_writer *a, *b, *c;
	rd_session s;

	rd_start_argv(cl, &s, "cat", NULL);
	a = writer_at(cl, s.id, RUNNER_STDIN_APPEND);
	ck_assert_uint_eq(runner_stdin_writer_offset(a), 0);
	write_ok(a, "hello ");
	ck_assert_uint_eq(runner_stdin_writer_offset(a), 6);
	b = writer_at(cl, s.id, 0);
	write_ok(b, "hello world\n");
	ck_assert_uint_eq(runner_stdin_writer_offset(b), 12);
	c = writer_at(cl, s.id, RUNNER_STDIN_APPEND);
	ck_assert_uint_eq(runner_stdin_writer_offset(c), 12);
	write_ok(c, "bye\n");
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), 16);
	assert_stdout(&s, "hello world\nbye\n", 16);
	runner_stdin_writer_free(a);
	runner_stdin_writer_free(b);
	runner_stdin_writer_free(c);
	runner_client_close(cl);
}
END_TEST

/* A writer for an unknown session, or one whose stdin is closed. */
START_TEST(test_writer_errors)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_stdin_writer *w = NULL;
	runner_status st = { 0 };
	rd_session s;

	ck_assert_int_eq(runner_stdin_writer_open(&w, cl, "nosuchsession", RUNNER_STDIN_APPEND, &st),
			 -RUNNER_NOT_FOUND);
	ck_assert_ptr_null(w);
	rd_start_argv(cl, &s, "cat", NULL);
	w = writer_at(cl, s.id, 0);
	rd_close_stdin(cl, s.id);
	ck_assert_int_eq(runner_stdin_write(w, "x", 1, &st), -RUNNER_FAILED_PRECONDITION);
	rd_assert_code(st.code, RUNNER_FAILED_PRECONDITION, &st);
	ck_assert_uint_eq(runner_stdin_writer_offset(w), 0);
	/* A NULL status is allowed. */
	ck_assert_int_eq(runner_stdin_write(w, "x", 1, NULL), -RUNNER_FAILED_PRECONDITION);
	runner_stdin_writer_free(w);
	runner_stdin_writer_free(NULL);
	runner_client_close(cl);
}
END_TEST

/* runner_stdin_copy: a file of several chunks goes in whole and in order;
 * a readable stop fd stops it; an fd that cannot be read is READ_FAILED. */
START_TEST(test_writer_copy)
{
	enum { SIZE = (1 << 20) + 17 };
	runner_client *cl = rd_client(rd_fx.ipc_url);
	uint8_t *data = malloc(SIZE);
	runner_status st = { 0 };
	runner_stdin_writer *w;
	char dir[256], path[300];
	int fd, idle[2], stop[2];
	rd_session s;

	ck_assert_ptr_nonnull(data);
	rd_fill_pattern(data, SIZE, 7, 0);
	rd_mkdtemp(dir);
	snprintf(path, sizeof(path), "%s/input", dir);
	rd_write_file(path, data, SIZE, 0600);
	rd_start_argv(cl, &s, "cat", NULL);
	w = writer_at(cl, s.id, 0);

	ck_assert_int_eq(pipe2(idle, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
	ck_assert_int_eq(write(stop[1], "", 1), 1);
	ck_assert_int_eq(runner_stdin_copy(w, idle[0], stop[0], &st), RUNNER_STDIN_STOPPED);
	ck_assert_uint_eq(runner_stdin_writer_offset(w), 0);
	ck_assert_int_eq(runner_stdin_copy(w, idle[1], -1, &st), RUNNER_STDIN_READ_FAILED);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_ptr_nonnull(strstr(st.message, "reading fd"));

	ck_assert_int_ge(fd = open(path, O_RDONLY | O_CLOEXEC), 0);
	ck_assert_msg(runner_stdin_copy(w, fd, -1, &st) == RUNNER_STDIN_EOF, "copy: %s: %s",
		      runner_status_code_name(st.code), st.message);
	ck_assert_uint_eq(runner_stdin_writer_offset(w), SIZE);
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), SIZE);
	assert_stdout(&s, data, SIZE);
	close(fd);
	for (int i = 0; i < 2; i++) {
		close(idle[i]);
		close(stop[i]);
	}
	runner_stdin_writer_free(w);
	runner_client_close(cl);
	free(data);
}
END_TEST

/* --- a proxy that loses answers ------------------------------------------------
 *
 * Between the writer and runnerd: it forwards requests, but drops the
 * connection instead of answering the first `drops` it gets (forwarding the
 * first copy of a request, so its bytes do go in, as when an answer is lost
 * on the way back), and with `abort_retries` answers the library's re-sends
 * with ABORTED, as a runnerd that restarted meanwhile does. */
struct proxy {
	nng_socket rep;
	runner_client *up;
	char url[300];
	int drops;
	bool abort_retries;
	atomic_bool stop;
	int forwarded, dropped, aborted; /* read after the join */
	pthread_t thread;
	char error[600];
};

static void
proxy_reply(struct proxy *p, const Runner__V1__ReplyEnvelope *reply)
{
	nng_msg *msg;
	size_t len = runner__v1__reply_envelope__get_packed_size(reply);

	if (nng_msg_alloc(&msg, len) != 0)
		return;
	runner__v1__reply_envelope__pack(reply, nng_msg_body(msg));
	if (nng_sendmsg(p->rep, msg, 0) != 0)
		nng_msg_free(msg);
}

static void
proxy_one(struct proxy *p, nng_msg *msg, Runner__V1__RequestEnvelope *env)
{
	Runner__V1__ReplyEnvelope *reply = NULL;
	runner_status st = { 0 };

	if (p->drops > 0) {
		p->drops--;
		if (!env->retry && runner_client_call_envelope(p->up, env, &reply, &st) == 0)
			p->forwarded++;
		p->dropped++;
		/* nng's REQ tells a lost connection to a receive in progress
		 * only: let the client get there first. */
		rd_sleep_ms(20);
		nng_pipe_close(nng_msg_get_pipe(msg));
	} else if (env->retry && p->abort_retries) {
		Runner__V1__ReplyEnvelope r = RUNNER__V1__REPLY_ENVELOPE__INIT;

		r.code = RUNNER__V1__STATUS_CODE__ABORTED;
		r.message = "not known here";
		r.request_id = env->request_id;
		p->aborted++;
		proxy_reply(p, &r);
	} else if (runner_client_call_envelope(p->up, env, &reply, &st) == 0) {
		p->forwarded++;
		proxy_reply(p, reply);
	} else {
		snprintf(p->error, sizeof(p->error), "forwarding: %s", st.message);
	}
	if (reply != NULL)
		runner__v1__reply_envelope__free_unpacked(reply, NULL);
}

static void *
proxy_main(void *arg)
{
	struct proxy *p = arg;

	while (!atomic_load(&p->stop)) {
		Runner__V1__RequestEnvelope *env;
		nng_msg *msg;

		if (nng_recvmsg(p->rep, &msg, 0) != 0)
			continue; /* the receive timeout: look at `stop` */
		env = runner__v1__request_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
		if (env == NULL)
			snprintf(p->error, sizeof(p->error), "an envelope that does not decode");
		else
			proxy_one(p, msg, env);
		runner__v1__request_envelope__free_unpacked(env, NULL);
		nng_msg_free(msg);
	}
	return NULL;
}

static void
proxy_start(struct proxy *p, int drops, bool abort_retries)
{
	char dir[256];

	memset(p, 0, sizeof(*p));
	p->drops = drops;
	p->abort_retries = abort_retries;
	p->up = rd_client(rd_fx.ipc_url);
	rd_mkdtemp(dir);
	snprintf(p->url, sizeof(p->url), "ipc://%s/proxy.sock", dir);
	ck_assert_int_eq(nng_rep0_open(&p->rep), 0);
	ck_assert_int_eq(nng_socket_set_ms(p->rep, NNG_OPT_RECVTIMEO, 100), 0);
	ck_assert_int_eq(nng_socket_set_size(p->rep, NNG_OPT_RECVMAXSZ, 8u << 20), 0);
	ck_assert_int_eq(nng_listen(p->rep, p->url, NULL, 0), 0);
	ck_assert_int_eq(pthread_create(&p->thread, NULL, proxy_main, p), 0);
}

static void
proxy_stop(struct proxy *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	nng_close(p->rep);
	runner_client_close(p->up);
	ck_assert_msg(p->error[0] == '\0', "proxy: %s", p->error);
}

/* Write through the proxy and check that the bytes went in exactly once. */
static void
write_through(struct proxy *p)
{
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *cl = rd_client(rd_fx.ipc_url), *via = NULL;
	runner_status st = { 0 };
	runner_stdin_writer *w;
	rd_session s;

	rd_start_argv(cl, &s, "cat", NULL);
	ck_assert_int_eq(runner_client_open(&via, p->url, &o, &st), 0);
	w = writer_at(via, s.id, 0);
	ck_assert_msg(runner_stdin_write(w, "hello world\n", 12, &st) == 0, "write: %s: %s",
		      runner_status_code_name(st.code), st.message);
	ck_assert_uint_eq(runner_stdin_writer_offset(w), 12);
	ck_assert_uint_eq(rd_close_stdin(cl, s.id), 12);
	assert_stdout(&s, "hello world\n", 12);
	runner_stdin_writer_free(w);
	runner_client_close(via);
	runner_client_close(cl);
}

/* The answer is lost and runnerd cannot match the library's re-send
 * (ABORTED): the writer sends the bytes again as a new request, and runnerd
 * skips the ones it has. */
START_TEST(test_writer_replays_aborted_retry)
{
	struct proxy p;

	proxy_start(&p, 1, true);
	write_through(&p);
	proxy_stop(&p);
	ck_assert_int_eq(p.dropped, 1);
	ck_assert_int_ge(p.aborted, 1);
	ck_assert_int_eq(p.forwarded, 2); /* the lost copy, then the replay */
}
END_TEST

/* The connection drops under the first copy and under every re-send the
 * library makes on its own: the writer then replays the write. */
START_TEST(test_writer_replays_lost_write)
{
	struct proxy p;

	proxy_start(&p, 6, false); /* the first copy and the library's 5 re-sends */
	write_through(&p);
	proxy_stop(&p);
	ck_assert_int_eq(p.dropped, 6);
	ck_assert_int_eq(p.forwarded, 2);
}
END_TEST

/* --- addresses, notation, version --------------------------------------------- */

static void
assert_address(const char *url, const char *want)
{
	runner_status st = { 0 };
	char buf[300];

	ck_assert_msg(runner_stream_address(url, buf, sizeof(buf), &st) == 0, "%s: %s", url, st.message);
	ck_assert_str_eq(buf, want);
}

/* The stream address the library derives is the one runnerd serves. */
START_TEST(test_stream_address)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_status st = { 0 };
	char buf[300];
	rd_session s;

	rd_start_argv(cl, &s, "true", NULL);
	assert_address(rd_fx.ipc_url, s.stream_address);
	assert_address("ipc:///run/x/runnerd.sock", "ipc:///run/x/runnerd-stream.sock");
	assert_address("ipc:///run/x/sock", "ipc:///run/x/sock.stream");
	assert_address("tcp://10.0.0.5:7070", "tcp://10.0.0.5:7071");
	assert_address("tcp://[::1]:7070", "tcp://[::1]:7071");
	ck_assert_int_eq(runner_stream_address("tcp://127.0.0.1:0", buf, sizeof(buf), &st),
			 -RUNNER_INVALID_ARGUMENT);
	ck_assert_int_eq(runner_stream_address("inproc://x", buf, sizeof(buf), &st),
			 -RUNNER_INVALID_ARGUMENT);
	ck_assert_int_eq(runner_stream_address("ipc:///run/x/runnerd.sock", buf, 10, &st),
			 -RUNNER_RESOURCE_EXHAUSTED);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_notation_version_codes)
{
	char want[32];
	uint64_t v;

	ck_assert_int_eq(runner_parse_size("64K", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(runner_parse_size("2MiB", &v), 0);
	ck_assert_uint_eq(v, 2u << 20);
	ck_assert_int_eq(runner_parse_size("12x", &v), -RUNNER_INVALID_ARGUMENT);
	ck_assert_int_eq(runner_parse_duration_ms("250ms", &v), 0);
	ck_assert_uint_eq(v, 250);
	ck_assert_int_eq(runner_parse_duration_ms("2m", &v), 0);
	ck_assert_uint_eq(v, 120000);
	ck_assert_int_eq(runner_parse_duration_ms("-1", &v), -RUNNER_INVALID_ARGUMENT);

	snprintf(want, sizeof(want), "%d.%d.%d", RUNNER_CLIENT_VERSION_MAJOR, RUNNER_CLIENT_VERSION_MINOR,
		 RUNNER_CLIENT_VERSION_PATCH);
	ck_assert_str_eq(RUNNER_CLIENT_VERSION, want);
	ck_assert_str_eq(runner_client_version(), RUNNER_CLIENT_VERSION);

	ck_assert_str_eq(runner_status_code_name(RUNNER_OK), "OK");
	ck_assert_str_eq(runner_status_code_name(RUNNER_FAILED_PRECONDITION), "FAILED_PRECONDITION");
	ck_assert_str_eq(runner_status_code_name(RUNNER_UNAUTHENTICATED), "UNAUTHENTICATED");
	ck_assert_str_eq(runner_status_code_name(17), "UNKNOWN_CODE");
	ck_assert_int_eq(RUNNER_UNAVAILABLE, RUNNER__V1__STATUS_CODE__UNAVAILABLE);
}
END_TEST

/* A typed call given no request fails cleanly, without sending anything. */
START_TEST(test_typed_call_without_request)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__HealthResponse *h = (Runner__V1__HealthResponse *) cl; /* overwritten */
	runner_status st = { 0 };

	ck_assert_int_eq(runner_health(cl, NULL, &h, 1000, &st), -RUNNER_INVALID_ARGUMENT);
	ck_assert_ptr_null(h);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("client_api");
	TCase *tc = rd_tcase("with_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_writer_offsets);
	tcase_add_test(tc, test_writer_errors);
	tcase_add_test(tc, test_writer_copy);
	tcase_add_test(tc, test_writer_replays_aborted_retry);
	tcase_add_test(tc, test_writer_replays_lost_write);
	tcase_add_test(tc, test_stream_address);
	tcase_add_test(tc, test_notation_version_codes);
	tcase_add_test(tc, test_typed_call_without_request);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
