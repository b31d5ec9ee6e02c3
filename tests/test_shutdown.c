/* test_shutdown — SIGTERM drains: a Run in flight completes normally and
 * runnerd then exits 0. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.h"
#include "support.h"

struct inflight {
	const char *url;
	Runner__V1__RunResponse *resp;
	runner_status st;
};

static void *
run_sleep(void *arg)
{
	struct inflight *f = arg;
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *cl = NULL;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "sleep 1; echo slept");
	if (runner_client_open(&cl, f->url, &o, &f->st) == 0)
		runner_run(cl, &c.req, &f->resp, RD_CALL_DEADLINE_MS, &f->st);
	runner_client_close(cl);
	return NULL;
}

/* Health's count of running work reaches `n` within timeout_ms. */
static bool
wait_running(const char *url, unsigned n, int timeout_ms)
{
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	runner_client *cl = rd_client(url);
	int64_t end = rd_now_ms() + timeout_ms;
	bool seen = false;

	while (!seen && rd_now_ms() < end) {
		Runner__V1__HealthResponse *h = NULL;
		runner_status st = { 0 };

		if (runner_health(cl, &req, &h, 1000, &st) == 0)
			seen = h->running >= n;
		if (h != NULL)
			runner__v1__health_response__free_unpacked(h, NULL);
		if (!seen)
			usleep(20000);
	}
	runner_client_close(cl);
	return seen;
}

START_TEST(test_sigterm_drains_inflight_run)
{
	struct inflight f = { 0 };
	pthread_t t;
	rd_daemon d;
	int status;

	rd_start(&d, NULL);
	f.url = d.ipc_url;
	ck_assert_int_eq(pthread_create(&t, NULL, run_sleep, &f), 0);
	ck_assert_msg(wait_running(d.ipc_url, 1, 900), "Health never counted the Run as running");
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	pthread_join(t, NULL);

	ck_assert_msg(f.resp != NULL && f.resp->result != NULL, "in-flight Run failed: %s: %s",
		      runner_status_code_name(f.st.code), f.st.message);
	ck_assert_msg(f.st.code == RUNNER_OK, "in-flight Run answered %s: %s",
		      runner_status_code_name(f.st.code), f.st.message);
	rd_assert_exited(f.resp->result, 0);
	rd_assert_output(f.resp->result->stdout, "slept\n", "stdout of the in-flight Run");

	status = rd_wait_exit(&d, 10000);
	ck_assert_msg(status != -1, "runnerd still running 10 s after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "runnerd exit status 0x%x after SIGTERM, want exit 0", (unsigned) status);
	runner__v1__run_response__free_unpacked(f.resp, NULL);
	rd_stop(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("shutdown");
	TCase *tc = rd_tcase("shutdown");

	tcase_add_test(tc, test_sigterm_drains_inflight_run);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
