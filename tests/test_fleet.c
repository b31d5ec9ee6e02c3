/* test_fleet — several runnerds behind one address keep sessions whole and
 * never run a request twice.
 *
 * Two real runnerds, each with a tcp listener advertised as its instance
 * (--advertise). "One client address" is what a load balancer gives: the
 * client library's REQ socket dials both ("tcp://A,tcp://B") and nng
 * spreads the calls over them. Through it: Runs land on both; 50 sessions,
 * each fed its own bytes, read back exactly through ReadStream and waited
 * for, every later call routed to the session's owner. Then what the
 * routing guards against: a call for B's session sent to A by hand is
 * refused, naming B, and does nothing; a request naming one instance does
 * not run on the other; and the hazard itself — a Run whose answer was lost
 * re-sent through a balancer that now leads to the other instance — runs
 * once (a proxy plays the balancer, as a Kubernetes Service would after a
 * reconnect).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "runner_client_internal.h"
#include "session_support.h"

#define SESSIONS 50
#define RUNS 40

static rd_daemon fa, fb;

static void
fleet_start(void)
{
	rd_options o = { .tcp = true, .advertise = true };

	rd_start(&fa, &o);
	rd_start(&fb, &o);
}

static void
fleet_stop(void)
{
	rd_stop_ok(&fa);
	rd_stop_ok(&fb);
}

/* The one client address of the fleet. */
static runner_client *
shared_client(void)
{
	char both[200];

	snprintf(both, sizeof(both), "%s,%s", fa.tcp_url, fb.tcp_url);
	return rd_client(both);
}

/* A Run envelope of `sh -c SHELL` with a fresh request id. */
static void
run_envelope(Runner__V1__RequestEnvelope *env, uint8_t id[16], uint8_t **payload, const char *shell)
{
	rd_cmd c;
	size_t len;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	*payload = rd_cmd_pack(&c, &len);
	ck_assert_int_eq(getrandom(id, 16, 0), 16);
	runner__v1__request_envelope__init(env);
	env->method = "runner.v1.Runner/Run";
	env->request_id.data = id;
	env->request_id.len = 16;
	env->payload.data = *payload;
	env->payload.len = len;
}

static Runner__V1__ReplyEnvelope *
send_envelope(const char *url, const Runner__V1__RequestEnvelope *env)
{
	runner_client *cl = rd_client(url);
	Runner__V1__ReplyEnvelope *reply = NULL;
	runner_status st = { 0 };

	ck_assert_msg(runner_client_call_envelope(cl, env, &reply, &st) == 0, "%s: %s", url, st.message);
	runner_client_close(cl);
	return reply;
}

