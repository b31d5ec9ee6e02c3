/* test_run_limits — Run under load and limits: large output, output caps,
 * timeouts that kill the whole process tree, many concurrent Runs. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"
#include "support.h"

typedef Runner__V1__RunResponse RunResponse;

#define MIB (1024 * 1024)

/* `len` bytes of `unit` repeated: what `yes X | head -c len` prints. */
static char *
repeated(const char *unit, size_t len)
{
	size_t ulen = strlen(unit);
	char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = unit[i % ulen];
	return buf;
}

START_TEST(test_output_10mib_exact)
{
	const size_t len = 10 * MIB;
	char *want = repeated("abcdefghij\n", len);
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "yes abcdefghij | head -c 10485760");
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_exited(resp->result, 0);
	ck_assert_uint_eq(resp->result->stdout_total, len);
	ck_assert(!resp->result->stdout_truncated);
	rd_assert_bytes(resp->result->stdout, want, len, "10 MiB of stdout");
	free(want);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* The command prints 1 MiB on stdout and 512 KiB on stderr. */
#define CAP_SHELL "yes 0123456789abcdef | head -c 1048576; yes 0123456789abcdef | head -c 524288 >&2"

static void
assert_capped(const Runner__V1__RunResult *r, size_t out_cap, size_t err_cap)
{
	char *want = repeated("0123456789abcdef\n", MIB);

	rd_assert_exited(r, 0);
	rd_assert_bytes(r->stdout, want, out_cap, "capped stdout");
	rd_assert_bytes(r->stderr, want, err_cap, "capped stderr");
	ck_assert_uint_eq(r->stdout_total, MIB);
	ck_assert_uint_eq(r->stderr_total, MIB / 2);
	ck_assert(r->stdout_truncated);
	ck_assert(r->stderr_truncated);
	free(want);
}

START_TEST(test_output_cap_per_request)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, CAP_SHELL);
	c.spec.stdout_limit = 1000;
	c.spec.stderr_limit = 10;
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	assert_capped(resp->result, 1000, 10);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* A request may lower the server's cap but never raise it. */
START_TEST(test_output_cap_server_wide)
{
	static const char *const args[] = { "--output-limit", "4096", NULL };
	rd_options o = { .args = args };
	RunResponse *resp;
	rd_daemon d;
	rd_cmd c;

	rd_start(&d, &o);
	rd_cmd_init(&c);
	rd_cmd_shell(&c, CAP_SHELL);
	c.spec.stdout_limit = 2 * MIB;
	resp = rd_run_ok_at(d.ipc_url, &c);
	assert_capped(resp->result, 4096, 4096);
	runner__v1__run_response__free_unpacked(resp, NULL);
	rd_stop(&d);
}
END_TEST

/* Run `shell` (which prints "started" on stdout and the pids of its whole
 * tree on stderr) with a 500 ms timeout against a daemon with the given
 * grace; check the result, the time taken and that no process survived. */
static void
assert_tree_timeout(const char *shell, const char *grace, int grace_ms, int want_signal,
		    bool must_wait_grace)
{
	const char *const args[] = { "--grace", grace, NULL };
	rd_options o = { .args = args };
	const int timeout_ms = 500;
	RunResponse *resp;
	rd_daemon d;
	rd_cmd c;
	int64_t t0, elapsed;
	char *pids, *p, *end;
	int n = 0;

	rd_start(&d, &o);
	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	c.spec.timeout_ms = (uint64_t) timeout_ms;
	t0 = rd_now_ms();
	resp = rd_run_ok_at(d.ipc_url, &c);
	elapsed = rd_now_ms() - t0;

	ck_assert_msg(resp->result->reason == RUNNER__V1__TERMINATION__TIMEOUT,
		      "reason %d (exit %d, signal %d), want TIMEOUT", resp->result->reason,
		      resp->result->exit_code, resp->result->signal);
	ck_assert_int_eq(resp->result->signal, want_signal);
	rd_assert_output(resp->result->stdout, "started\n", "partial stdout");
	ck_assert_msg(elapsed >= timeout_ms - 50, "returned after %lld ms, before the timeout",
		      (long long) elapsed);
	if (must_wait_grace)
		ck_assert_msg(elapsed >= timeout_ms + grace_ms - 50,
			      "SIGKILL after %lld ms, before timeout + grace", (long long) elapsed);
	ck_assert_msg(elapsed <= timeout_ms + grace_ms + 1000,
		      "Run took %lld ms, more than timeout + grace + 1 s", (long long) elapsed);

	/* Every pid the tree printed must be gone (zombies count as gone). */
	pids = strndup((const char *) resp->result->stderr.data, resp->result->stderr.len);
	for (p = pids;; p = end) {
		long pid = strtol(p, &end, 10);
		int64_t give_up = rd_now_ms() + 500;

		if (end == p)
			break;
		n++;
		while (rd_pid_alive((pid_t) pid) && rd_now_ms() < give_up)
			usleep(10000);
		ck_assert_msg(!rd_pid_alive((pid_t) pid), "pid %ld of the timed-out tree survived", pid);
	}
	ck_assert_msg(n == 3, "expected 3 pids on stderr, got \"%s\"", pids);
	free(pids);
	runner__v1__run_response__free_unpacked(resp, NULL);
	rd_stop(&d);
}

