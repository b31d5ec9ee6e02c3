/* test_dedup — request-id de-duplication: a resent Run gets the first
 * answer and never runs twice; a reused id for another call is refused. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rpc.h"
#include "runner_client_internal.h"
#include "support.h"

struct dedup_fixture {
	char log[300];      /* the command appends one line per execution */
	uint8_t id[16];
};

static struct dedup_fixture fx;

/* A Run that appends "run" to the log and prints a fresh uuid, so a second
 * execution would show both in the file and in the reply. */
static uint8_t *
pack_logging_run(const char *tail, size_t *len)
{
	static char shell[512];
	rd_cmd c;

	snprintf(shell, sizeof(shell), "echo run >> '%s'; cat /proc/sys/kernel/random/uuid%s",
		 fx.log, tail);
	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	return rd_cmd_pack(&c, len);
}

static void
assert_ran_once(void)
{
	size_t len;
	char *text = rd_read_file(fx.log, &len);

	ck_assert_msg(strcmp(text, "run\n") == 0, "the command ran more than once: log \"%s\"", text);
	free(text);
}

static void
assert_same_reply(const Runner__V1__ReplyEnvelope *a, const Runner__V1__ReplyEnvelope *b)
{
	ck_assert_int_eq(a->code, RUNNER_OK);
	ck_assert_int_eq(b->code, RUNNER_OK);
	rd_assert_bytes(b->payload, a->payload.data, a->payload.len, "payload of the repeated reply");
	rd_assert_bytes(a->request_id, fx.id, sizeof(fx.id), "request_id of the reply");
	rd_assert_bytes(b->request_id, fx.id, sizeof(fx.id), "request_id of the repeated reply");
}

static void
dedup_setup(void)
{
	rd_fixture_start();
	snprintf(fx.log, sizeof(fx.log), "%s/executions.log", rd_fx.dir);
	ck_assert_int_eq(getrandom(fx.id, sizeof(fx.id), 0), sizeof(fx.id));
}

START_TEST(test_resend_gets_first_reply)
{
	runner_client *cl = rd_client(rd_fx.ipc_url), *other = rd_client(rd_fx.ipc_url);
	Runner__V1__ReplyEnvelope *first, *again, *elsewhere, *changed, *health;
	size_t len, len2;
	uint8_t *payload = pack_logging_run("", &len);
	uint8_t *payload2 = pack_logging_run("; echo changed", &len2);

	first = rd_call_envelope(cl, RD_RUN_METHOD, fx.id, sizeof(fx.id), payload, len);
	again = rd_call_envelope(cl, RD_RUN_METHOD, fx.id, sizeof(fx.id), payload, len);
	assert_same_reply(first, again);
	/* A retry usually comes over a new connection. */
	elsewhere = rd_call_envelope(other, RD_RUN_METHOD, fx.id, sizeof(fx.id), payload, len);
	assert_same_reply(first, elsewhere);
	assert_ran_once();

	changed = rd_call_envelope(cl, RD_RUN_METHOD, fx.id, sizeof(fx.id), payload2, len2);
	ck_assert_msg(changed->code == (Runner__V1__StatusCode) RUNNER_ALREADY_EXISTS,
		      "same id, other payload: %s (%s)", runner_status_code_name((int) changed->code),
		      changed->message);
	health = rd_call_envelope(cl, "runner.v1.Runner/Health", fx.id, sizeof(fx.id), NULL, 0);
	ck_assert_msg(health->code == (Runner__V1__StatusCode) RUNNER_ALREADY_EXISTS,
		      "same id, other method: %s (%s)", runner_status_code_name((int) health->code),
		      health->message);
	assert_ran_once();
	rd_assert_echo_ok(cl);

	runner__v1__reply_envelope__free_unpacked(first, NULL);
	runner__v1__reply_envelope__free_unpacked(again, NULL);
	runner__v1__reply_envelope__free_unpacked(elsewhere, NULL);
	runner__v1__reply_envelope__free_unpacked(changed, NULL);
	runner__v1__reply_envelope__free_unpacked(health, NULL);
	free(payload);
	free(payload2);
	runner_client_close(cl);
	runner_client_close(other);
}
END_TEST

struct resend {
	const uint8_t *payload;
	size_t len;
	Runner__V1__ReplyEnvelope *reply;
	runner_status st;
};

static void *
resend_worker(void *arg)
{
	struct resend *r = arg;
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *cl = NULL;

	env.method = RD_RUN_METHOD;
	env.request_id.data = fx.id;
	env.request_id.len = sizeof(fx.id);
	env.payload.data = (uint8_t *) r->payload;
	env.payload.len = r->len;
	env.deadline_ms = RD_CALL_DEADLINE_MS;
	if (runner_client_open(&cl, rd_fx.ipc_url, &o, &r->st) == 0)
		runner_client_call_envelope(cl, &env, &r->reply, &r->st);
	runner_client_close(cl);
	return NULL;
}

/* A resend that arrives while the first is still running must not start a
 * second process either. */
START_TEST(test_resend_while_running)
{
	enum { N = 4 };
	struct resend r[N];
	pthread_t t[N];
	size_t len;
	uint8_t *payload = pack_logging_run("; sleep 0.5", &len);

	for (int i = 0; i < N; i++) {
		r[i] = (struct resend) { .payload = payload, .len = len };
		ck_assert_int_eq(pthread_create(&t[i], NULL, resend_worker, &r[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++)
		ck_assert_msg(r[i].reply != NULL, "send %d: %s: %s", i, runner_status_code_name(r[i].st.code),
			      r[i].st.message);
	for (int i = 1; i < N; i++)
		assert_same_reply(r[0].reply, r[i].reply);
	assert_ran_once();
	for (int i = 0; i < N; i++)
		runner__v1__reply_envelope__free_unpacked(r[i].reply, NULL);
	free(payload);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("dedup");
	TCase *tc = rd_tcase("dedup");

	tcase_add_checked_fixture(tc, dedup_setup, rd_fixture_stop);
	tcase_add_test(tc, test_resend_gets_first_reply);
	tcase_add_test(tc, test_resend_while_running);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
