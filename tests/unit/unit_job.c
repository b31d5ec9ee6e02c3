/* Unit tests of the process layer: spawn_child and jobs driven by a real
 * event loop and reaper, without nng. Each test runs in check's forked
 * child, which becomes a subreaper like runnerd. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job_harness.h"
#include "core/reaper.h"
#include "spawn_child.h"
#include "unit_run.h"

static char *base_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };

/* A fresh loop: a stopped one stays stopped. */
static void
harness_init(struct job_harness *h)
{
	jh_init(h);
	jh_loop_open(h);
}

/* Run argv to completion and return the job (caller frees). */
static struct job *
run(struct job_harness *h, char **argv, const void *in, size_t in_len, uint64_t limit,
    uint64_t timeout_ms)
{
	struct backend_launch launch = { .argv = argv, .envp = base_env, .cwd = "/" };
	struct job_spec spec = {
		.launch = &launch,
		.stdin_pipe = in_len > 0,
		.timeout_ms = timeout_ms,
		.grace_ms = 300,
		.linger_ms = 200,
	};
	struct job *j;
	rstatus st;

	ck_assert_int_eq(collect_init(&h->io, in, in_len, limit, limit, &st), 0);
	ck_assert_int_eq(jh_run(h, &spec, &j, &st), 0);
	return j;
}

/* backend_launch.exited: what the backend's wrapper reported replaces the
 * wrapper's own status (docker: the container's init); NULL when the job
 * is freed with the process still running. */
static int exited_calls, exited_null_calls;
static int fake_mode; /* 0: a signal + OOM + usage, 1: an exec failure */

static void
fake_exited(const struct backend_launch *l, struct backend_outcome *out)
{
	if (out == NULL) {
		exited_null_calls++;
		return;
	}
	exited_calls++;
	ck_assert(WIFEXITED(out->wstatus) && WEXITSTATUS(out->wstatus) == 3);
	if (fake_mode == 1) {
		out->exec_failed = true;
		out->exec_errno = ENOENT;
		snprintf(out->exec_error, sizeof(out->exec_error), "inside: not found");
		return;
	}
	out->wstatus = SIGUSR1; /* a raw wait status: killed by SIGUSR1 */
	out->oom_killed = true;
	out->have_usage = true;
	out->user_us = 123;
	out->system_us = 456;
	out->max_rss_kb = 789;
}

START_TEST(test_backend_exited_hook)
{
	struct job_harness h;
	char *argv[] = { "sh", "-c", "exit 3", NULL };
	struct backend_launch launch = { .argv = argv, .envp = base_env, .cwd = "/", .exited = fake_exited };
	struct job_spec spec = { .launch = &launch, .grace_ms = 300, .linger_ms = 200 };
	const Runner__V1__RunResult *r;
	struct job *j;
	rstatus st;

	for (fake_mode = 0; fake_mode < 2; fake_mode++) {
		harness_init(&h); /* a fresh loop: a stopped one stays stopped */
		exited_calls = 0;
		ck_assert_int_eq(collect_init(&h.io, NULL, 0, 1 << 20, 1 << 20, &st), 0);
		ck_assert_int_eq(jh_run(&h, &spec, &j, &st), 0);
		r = job_result(j);
		ck_assert_int_eq(exited_calls, 1);
		if (fake_mode == 0) {
			ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__SIGNALED);
			ck_assert_int_eq(r->signal, SIGUSR1);
			ck_assert(r->oom_killed);
			ck_assert_uint_eq(r->user_time_us, 123);
			ck_assert_uint_eq(r->system_time_us, 456);
			ck_assert_uint_eq(r->max_rss_kb, 789);
		} else {
			ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
			ck_assert_int_eq(r->exec_errno, ENOENT);
			ck_assert_str_eq(r->exec_error, "inside: not found");
		}
		job_free(j);
		jh_close(&h);
	}

	/* Freed while running: told so (the wrapper was SIGKILLed). */
	{
		char *sleeper[] = { "sleep", "30", NULL };
		launch.argv = sleeper;
		exited_calls = exited_null_calls = 0;
		harness_init(&h);
		ck_assert_int_eq(collect_init(&h.io, NULL, 0, 1 << 20, 1 << 20, &st), 0);
		spec.spawners = h.spawners;
		ck_assert_int_eq(job_start(h.loop, &spec, &jh_ops, &h, &j, &st), 0);
		job_free(j);
		jh_close(&h);
		ck_assert_int_eq(exited_null_calls, 1);
		ck_assert_int_eq(exited_calls, 0);
	}
}
END_TEST

