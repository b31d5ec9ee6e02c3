/* test_fd_limit — runnerd under a low RLIMIT_NOFILE.
 *
 * Once the processes it runs have taken what runnerd lets them (all but a
 * reserve kept for connections), starting another is RESOURCE_EXHAUSTED;
 * a client that connects then gets that answer (not a reset, not silence),
 * Health still answers, a client connected before keeps working, and when
 * the processes end, processes start again. runnerd raises its soft limit
 * to the hard one at start. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_support.h"

#define LOW_LIMIT 256
#define MAX_SESSIONS 600
#define NEW_CLIENTS 12 /* within the reserve of 16 */
#define ANSWER_WITHIN_MS 2000

static rd_daemon d;

static void
start_limited(unsigned long soft, unsigned long hard)
{
	rd_options o = { .nofile_soft = soft, .nofile_hard = hard };

	rd_start(&d, &o);
}

/* The soft "Max open files" of pid. */
static long
soft_nofile(pid_t pid)
{
	char path[64], line[256];
	long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int) pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Max open files %ld", &soft) == 1)
			break;
	fclose(f);
	return soft;
}

START_TEST(test_soft_limit_raised)
{
	start_limited(200, 400);
	ck_assert_int_eq(soft_nofile(d.pid), 400);
	rd_stop_ok(&d);
}
END_TEST

/* A client connecting now, within ANSWER_WITHIN_MS, or NULL. */
static runner_client *
connect_new(runner_status *st)
{
	runner_client_options o = { .connect_timeout_ms = ANSWER_WITHIN_MS };
	runner_client *cl = NULL;

	return runner_client_open(&cl, d.ipc_url, &o, st) == 0 ? cl : NULL;
}

/* A Run of echo through cl: its code, answered within ANSWER_WITHIN_MS. */
static int
run_echo(runner_client *cl, runner_status *st)
{
	Runner__V1__RunResponse *resp = NULL;
	rd_cmd c;
	int code;

	memset(st, 0, sizeof(*st));
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "echo", "ok", NULL);
	code = runner_run(cl, &c.req, &resp, ANSWER_WITHIN_MS, st) == 0 ? RUNNER_OK : st->code;
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	return code;
}

START_TEST(test_out_of_descriptors)
{
	static rd_session s[MAX_SESSIONS];
	runner_client *early, *late[NEW_CLIENTS];
	Runner__V1__ListResponse *l;
	runner_status st;
	int n, code = RUNNER_OK;
	rd_cmd c;

	start_limited(LOW_LIMIT, LOW_LIMIT);
	early = rd_client(d.ipc_url);
	rd_assert_health(early);

	/* Sessions that hold their pipes until killed, until refused. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sleep", "1000", NULL);
	for (n = 0; n < MAX_SESSIONS; n++)
		if ((code = rd_start_pipes_code(early, &c, NULL, NULL, &s[n], &st)) != RUNNER_OK)
			break;
	rd_assert_code(code, RUNNER_RESOURCE_EXHAUSTED, &st);
	ck_assert_msg(strstr(st.message, "file descriptors") != NULL, "refusal says: %s", st.message);
	ck_assert_msg(n >= 20, "only %d sessions started under a limit of %d", n, LOW_LIMIT);
	fprintf(stderr, "test_out_of_descriptors: %d sessions started, then: %s\n", n, st.message);

	/* New clients, all connected at once (a connection each): each is
	 * accepted and gets the answer. */
	for (int i = 0; i < NEW_CLIENTS; i++)
		ck_assert_msg((late[i] = connect_new(&st)) != NULL, "new client %d: %s: %s", i,
			      runner_status_code_name(st.code), st.message);
	for (int i = 0; i < NEW_CLIENTS; i++) {
		code = run_echo(late[i], &st);
		rd_assert_code(code, RUNNER_RESOURCE_EXHAUSTED, &st);
	}
	rd_assert_health(late[0]);
	for (int i = 0; i < NEW_CLIENTS; i++)
		runner_client_close(late[i]);
	/* The client from before: still connected, still served. */
	rd_assert_health(early);
	l = rd_list(early, NULL);
	ck_assert_uint_eq(l->n_sessions, (size_t) n);
	runner__v1__list_response__free_unpacked(l, NULL);

	/* Processes ending give their descriptors back. */
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(rd_signal_code(early, s[i].id, SIGKILL, &st), RUNNER_OK);
	for (int i = 0; i < n; i++)
		runner__v1__wait_response__free_unpacked(rd_wait(early, s[i].id, 10000), NULL);
	ck_assert_ptr_nonnull(late[0] = connect_new(&st));
	code = run_echo(late[0], &st);
	rd_assert_code(code, RUNNER_OK, &st);
	runner_client_close(late[0]);
	runner_client_close(early);
	rd_stop_ok(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("fd_limit");
	TCase *tc = rd_tcase("fd_limit");

	tcase_add_test(tc, test_soft_limit_raised);
	tcase_add_test(tc, test_out_of_descriptors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
