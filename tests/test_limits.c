/* test_limits — what an exec profile enforces on the host (rlimits, a
 * user, and a cgroup of the job's own: memory, processes, CPU bandwidth,
 * the whole tree killed), and a child's max_rss_kb being its own on exec
 * and firejail, however much memory runnerd itself holds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"
#include "session_support.h"
#include "support.h"

static char cfg_path[300];
static rd_daemon d;

static void
write_config(const char *dir)
{
	static const char text[] =
		"default_profile: default\n"
		"profiles:\n"
		"  - name: default\n"
		"  - name: boxed\n"
		"    limits:\n"
		"      memory: 256M\n"
		"      processes: 32\n"
		"      open_files: 32\n"
		"      file_size: 1M\n"
		"  - name: address-space\n"
		"    limits:\n"
		"      address_space: 256M\n"
		"  - name: slow-cpu\n"
		"    limits:\n"
		"      cpus: \"0.2\"\n"
		"  - name: nobody\n"
		"    user: nobody\n"
		"  - name: jail\n"
		"    backend: firejail\n"
		"    user: root\n"
		"    network: allowed\n"
		"    filesystem:\n"
		"      read_only_root: false\n"
		"      private_tmp: false\n"
		"  - name: jail-boxed\n"
		"    backend: firejail\n"
		"    user: root\n"
		"    network: allowed\n"
		"    filesystem:\n"
		"      read_only_root: false\n"
		"      private_tmp: false\n"
		"    limits:\n"
		"      memory: 128M\n"
		"      address_space: unlimited\n"; /* the cgroup, not an rlimit, must stop it */

	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	rd_write_file(cfg_path, text, sizeof(text) - 1, 0600);
}

static void
setup(void)
{
	char dir[256];
	const char *args[] = { "--config", cfg_path, NULL };
	rd_options o = { .args = args };

	rd_mkdtemp(dir);
	write_config(dir);
	rd_start(&d, &o);
}

static void
teardown(void)
{
	rd_stop_ok(&d);
}

static Runner__V1__RunResponse *
run_in(const char *profile, const char *shell)
{
	runner_client *cl = rd_client(d.ipc_url);
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	c.spec.profile = (char *) profile;
	c.spec.timeout_ms = 60000;
	resp = rd_run_ok(cl, &c);
	runner_client_close(cl);
	return resp;
}

static const char *
out_of(const Runner__V1__RunResult *r)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%.*s", (int) r->stdout.len, (const char *) r->stdout.data);
	return buf;
}

/* A 1 GiB allocation under a 256 MiB memory limit: the OOM killer takes
 * it, and the result says so. Under a 256 MiB address space, the
 * allocation itself fails. */