/* Lines in a file (0 when it does not exist). */
static int
lines_in(const char *path)
{
	size_t len = 0;
	char *text;
	int n = 0;

	if (access(path, F_OK) != 0)
		return 0;
	text = rd_read_file(path, &len);
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

/* --- through the one address ------------------------------------------------ */

START_TEST(test_runs_spread_over_both)
{
	runner_client *cl = shared_client();
	int on_a = 0, on_b = 0;

	for (int i = 0; i < RUNS; i++) {
		Runner__V1__RequestEnvelope env;
		Runner__V1__ReplyEnvelope *reply = NULL;
		Runner__V1__RunResponse *run;
		runner_status st = { 0 };
		uint8_t id[16], *payload;

		run_envelope(&env, id, &payload, "echo ran");
		ck_assert_msg(runner_client_call_envelope(cl, &env, &reply, &st) == 0, "%s", st.message);
		ck_assert_int_eq(reply->code, RUNNER__V1__STATUS_CODE__OK);
		run = runner__v1__run_response__unpack(NULL, reply->payload.len, reply->payload.data);
		ck_assert_ptr_nonnull(run);
		rd_assert_output(run->result->stdout, "ran\n", "stdout");
		/* Every reply names the instance that answered it. */
		if (strcmp(reply->instance, fa.tcp_url) == 0)
			on_a++;
		else if (strcmp(reply->instance, fb.tcp_url) == 0)
			on_b++;
		else
			ck_abort_msg("a reply from instance \"%s\"", reply->instance);
		runner__v1__run_response__free_unpacked(run, NULL);
		runner__v1__reply_envelope__free_unpacked(reply, NULL);
		free(payload);
	}
	ck_assert_int_eq(on_a + on_b, RUNS);
	ck_assert_msg(on_a > 0 && on_b > 0, "Runs: %d on A, %d on B", on_a, on_b);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_sessions_kept_whole)
{
	static rd_session s[SESSIONS];
	size_t size[SESSIONS];
	runner_client *cl = shared_client();
	int on_a = 0, on_b = 0;

	/* Started through the one address: each lands on either instance. */
	for (int i = 0; i < SESSIONS; i++) {
		Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
		Runner__V1__StartPipesResponse *resp = NULL;
		Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
		char *argv[] = { "cat" };
		runner_status st = { 0 };
		const char *owner;

		spec.argv = argv;
		spec.n_argv = 1;
		req.command = &spec;
		ck_assert_msg(runner_start_pipes(cl, &req, &resp, RD_SESSION_CALL_MS, &st) == 0, "%s", st.message);
		owner = runner_session_owner(resp->session_id);
		ck_assert_ptr_nonnull(owner);
		ck_assert_str_eq(owner, resp->instance);
		on_a += strcmp(owner, fa.tcp_url) == 0;
		on_b += strcmp(owner, fb.tcp_url) == 0;
		/* Its stream listener is the owner's own. */
		ck_assert_int_eq(strncmp(resp->stream_address, owner, strrchr(owner, ':') - owner), 0);
		snprintf(s[i].id, sizeof(s[i].id), "%s", resp->session_id);
		snprintf(s[i].stream_address, sizeof(s[i].stream_address), "%s", resp->stream_address);
		memcpy(s[i].secret, resp->stream_secret.data, resp->stream_secret.len);
		s[i].secret_len = resp->stream_secret.len;
		runner__v1__start_pipes_response__free_unpacked(resp, NULL);
	}
	ck_assert_int_eq(on_a + on_b, SESSIONS);
	ck_assert_msg(on_a > 0 && on_b > 0, "sessions: %d on A, %d on B", on_a, on_b);
	/* Every later call through the same address reaches the owner. */
	for (int i = 0; i < SESSIONS; i++) {
		uint8_t *data;
		uint64_t at = 0;

		size[i] = 4096 + 37 * (size_t) i;
		data = malloc(size[i]);
		rd_fill_pattern(data, size[i], 17, (uint64_t) i);
		while (at < size[i]) {
			size_t n = size[i] - at < 1000 ? size[i] - at : 1000;
			ck_assert_uint_eq(rd_write_stdin(cl, s[i].id, at, data + at, n), at + n);
			at += n;
		}
		ck_assert_uint_eq(rd_close_stdin(cl, s[i].id), size[i]);
		free(data);
	}
	for (int i = 0; i < SESSIONS; i++) {
		Runner__V1__WaitResponse *w = rd_wait(cl, s[i].id, 60000);
		uint8_t *want = malloc(size[i]);
		rd_sink out, err;
		rd_reader r;

		rd_assert_exited(w->result, 0);
		ck_assert_uint_eq(w->result->stdout_total, size[i]);
		runner__v1__wait_response__free_unpacked(w, NULL);
		rd_fill_pattern(want, size[i], 17, (uint64_t) i);
		rd_sink_init(&out, true, 0);
		rd_sink_init(&err, true, 0);
		rd_assert_exited(rd_read_all(&r, &s[i], &out, &err), 0);
		rd_sink_assert_eq(&out, want, size[i], "stdout");
		rd_sink_assert_eq(&err, "", 0, "stderr");
		rd_reader_close(&r);
		rd_sink_free(&out);
		rd_sink_free(&err);
		free(want);
	}
	runner_client_close(cl);
}
END_TEST

/* --- what reaches the wrong instance --------------------------------------- */

START_TEST(test_wrong_instance_names_the_owner)
{
	runner_client *b = rd_client(fb.tcp_url);
	Runner__V1__WriteStdinRequest w = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	Runner__V1__ReplyEnvelope *reply;
	Runner__V1__ListResponse *l;
	uint8_t payload[512], id[16];
	rd_session s;
	rd_sink out, err;
	rd_reader r;

	rd_start_argv(b, &s, "cat", NULL);
	ck_assert_str_eq(runner_session_owner(s.id), fb.tcp_url);
	/* A WriteStdin for B's session, sent to A by hand (no library routing). */
	w.session_id = s.id;
	w.data.data = (uint8_t *) "lost?\n";
	w.data.len = 6;
	ck_assert_int_eq(getrandom(id, sizeof(id), 0), (ssize_t) sizeof(id));
	env.method = "runner.v1.Runner/WriteStdin";
	env.request_id.data = id;
	env.request_id.len = sizeof(id);
	env.payload.data = payload;
	env.payload.len = runner__v1__write_stdin_request__pack(&w, payload);
	reply = send_envelope(fa.tcp_url, &env);
	ck_assert_int_eq(reply->code, RUNNER__V1__STATUS_CODE__UNAVAILABLE);
	ck_assert_str_eq(reply->owner, fb.tcp_url);
	ck_assert_str_eq(reply->instance, fa.tcp_url);
	ck_assert_msg(strstr(reply->message, fb.tcp_url) != NULL, "message: %s", reply->message);
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	/* Nothing was written. */
	l = rd_list(b, NULL);
	ck_assert_uint_eq(rd_list_find(l, s.id)->stdin_bytes, 0);
	runner__v1__list_response__free_unpacked(l, NULL);
	/* A reader at A's stream listener is told where the session is. */
	ck_assert_int_eq(runner_stream_address(fa.tcp_url, s.stream_address, sizeof(s.stream_address), NULL), 0);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_assert_final_code(rd_reader_drain(&r), RUNNER__V1__STATUS_CODE__UNAVAILABLE);
	ck_assert_msg(strstr(r.last->message, fb.tcp_url) != NULL, "message: %s", r.last->message);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	/* The library, given A only, follows the answer to B. */
	{
		runner_client *a = rd_client(fa.tcp_url);
		ck_assert_uint_eq(rd_write_stdin(a, s.id, 0, "routed\n", 7), 7);
		ck_assert_uint_eq(rd_close_stdin(a, s.id), 7);
		runner__v1__wait_response__free_unpacked(rd_wait(a, s.id, 30000), NULL);
		runner_client_close(a);
	}
	runner_client_close(b);
}
END_TEST

START_TEST(test_named_instance_runs_there_or_nowhere)
{
	Runner__V1__RequestEnvelope env;
	Runner__V1__ReplyEnvelope *reply;
	char dir[256], file[300], shell[400];
	uint8_t id[16], *payload;

	rd_mkdtemp(dir);
	snprintf(file, sizeof(file), "%s/ran", dir);
	snprintf(shell, sizeof(shell), "echo x >> %s", file);

	/* Meant for A, landed on B: refused, naming A, not run. */
	run_envelope(&env, id, &payload, shell);
	env.instance = fa.tcp_url;
	reply = send_envelope(fb.tcp_url, &env);
	ck_assert_int_eq(reply->code, RUNNER__V1__STATUS_CODE__UNAVAILABLE);
	ck_assert_str_eq(reply->owner, fa.tcp_url);
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	ck_assert_int_eq(lines_in(file), 0);
	/* At A it runs, once: the same id again there is answered, not run. */
	for (int i = 0; i < 2; i++) {
		reply = send_envelope(fa.tcp_url, &env);
		ck_assert_int_eq(reply->code, RUNNER__V1__STATUS_CODE__OK);
		runner__v1__reply_envelope__free_unpacked(reply, NULL);
	}
	ck_assert_int_eq(lines_in(file), 1);
	/* Its retry, landing on B: sent back to A, which has it. */
	env.retry = true;
	env.first_sent_unix_ms = (uint64_t) time(NULL) * 1000u;
	reply = send_envelope(fb.tcp_url, &env);
	ck_assert_int_eq(reply->code, RUNNER__V1__STATUS_CODE__UNAVAILABLE);
	ck_assert_str_eq(reply->owner, fa.tcp_url);
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	free(payload);
	/* A retry naming no instance that B does not know: it may have run
	 * elsewhere, so B does not run it. */
	run_envelope(&env, id, &payload, shell);
	env.retry = true;
	env.first_sent_unix_ms = (uint64_t) time(NULL) * 1000u + 60000;
	reply = send_envelope(fb.tcp_url, &env);
	ck_assert_int_eq(reply->code, RUNNER__V1__STATUS_CODE__ABORTED);
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	free(payload);
	ck_assert_int_eq(lines_in(file), 1);
}
END_TEST

/* --- the hazard: a re-sent Run behind a balancer ---------------------------
 *
 * A balancer with one connection to a pod at a time: it forwards to A,
 * until it loses the connection under a request (the answer of the first
 * copy of a Run lost after A ran it); from the next connection on it
 * forwards to B, as a Service may after the client reconnects. */
struct balancer {
	nng_socket rep;
	runner_client *to[2];
	atomic_int target; /* 0: A, 1: B */
	atomic_bool stop, drop_next_run;
	char url[300];
	pthread_t thread;
};

static void *
balancer_main(void *arg)
{
	struct balancer *b = arg;

	while (!atomic_load(&b->stop)) {
		Runner__V1__RequestEnvelope *env;
		Runner__V1__ReplyEnvelope *reply = NULL;
		runner_status st = { 0 };
		nng_msg *msg, *out;

		if (nng_recvmsg(b->rep, &msg, 0) != 0)
			continue;
		env = runner__v1__request_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
		if (env != NULL &&
		    runner_client_call_envelope(b->to[atomic_load(&b->target)], env, &reply, &st) == 0) {
			if (strcmp(env->method, "runner.v1.Runner/Run") == 0 && atomic_exchange(&b->drop_next_run, false)) {
				/* Lost on the way back; the next connection goes to B. */
				atomic_store(&b->target, 1);
				rd_sleep_ms(20);
				nng_pipe_close(nng_msg_get_pipe(msg));
			} else if (nng_msg_alloc(&out, runner__v1__reply_envelope__get_packed_size(reply)) == 0) {
				runner__v1__reply_envelope__pack(reply, nng_msg_body(out));
				if (nng_sendmsg(b->rep, out, 0) != 0)
					nng_msg_free(out);
			}
		}
		if (reply != NULL)
			runner__v1__reply_envelope__free_unpacked(reply, NULL);
		runner__v1__request_envelope__free_unpacked(env, NULL);
		nng_msg_free(msg);
	}
	return NULL;
}

START_TEST(test_resent_run_runs_once)
{
	struct balancer b = { .target = 0 };
	Runner__V1__HealthRequest hreq = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *h = NULL;
	runner_client *cl;
	char dir[256], file[300], shell[400];
	runner_status st = { 0 };
	rd_cmd c;

	rd_mkdtemp(dir);
	snprintf(b.url, sizeof(b.url), "ipc://%s/balancer.sock", dir);
	b.to[0] = rd_client(fa.tcp_url);
	b.to[1] = rd_client(fb.tcp_url);
	ck_assert_int_eq(nng_rep0_open(&b.rep), 0);
	ck_assert_int_eq(nng_socket_set_ms(b.rep, NNG_OPT_RECVTIMEO, 100), 0);
	ck_assert_int_eq(nng_listen(b.rep, b.url, NULL, 0), 0);
	ck_assert_int_eq(pthread_create(&b.thread, NULL, balancer_main, &b), 0);

	cl = rd_client(b.url);
	/* The client learns which instance its connection reaches. */
	ck_assert_int_eq(runner_health(cl, &hreq, &h, 10000, &st), 0);
	ck_assert_str_eq(h->instance, fa.tcp_url);
	runner__v1__health_response__free_unpacked(h, NULL);

	snprintf(file, sizeof(file), "%s/ran", dir);
	snprintf(shell, sizeof(shell), "echo once >> %s; echo done", file);
	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	atomic_store(&b.drop_next_run, true);
	/* A runs it, the answer is lost, the library re-sends it through the
	 * balancer to B, which sends it back to A, which answers from its
	 * table. */
	{
		Runner__V1__RunResponse *resp = rd_run_ok(cl, &c);
		rd_assert_exited(resp->result, 0);
		rd_assert_output(resp->result->stdout, "done\n", "stdout");
		runner__v1__run_response__free_unpacked(resp, NULL);
	}
	ck_assert_int_eq(atomic_load(&b.target), 1);
	ck_assert_int_eq(lines_in(file), 1);

	atomic_store(&b.stop, true);
	pthread_join(b.thread, NULL);
	nng_close(b.rep);
	runner_client_close(cl);
	runner_client_close(b.to[0]);
	runner_client_close(b.to[1]);
}
END_TEST

static Suite *
fleet_suite(void)
{
	Suite *s = suite_create("fleet");
	TCase *tc = rd_tcase("fleet");

	tcase_add_checked_fixture(tc, fleet_start, fleet_stop);
	tcase_add_test(tc, test_runs_spread_over_both);
	tcase_add_test(tc, test_sessions_kept_whole);
	tcase_add_test(tc, test_wrong_instance_names_the_owner);
	tcase_add_test(tc, test_named_instance_runs_there_or_nowhere);
	tcase_add_test(tc, test_resent_run_runs_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(fleet_suite);
}
