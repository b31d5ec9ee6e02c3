/* test_docker_pool — the docker backend's warm pool (`docker: { pool: N }`)
 * against a real engine and the test image: each request runs in a fresh
 * pre-started container (nothing written by one run is seen by the next,
 * another hostname each time), the pool refills, exit codes, signals,
 * stdin and output are exact through pooled containers, a request that
 * tightens a creation-time setting (no_network) starts cold, and no pooled
 * container survives runnerd's SIGTERM nor a SIGKILL and restart.
 *
 * Whether a run was warm: the command looks at its container's PID 1, the
 * init; only the pool starts containers whose init runs in pool mode
 * (`runnerd-docker-init STATUS_FILE --pool`, started ahead of any request
 * and waiting for one), a cold start runs it without --pool. Unlike the
 * time between the init's start and the command's, that does not depend
 * on how loaded the machine is.
 *
 * Skipped (77) like test_docker without an engine or the image.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker_support.h"
#include "rpc.h"
#include "support.h"

#define POOL 2

static char cfg_path[300];
static rd_daemon d;

/* Wait until POOL containers run, then give runnerd a moment to read
 * their inits' "ready". */
static void
wait_pool_full(void)
{
	int64_t end = rd_now_ms() + 30000;

	while (dk_containers_names(false, NULL, 0) < POOL && rd_now_ms() < end)
		rd_sleep_ms(100);
	ck_assert_int_ge(dk_containers_names(false, NULL, 0), POOL);
	rd_sleep_ms(1000);
}

static void
write_config(const char *dir)
{
	char text[2048];
	int n;

	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	n = snprintf(text, sizeof(text),
		     "default_profile: default\n"
		     "profiles:\n"
		     "  - name: default\n"
		     "  - name: warm\n"
		     "    backend: docker\n"
		     "    network: allowed\n"     /* a request's no_network must change the container */
		     "    filesystem:\n"
		     "      private_tmp: true\n"
		     "    limits:\n"
		     "      timeout: 20s\n"
		     "    docker:\n"
		     "      image: %s\n"
		     "      pool: %d\n",
		     dk_image, POOL);
	ck_assert_int_lt(n, (int) sizeof(text));
	rd_write_file(cfg_path, text, (size_t) n, 0600);
}

static void
setup(void)
{
	dk_start(&d, write_config, cfg_path);
}

static void
teardown(void)
{
	dk_stop(&d);
}

static Runner__V1__RunResponse *
run_warm(rd_cmd *c)
{
	c->spec.profile = "warm";
	return rd_run_ok_at(d.ipc_url, c);
}

/* Prints "pooled" when the container's init runs in pool mode (its last
 * argument is --pool), else "cold"; then its hostname; then runs `rest`. */
#define POOLED "if tr '\\000' '\\n' </proc/1/cmdline | tail -n 1 | grep -qx -- --pool; " \
	       "then echo pooled; else echo cold; fi; hostname; "

struct probe {
	bool pooled;
	char init[16];
	char host[64];
	char rest[256];
};

static void
probe_run(const char *rest, bool no_network, struct probe *out)
{
	Runner__V1__RunResponse *resp;
	char line[600];
	Runner__V1__Restrictions tighten = RUNNER__V1__RESTRICTIONS__INIT;
	rd_cmd c;

	rd_cmd_init(&c);
	snprintf(line, sizeof(line), POOLED "%s", rest);
	rd_cmd_shell(&c, line);
	if (no_network) {
		tighten.no_network = true;
		c.spec.tighten = &tighten;
	}
	resp = run_warm(&c);
	rd_assert_exited(resp->result, 0);
	memset(out, 0, sizeof(*out));
	{
		char buf[512];
		size_t n = resp->result->stdout.len < sizeof(buf) - 1 ? resp->result->stdout.len : sizeof(buf) - 1;
		memcpy(buf, resp->result->stdout.data, n);
		buf[n] = '\0';
		ck_assert_int_ge(sscanf(buf, "%15[^\n]\n%63[^\n]\n%255[^\1]", out->init, out->host, out->rest), 2);
		ck_assert_msg(strcmp(out->init, "pooled") == 0 || strcmp(out->init, "cold") == 0, "probe printed %s",
			      buf);
		out->pooled = strcmp(out->init, "pooled") == 0;
	}
	runner__v1__run_response__free_unpacked(resp, NULL);
}

/* --- tests ----------------------------------------------------------------- */

START_TEST(test_isolated_and_refilled)
{
	struct probe a, b, q[POOL + 1], w[POOL];

	wait_pool_full();
	probe_run("echo secret > /tmp/mark; cat /tmp/mark", false, &a);
	ck_assert_msg(a.pooled, "first run not warm (a cold container)");
	ck_assert_str_eq(a.rest, "secret\n");
	probe_run("cat /tmp/mark 2>/dev/null || echo clean", false, &b);
	ck_assert_msg(b.pooled, "second run not warm (a cold container)");
	ck_assert_str_eq(b.rest, "clean\n");
	ck_assert_str_ne(a.host, b.host);

	/* Drain the pool and more, back to back; each run its own container. */
	for (int i = 0; i < POOL + 1; i++)
		probe_run("", false, &q[i]);
	for (int i = 0; i < POOL + 1; i++)
		for (int k = 0; k < i; k++)
			ck_assert_str_ne(q[i].host, q[k].host);
	/* Refilled in the background: warm again. */
	wait_pool_full();
	for (int i = 0; i < POOL; i++) {
		probe_run("", false, &w[i]);
		ck_assert_msg(w[i].pooled, "run %d after refill not warm (a cold container)", i);
	}
	ck_assert_str_ne(w[0].host, w[1].host);
}
END_TEST