START_TEST(test_memory_limits)
{
	Runner__V1__RunResponse *resp = run_in("boxed", "exec python3 -c 'b = bytearray(1 << 30); print(\"allocated\")'");

	ck_assert_msg(resp->result->reason == RUNNER__V1__TERMINATION__SIGNALED && resp->result->signal == SIGKILL,
		      "reason %d signal %d stdout %s", resp->result->reason, resp->result->signal,
		      out_of(resp->result));
	ck_assert(resp->result->oom_killed);
	runner__v1__run_response__free_unpacked(resp, NULL);

	resp = run_in("address-space", "python3 -c 'b = bytearray(1 << 30)' 2>&1 | grep -c MemoryError");
	rd_assert_exited(resp->result, 0);
	ck_assert_str_eq(out_of(resp->result), "1\n");
	ck_assert(!resp->result->oom_killed);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* The same cgroup around a firejail sandbox. */
	resp = run_in("jail-boxed", "exec python3 -c 'b = bytearray(1 << 30)'");
	ck_assert_msg(resp->result->reason == RUNNER__V1__TERMINATION__SIGNALED && resp->result->signal == SIGKILL,
		      "firejail: reason %d signal %d", resp->result->reason, resp->result->signal);
	ck_assert(resp->result->oom_killed);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* What fits runs. */
	resp = run_in("boxed", "python3 -c 'b = bytearray(64 << 20); print(len(b))'");
	rd_assert_exited(resp->result, 0);
	ck_assert_str_eq(out_of(resp->result), "67108864\n");
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* A fork bomb meets the pids limit (which binds root too): at most 32
 * tasks, and the command goes on to its end. */
START_TEST(test_fork_bomb_bounded)
{
	Runner__V1__RunResponse *resp =
		run_in("boxed", "exec python3 -c '\n"
				"import os, time\n"
				"kids = []\n"
				"for i in range(200):\n"
				"    try:\n"
				"        pid = os.fork()\n"
				"    except OSError:\n"
				"        continue\n"
				"    if pid == 0:\n"
				"        time.sleep(3)\n"
				"        os._exit(0)\n"
				"    kids.append(pid)\n"
				"print(len(kids) + 1)\n"
				"for k in kids:\n"
				"    os.waitpid(k, 0)\n"
				"'");
	long tasks;

	rd_assert_exited(resp->result, 0);
	tasks = strtol(out_of(resp->result), NULL, 10);
	ck_assert_msg(tasks > 1 && tasks <= 32, "%ld tasks at once", tasks);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* A process that left the process group (setsid) is still in the job's
 * cgroup, and dies with the job. */
START_TEST(test_whole_tree_killed)
{
	Runner__V1__RunResponse *resp =
		run_in("boxed", "setsid sleep 100 </dev/null >/dev/null 2>&1 & echo $!");
	pid_t escaped;
	int64_t end = rd_now_ms() + 2000;

	rd_assert_exited(resp->result, 0);
	escaped = (pid_t) atoi(out_of(resp->result));
	ck_assert_int_gt(escaped, 0);
	while (rd_pid_alive(escaped) && rd_now_ms() < end)
		rd_sleep_ms(20);
	ck_assert_msg(!rd_pid_alive(escaped), "the setsid'd sleep (pid %d) outlived its job", (int) escaped);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_rlimits)
{
	Runner__V1__RunResponse *resp = run_in("boxed", "ulimit -n; head -c 2M /dev/zero > /dev/null; "
							"head -c 2M /dev/zero > $(mktemp) 2>/dev/null; echo $?");

	rd_assert_exited(resp->result, 0);
	/* 153: killed by SIGXFSZ (128 + 25) past the 1 MiB file size. */
	ck_assert_str_eq(out_of(resp->result), "32\n153\n");
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

START_TEST(test_user)
{
	Runner__V1__RunResponse *resp = run_in("nobody", "id -u; id -g; touch /root/x 2>/dev/null || echo denied");

	rd_assert_exited(resp->result, 0);
	ck_assert_str_eq(out_of(resp->result), "65534\n65534\ndenied\n");
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* 0.2 CPU of bandwidth: 2 s of wall clock spinning gets ~0.4 s of CPU. */
START_TEST(test_cpu_bandwidth)
{
	Runner__V1__RunResponse *resp =
		run_in("slow-cpu", "end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done");
	const Runner__V1__RunResult *r = resp->result;
	uint64_t cpu = r->user_time_us + r->system_time_us;

	rd_assert_exited(resp->result, 0);
	ck_assert_msg(cpu * 10 <= r->wall_time_us * 4, "%llu us of CPU in %llu us of wall clock",
		      (unsigned long long) cpu, (unsigned long long) r->wall_time_us);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* runnerd holds 128 MiB of session output; a child's max_rss_kb is still
 * its own: `true` a few MiB, a 64 MiB allocation at least that. */
static void
assert_rss_is_the_childs(const char *profile)
{
	runner_client *cl = rd_client(d.ipc_url);
	rd_session s[32];
	Runner__V1__RunResponse *resp;
	long rss;

	for (int i = 0; i < 32; i++)
		rd_start_shell(cl, &s[i], "head -c 4194304 /dev/zero; sleep 60");
	/* Until runnerd has read them: its buffers hold the bytes. */
	for (int i = 0; i < 200 && (rss = rd_vmrss_kb(d.pid)) < 120 * 1024; i++)
		rd_sleep_ms(50);
	ck_assert_msg(rss >= 120 * 1024, "runnerd holds only %ld KiB", rss);
	runner_client_close(cl);

	resp = run_in(profile, "true");
	rd_assert_exited(resp->result, 0);
	ck_assert_msg(resp->result->max_rss_kb < 10 * 1024, "%s: true: max_rss_kb %llu while runnerd has %ld KiB",
		      profile, (unsigned long long) resp->result->max_rss_kb, rss);
	runner__v1__run_response__free_unpacked(resp, NULL);

	resp = run_in(profile, "python3 -c 'b = bytearray(64 << 20); b[-1] = 1'");
	rd_assert_exited(resp->result, 0);
	ck_assert_msg(resp->result->max_rss_kb >= 64 * 1024 && resp->result->max_rss_kb < 96 * 1024,
		      "%s: 64 MiB: max_rss_kb %llu", profile, (unsigned long long) resp->result->max_rss_kb);
	runner__v1__run_response__free_unpacked(resp, NULL);
}

START_TEST(test_max_rss_exec)
{
	assert_rss_is_the_childs("default");
}
END_TEST

START_TEST(test_max_rss_firejail)
{
	assert_rss_is_the_childs("jail");
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("exec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_memory_limits);
	tcase_add_test(tc, test_fork_bomb_bounded);
	tcase_add_test(tc, test_whole_tree_killed);
	tcase_add_test(tc, test_rlimits);
	tcase_add_test(tc, test_user);
	tcase_add_test(tc, test_cpu_bandwidth);
	tcase_add_test(tc, test_max_rss_exec);
	tcase_add_test(tc, test_max_rss_firejail);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