/* sh, a background sleep and a foreground sleep: all three report a pid. */
#define TREE "echo $$ >&2; sleep 100 & echo $! >&2; sh -c 'echo $$ >&2; exec sleep 100'; wait"

START_TEST(test_timeout_kills_tree)
{
	assert_tree_timeout("echo started; " TREE, "2s", 2000, SIGTERM, false);
}
END_TEST

/* A tree that ignores SIGTERM is SIGKILLed once the grace period is over. */
START_TEST(test_timeout_sigkill_after_grace)
{
	assert_tree_timeout("trap '' TERM; echo started; " TREE, "1s", 1000, SIGKILL, true);
}
END_TEST

#define N_CONCURRENT 50

struct concurrent_run {
	const char *url;
	int index;
	int code;               /* status of the call */
	char message[256];
	char out[64];           /* stdout, NUL-terminated */
	int reason, exit_code;
};

static void *
concurrent_worker(void *arg)
{
	struct concurrent_run *w = arg;
	runner_client_options o = { .connect_timeout_ms = 5000 };
	Runner__V1__RunResponse *resp = NULL;
	runner_client *cl = NULL;
	runner_status st = { 0 };
	char idx[16];
	rd_cmd c;

	snprintf(idx, sizeof(idx), "%d", w->index);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sh", "-c", "sleep 0.2; echo run-$1", "sh", idx, NULL);
	if (runner_client_open(&cl, w->url, &o, &st) == 0 &&
	    runner_run(cl, &c.req, &resp, RD_CALL_DEADLINE_MS, &st) == 0 && resp->result != NULL) {
		snprintf(w->out, sizeof(w->out), "%.*s", (int) resp->result->stdout.len,
			 (const char *) resp->result->stdout.data);
		w->reason = resp->result->reason;
		w->exit_code = resp->result->exit_code;
	} else {
		w->code = st.code != RUNNER_OK ? st.code : RUNNER_INTERNAL;
		snprintf(w->message, sizeof(w->message), "%.200s", st.message);
	}
	if (resp != NULL)
		runner__v1__run_response__free_unpacked(resp, NULL);
	runner_client_close(cl);
	return NULL;
}

START_TEST(test_concurrent_runs)
{
	struct concurrent_run w[N_CONCURRENT];
	pthread_t t[N_CONCURRENT];
	int64_t t0 = rd_now_ms(), elapsed;

	for (int i = 0; i < N_CONCURRENT; i++) {
		w[i] = (struct concurrent_run) { .url = rd_fx.ipc_url, .index = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, concurrent_worker, &w[i]), 0);
	}
	for (int i = 0; i < N_CONCURRENT; i++)
		pthread_join(t[i], NULL);
	elapsed = rd_now_ms() - t0;

	for (int i = 0; i < N_CONCURRENT; i++) {
		char want[32];

		snprintf(want, sizeof(want), "run-%d\n", i);
		ck_assert_msg(w[i].code == RUNNER_OK, "run %d: %s: %s", i, runner_status_code_name(w[i].code),
			      w[i].message);
		ck_assert_msg(strcmp(w[i].out, want) == 0, "run %d: stdout \"%s\"", i, w[i].out);
		ck_assert_int_eq(w[i].reason, RUNNER__V1__TERMINATION__EXITED);
		ck_assert_int_eq(w[i].exit_code, 0);
	}
	/* 50 x 200 ms one after the other would take 10 s. */
	ck_assert_msg(elapsed < 5000, "50 concurrent Runs took %lld ms: not run in parallel",
		      (long long) elapsed);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("run_limits");
	TCase *tc = rd_tcase("with_daemon");
	TCase *own = rd_tcase("own_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_output_10mib_exact);
	tcase_add_test(tc, test_output_cap_per_request);
	tcase_add_test(tc, test_concurrent_runs);
	suite_add_tcase(s, tc);

	tcase_add_test(own, test_output_cap_server_wide);
	tcase_add_test(own, test_timeout_kills_tree);
	tcase_add_test(own, test_timeout_sigkill_after_grace);
	suite_add_tcase(s, own);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