START_TEST(test_exact_through_pool)
{
	Runner__V1__RunResponse *resp;
	struct probe p;
	rd_cmd c;

	wait_pool_full();
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo out; echo err >&2; echo \"$GREETING\"; pwd; exit 7");
	rd_cmd_env(&c, "GREETING", "hello there; $(id) `x` \"q\"");
	c.spec.cwd = "/tmp";
	resp = run_warm(&c);
	rd_assert_exited(resp->result, 7);
	rd_assert_output(resp->result->stdout, "out\nhello there; $(id) `x` \"q\"\n/tmp\n", "stdout");
	rd_assert_output(resp->result->stderr, "err\n", "stderr");
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* stdin byte-exact: what follows the header is the command's. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	rd_cmd_stdin(&c, "line one\n\0binary\xff", 17);
	resp = run_warm(&c);
	rd_assert_exited(resp->result, 0);
	rd_assert_bytes(resp->result->stdout, "line one\n\0binary\xff", 17, "stdout");
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* No stdin: EOF at once. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "wc", "-c", NULL);
	resp = run_warm(&c);
	rd_assert_exited(resp->result, 0);
	rd_assert_output(resp->result->stdout, "0\n", "stdout");
	runner__v1__run_response__free_unpacked(resp, NULL);

	wait_pool_full();
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "kill -USR1 $$");
	resp = run_warm(&c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGUSR1);
	runner__v1__run_response__free_unpacked(resp, NULL);

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "exit 138");
	resp = run_warm(&c);
	rd_assert_exited(resp->result, 138);
	runner__v1__run_response__free_unpacked(resp, NULL);

	wait_pool_full();
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "no-such-program", NULL);
	resp = run_warm(&c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(resp->result->exec_errno, ENOENT);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* A timeout's SIGTERM reaches the command through the pooled CLI. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sleep", "30", NULL);
	c.spec.timeout_ms = 500;
	resp = run_warm(&c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_eq(resp->result->signal, SIGTERM);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* Tightening a creation-time setting: a cold container without network. */
	wait_pool_full();
	probe_run("ls /sys/class/net", true, &p);
	ck_assert_msg(!p.pooled, "no_network run used a pooled container");
	ck_assert_str_eq(p.rest, "lo\n");
	probe_run("ls /sys/class/net | grep -c eth0", false, &p);
	ck_assert_msg(p.pooled, "run not warm (a cold container)");
	ck_assert_str_eq(p.rest, "1\n");
}
END_TEST

/* SIGTERM: runnerd removes its pooled containers on its way out. */
START_TEST(test_sigterm_removes_pool)
{
	const char *args[] = { "--config", cfg_path, "--grace", "1s", NULL };
	rd_options o = { .args = args };
	int status;

	wait_pool_full();
	ck_assert_int_eq(dk_containers(), POOL);
	status = rd_kill(&d, SIGTERM);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(dk_wait_no_containers(10000), 0);
	rd_restart(&d, &o);
}
END_TEST

/* SIGKILL: the pooled containers go (at the latest with the next start). */
START_TEST(test_sigkill_restart_removes_pool)
{
	const char *args[] = { "--config", cfg_path, "--grace", "1s", NULL };
	rd_options o = { .args = args };
	char before[4096], after[4096];
	int64_t end;
	bool gone = false;

	wait_pool_full();
	ck_assert_int_eq(dk_containers_names(true, before, sizeof(before)), POOL);
	rd_kill(&d, SIGKILL);
	rd_restart(&d, &o);
	end = rd_now_ms() + 10000;
	while (!gone && rd_now_ms() < end) {
		char *save = NULL, copy[4096];
		dk_containers_names(true, after, sizeof(after));
		snprintf(copy, sizeof(copy), "%s", before);
		gone = true;
		for (char *name = strtok_r(copy, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
			if (strstr(after, name) != NULL)
				gone = false;
		if (!gone)
			rd_sleep_ms(100);
	}
	ck_assert_msg(gone, "containers of the killed runnerd remain: %s", after);
	/* The new runnerd fills its own pool and serves from it. */
	{
		struct probe p;
		wait_pool_full();
		probe_run("", false, &p);
		ck_assert_msg(p.pooled, "the restarted runnerd's run not warm (a cold container)");
	}
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("docker_pool");
	TCase *tc = rd_tcase("docker_pool");

	tcase_set_timeout(tc, 180);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_isolated_and_refilled);
	tcase_add_test(tc, test_exact_through_pool);
	tcase_add_test(tc, test_sigterm_removes_pool);
	tcase_add_test(tc, test_sigkill_restart_removes_pool);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return dk_main("test_docker_pool", make_suite);
}
