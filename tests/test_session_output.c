/* test_session_output — what a session does with output nobody reads
 * (StartPipesRequest.output_mode), on a real runnerd: KEEP blocks the
 * process once the buffer is full and List says so; DISCARD and TAIL never
 * block a process nobody reads, count what they drop, keep exactly the
 * tail, refuse older offsets with OUT_OF_RANGE; with a reader attached no
 * mode loses a byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_support.h"

#define SEQ_N 3000000
#define SEQ_LEN 22888896u /* bytes of `seq 3000000` */
#define TAIL 100000u

static const char *seq_argv[] = { "seq", "3000000" };

/* StartPipes of `seq 3000000` in `mode` (asserted OK). */
static void
start_seq(runner_client *cl, Runner__V1__OutputMode mode, uint64_t tail, rd_session *s)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	runner_status st = { 0 };
	rd_cmd c;
	int code;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, seq_argv[0], seq_argv[1], NULL);
	req.command = &c.spec;
	req.output_mode = mode;
	req.output_tail_bytes = tail;
	code = rd_start_request_code(cl, &req, s, &st);
	rd_assert_code(code, RUNNER_OK, &st);
}

static Runner__V1__ListResponse *
listed(runner_client *cl, const char *id, const Runner__V1__SessionInfo **info)
{
	Runner__V1__ListResponse *l = rd_list(cl, NULL);

	*info = rd_list_find(l, id);
	ck_assert_msg(*info != NULL, "session %s not listed", id);
	return l;
}

/* The last `n` bytes of `seq 3000000`. */
static char *
seq_tail(size_t n)
{
	size_t len;
	char *buf = rd_seq_text(SEQ_N, &len);

	ck_assert_uint_eq(len, SEQ_LEN);
	memmove(buf, buf + SEQ_LEN - n, n);
	return buf;
}

/* Attaching from 0 gets OUT_OF_RANGE naming offset `first`. */
static void
assert_refused_from_zero(const rd_session *s, uint64_t first)
{
	runner_status st = { 0 };
	char num[32];
	rd_drained d;

	ck_assert_int_eq(rd_drain_code(s, 0, &d, &st), RUNNER_OK);
	ck_assert_msg(d.code == RUNNER_OUT_OF_RANGE, "attach from 0 ended %s \"%s\", want OUT_OF_RANGE",
		      runner_status_code_name(d.code), d.message);
	snprintf(num, sizeof(num), "%llu", (unsigned long long) first);
	ck_assert_msg(strstr(d.message, num) != NULL, "\"%s\" does not name offset %s", d.message, num);
}

/* The issue's `start -- seq 3000000; wait`: with KEEP and nobody attached,
 * the process blocks once the 4 MiB buffer is full and List says so; Wait
 * does not return until a reader takes the output, which arrives whole. */
START_TEST(test_keep_blocks_and_says_so)
{
	const Runner__V1__SessionInfo *i;
	Runner__V1__ListResponse *l;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_status st = { 0 };
	rd_session s;
	rd_drained d;
	int64_t end = rd_now_ms() + 20000;

	start_seq(cl, RUNNER__V1__OUTPUT_MODE__OUTPUT_KEEP, 0, &s);
	for (;;) {
		l = listed(cl, s.id, &i);
		if (i->output_blocked || rd_now_ms() > end)
			break;
		runner__v1__list_response__free_unpacked(l, NULL);
		rd_sleep_ms(100);
	}
	ck_assert_msg(i->output_blocked, "not blocked 20 s in, with %llu bytes out",
		      (unsigned long long) i->stdout_bytes);
	ck_assert_str_eq(i->state, "running");
	ck_assert_uint_eq(i->stdout_bytes, 4u << 20);
	ck_assert_uint_eq(i->stdout_dropped, 0);
	runner__v1__list_response__free_unpacked(l, NULL);
	ck_assert_int_eq(rd_wait_code(cl, s.id, 1000, NULL, &st), RUNNER_DEADLINE_EXCEEDED);

	ck_assert_int_eq(rd_drain_code(&s, 0, &d, &st), RUNNER_OK);
	ck_assert_msg(d.code == RUNNER_OK && d.has_result && d.exit_code == 0, "ended %s \"%s\"",
		      runner_status_code_name(d.code), d.message);
	ck_assert_uint_eq(d.out, SEQ_LEN);
	l = listed(cl, s.id, &i);
	ck_assert(!i->output_blocked);
	runner__v1__list_response__free_unpacked(l, NULL);
	runner_client_close(cl);
}
END_TEST

/* DISCARD, nobody attached: Wait returns; every byte counted and dropped;
 * attaching from 0 is refused, from the end gets the result. */