START_TEST(test_resolve)
{
	char path[256], dir[] = "/tmp/rd-unit-XXXXXX", file[300];
	char *env[] = { path, NULL };

	ck_assert_int_eq(spawn_resolve("sh", base_env, NULL, path, sizeof(path)), 0);
	ck_assert_int_eq(access(path, X_OK), 0);
	ck_assert_int_eq(spawn_resolve("definitely-not-a-program", base_env, NULL, path, sizeof(path)), -ENOENT);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/tool", dir);
	close(open(file, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "PATH=%s", dir);
	char out[300];
	ck_assert_int_eq(spawn_resolve("tool", env, NULL, out, sizeof(out)), -EACCES);
	unlink(file);
	rmdir(dir);
}
END_TEST

START_TEST(test_echo)
{
	struct job_harness h;
	char *argv[] = { "echo", "hi", NULL };
	harness_init(&h);
	struct job *j = run(&h, argv, NULL, 0, 1 << 20, 0);
	const Runner__V1__RunResult *r = job_result(j);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_uint_eq(r->stdout.len, 3);
	ck_assert_mem_eq(r->stdout.data, "hi\n", 3);
	ck_assert_int_gt(r->pid, 0);
	ck_assert_uint_gt(r->wall_time_us, 0);
	ck_assert_uint_gt(r->max_rss_kb, 0);
	job_free(j);
	jh_close(&h);
}
END_TEST

START_TEST(test_exec_failure_is_reported)
{
	struct job_harness h;
	char *argv[] = { "no-such-program-here", NULL };
	harness_init(&h);
	struct job *j = run(&h, argv, NULL, 0, 1024, 0);
	const Runner__V1__RunResult *r = job_result(j);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(r->exec_errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(r->exec_error, "no-such-program-here"));
	job_free(j);
	jh_close(&h);
}
END_TEST

static uint64_t
status_mask(const char *status, const char *field)
{
	const char *p = strstr(status, field);
	return p ? strtoull(p + strlen(field), NULL, 16) : ~0ull;
}

/* The test process blocks SIGCHLD and ignores SIGPIPE, as runnerd does;
 * none of it may reach the child. glibc's posix_spawn sets its two
 * reserved signals (32 and 33, below SIGRTMIN, bits 31 and 32 of the mask)
 * to SIG_IGN in the child when the parent has handlers for them; no program
 * can use those through libc, so they are left out of the check. */
START_TEST(test_signals_reset)
{
	struct job_harness h;
	char *argv[] = { "cat", "/proc/self/status", NULL };
	harness_init(&h);
	struct job *j = run(&h, argv, NULL, 0, 1 << 16, 0);
	const Runner__V1__RunResult *r = job_result(j);
	char *out = strndup((const char *) r->stdout.data, r->stdout.len);
	uint64_t glibc_reserved = (1ull << 31) | (1ull << 32);

	ck_assert_uint_eq(status_mask(out, "SigBlk:"), 0);
	ck_assert_uint_eq(status_mask(out, "SigIgn:") & ~glibc_reserved, 0);
	free(out);
	job_free(j);
	jh_close(&h);
}
END_TEST

START_TEST(test_no_inherited_fds)
{
	struct job_harness h;
	char *argv[] = { "ls", "/proc/self/fd", NULL };
	harness_init(&h);
	/* An fd without O_CLOEXEC, as a careless library might leave. */
	ck_assert_int_eq(dup2(open("/dev/null", O_RDONLY), 50), 50);
	struct job *j = run(&h, argv, NULL, 0, 4096, 0);
	const Runner__V1__RunResult *r = job_result(j);

	/* ls's own directory fd is 3. */
	ck_assert_uint_eq(r->stdout.len, 8);
	ck_assert_mem_eq(r->stdout.data, "0\n1\n2\n3\n", 8);
	job_free(j);
	jh_close(&h);
}
END_TEST

START_TEST(test_timeout_kills_tree)
{
	struct job_harness h;
	char *argv[] = { "sh", "-c", "sleep 100 & echo $!; sleep 100", NULL };
	harness_init(&h);
	struct job *j = run(&h, argv, NULL, 0, 4096, 300);
	const Runner__V1__RunResult *r = job_result(j);
	char out[32] = { 0 };

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_eq(r->signal, SIGTERM);
	ck_assert_uint_lt(r->wall_time_us, 1000000);
	memcpy(out, r->stdout.data, r->stdout.len < 31 ? r->stdout.len : 31);
	pid_t bg = atoi(out);
	ck_assert_int_gt(bg, 0);
	/* The orphaned background sleep comes back to us and is reaped. */
	for (int i = 0; i < 50 && kill(bg, 0) == 0; i++) {
		usleep(20000);
		reaper_collect();
	}
	ck_assert_int_eq(kill(bg, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	job_free(j);
	jh_close(&h);
}
END_TEST

START_TEST(test_output_cap)
{
	struct job_harness h;
	char *argv[] = { "head", "-c", "100000", "/dev/zero", NULL };
	harness_init(&h);
	struct job *j = run(&h, argv, NULL, 0, 1000, 0);
	const Runner__V1__RunResult *r = job_result(j);

	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_uint_eq(r->stdout.len, 1000);
	ck_assert_uint_eq(r->stdout_total, 100000);
	ck_assert(r->stdout_truncated);
	ck_assert(!r->stderr_truncated);
	job_free(j);
	jh_close(&h);
}
END_TEST

/* 8 MiB in and out at once: neither pipe may deadlock the other. */
START_TEST(test_stdin_round_trip_large)
{
	struct job_harness h;
	char *argv[] = { "cat", NULL };
	size_t n = 8u << 20;
	uint8_t *in = malloc(n);
	harness_init(&h);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t) (i * 7 + (i >> 11));
	struct job *j = run(&h, argv, in, n, 16u << 20, 0);
	const Runner__V1__RunResult *r = job_result(j);

	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_uint_eq(r->stdout.len, n);
	ck_assert(memcmp(r->stdout.data, in, n) == 0);
	free(in);
	job_free(j);
	jh_close(&h);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("unit_job");
	TCase *tc = tcase_create("job");
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_resolve);
	tcase_add_test(tc, test_backend_exited_hook);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_exec_failure_is_reported);
	tcase_add_test(tc, test_signals_reset);
	tcase_add_test(tc, test_no_inherited_fds);
	tcase_add_test(tc, test_timeout_kills_tree);
	tcase_add_test(tc, test_output_cap);
	tcase_add_test(tc, test_stdin_round_trip_large);
	suite_add_tcase(s, tc);
	failed = unit_run_suite(s);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