START_TEST(test_discard)
{
	const Runner__V1__SessionInfo *i;
	Runner__V1__ListResponse *l;
	Runner__V1__WaitResponse *w;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_status st = { 0 };
	rd_session s;
	rd_drained d;

	start_seq(cl, RUNNER__V1__OUTPUT_MODE__OUTPUT_DISCARD, 0, &s);
	w = rd_wait(cl, s.id, 30000);
	rd_assert_exited(w->result, 0);
	ck_assert_uint_eq(w->result->stdout_total, SEQ_LEN);
	runner__v1__wait_response__free_unpacked(w, NULL);
	l = listed(cl, s.id, &i);
	ck_assert_int_eq(i->output_mode, RUNNER__V1__OUTPUT_MODE__OUTPUT_DISCARD);
	ck_assert_uint_eq(i->stdout_dropped, SEQ_LEN);
	ck_assert_uint_eq(i->stdout_retained_from, SEQ_LEN);
	ck_assert(!i->output_blocked);
	runner__v1__list_response__free_unpacked(l, NULL);
	assert_refused_from_zero(&s, SEQ_LEN);
	ck_assert_int_eq(rd_drain_code(&s, SEQ_LEN, &d, &st), RUNNER_OK);
	ck_assert_msg(d.code == RUNNER_OK && d.has_result && d.out == 0, "from the end: %s \"%s\", %llu bytes",
		      runner_status_code_name(d.code), d.message, (unsigned long long) d.out);
	runner_client_close(cl);
}
END_TEST

/* TAIL 100000, nobody attached: Wait returns; exactly the last 100000
 * bytes are kept, the rest counted as dropped; from 0 is refused. */
START_TEST(test_tail)
{
	const Runner__V1__SessionInfo *i;
	Runner__V1__ListResponse *l;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	char *want = seq_tail(TAIL);
	rd_sink out, err;
	rd_session s;
	rd_reader r;

	start_seq(cl, RUNNER__V1__OUTPUT_MODE__OUTPUT_TAIL, TAIL, &s);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, s.id, 30000), NULL);
	l = listed(cl, s.id, &i);
	ck_assert_uint_eq(i->stdout_retained_from, SEQ_LEN - TAIL);
	ck_assert_uint_eq(i->stdout_dropped, SEQ_LEN - TAIL);
	runner__v1__list_response__free_unpacked(l, NULL);
	assert_refused_from_zero(&s, SEQ_LEN - TAIL);
	rd_sink_init(&out, true, SEQ_LEN - TAIL);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_sink_assert_eq(&out, want, TAIL, "the tail");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	free(want);
	runner_client_close(cl);
}
END_TEST

/* With a reader attached from the start, DISCARD and TAIL lose nothing:
 * the process waits for its stdin until the reader is there. */
START_TEST(test_lossy_modes_lossless_when_read)
{
	static const Runner__V1__OutputMode modes[] = { RUNNER__V1__OUTPUT_MODE__OUTPUT_DISCARD,
							RUNNER__V1__OUTPUT_MODE__OUTPUT_TAIL };
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	const Runner__V1__SessionInfo *i;
	Runner__V1__ListResponse *l;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_status st = { 0 };
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_cmd c;
	int code;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "read go; seq 3000000");
	req.command = &c.spec;
	req.output_mode = modes[_i];
	req.output_tail_bytes = TAIL;
	code = rd_start_request_code(cl, &req, &s, &st);
	rd_assert_code(code, RUNNER_OK, &st);
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, false, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_int_eq(rd_reader_step(&r, 300), -1); /* attached, nothing yet */
	rd_write_stdin(cl, s.id, 0, "go\n", 3);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	ck_assert_uint_eq(out.end, SEQ_LEN);
	rd_reader_close(&r);
	l = listed(cl, s.id, &i);
	ck_assert_uint_eq(i->stdout_dropped, 0);
	runner__v1__list_response__free_unpacked(l, NULL);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_bad_output_mode)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	runner_client *cl = rd_client(rd_fx.ipc_url);
	runner_status st = { 0 };
	rd_session s;
	rd_cmd c;
	int code;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	req.command = &c.spec;
	req.output_mode = RUNNER__V1__OUTPUT_MODE__OUTPUT_TAIL;
	req.output_tail_bytes = (4u << 20) + 1; /* the session buffer is 4 MiB */
	code = rd_start_request_code(cl, &req, &s, &st);
	rd_assert_code(code, RUNNER_INVALID_ARGUMENT, &st);
	req.output_mode = (Runner__V1__OutputMode) 7;
	code = rd_start_request_code(cl, &req, &s, &st);
	rd_assert_code(code, RUNNER_INVALID_ARGUMENT, &st);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("session_output");
	TCase *tc = rd_tcase("session_output");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_keep_blocks_and_says_so);
	tcase_add_test(tc, test_discard);
	tcase_add_test(tc, test_tail);
	tcase_add_loop_test(tc, test_lossy_modes_lossless_when_read, 0, 2);
	tcase_add_test(tc, test_bad_output_mode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
