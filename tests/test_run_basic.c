/* test_run_basic — Run: exit status, output, environment, cwd, stdin, fds,
 * exec failures, against a real runnerd. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rpc.h"
#include "support.h"

#ifndef FDLIST_PATH
#error "FDLIST_PATH must name the fdlist helper"
#endif

typedef Runner__V1__RunResponse RunResponse;

static void
free_resp(RunResponse *r)
{
	runner__v1__run_response__free_unpacked(r, NULL);
}

START_TEST(test_echo)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "echo", "hi", NULL);
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_output(resp->result->stdout, "hi\n", "stdout");
	rd_assert_output(resp->result->stderr, "", "stderr");
	rd_assert_exited(resp->result, 0);
	ck_assert_uint_eq(resp->result->stdout_total, 3);
	ck_assert(!resp->result->stdout_truncated);
	ck_assert_int_gt(resp->result->pid, 0);
	free_resp(resp);
}
END_TEST

START_TEST(test_exit_code)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "exit 3");
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_exited(resp->result, 3);
	free_resp(resp);
}
END_TEST

START_TEST(test_killed_by_signal)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "kill -9 $$");
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGKILL);
	ck_assert_int_eq(resp->result->exit_code, 0);
	free_resp(resp);
}
END_TEST

START_TEST(test_stderr_captured)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo out; echo err-line >&2");
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_output(resp->result->stdout, "out\n", "stdout");
	rd_assert_output(resp->result->stderr, "err-line\n", "stderr");
	ck_assert_uint_eq(resp->result->stderr_total, 9);
	ck_assert(!resp->result->stderr_truncated);
	rd_assert_exited(resp->result, 0);
	free_resp(resp);
}
END_TEST

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The variable names in `env` output, sorted, space-separated. */
static void
sorted_names(const ProtobufCBinaryData out, char *names, size_t cap)
{
	char *text = strndup((const char *) out.data, out.len), *save, *line;
	char *v[64];
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL && n < 64;
	     line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "=")] = '\0';
		v[n++] = line;
	}
	qsort(v, n, sizeof(v[0]), cmp_str);
	names[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(names + strlen(names), cap - strlen(names), "%s%s", i ? " " : "", v[i]);
	free(text);
}

/* The child's environment is exactly the clean base plus the request's:
 * nothing of the daemon's own environment leaks through. */
START_TEST(test_env_clean)
{
	static const char *const daemon_env[] = { "RUNNERD_TEST_SECRET=xyz", NULL };
	rd_options o = { .env = daemon_env };
	RunResponse *resp;
	rd_daemon d;
	rd_cmd c;
	char names[1024];

	rd_start(&d, &o);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "env", NULL);
	rd_cmd_env(&c, "RD_VISIBLE", "hello world");
	resp = rd_run_ok_at(d.ipc_url, &c);
	rd_assert_exited(resp->result, 0);
	ck_assert_msg(memmem(resp->result->stdout.data, resp->result->stdout.len,
			     "RUNNERD_TEST_SECRET", 19) == NULL,
		      "the daemon's environment leaked into the child");
	ck_assert_msg(memmem(resp->result->stdout.data, resp->result->stdout.len,
			     "RD_VISIBLE=hello world\n", 23) != NULL,
		      "RD_VISIBLE=hello world missing from the child's environment");
	sorted_names(resp->result->stdout, names, sizeof(names));
	ck_assert_str_eq(names, "HOME LANG PATH RD_VISIBLE TERM");
	free_resp(resp);
	rd_stop(&d);
}
END_TEST

START_TEST(test_cwd)
{
	char dir[256], real[PATH_MAX], want[PATH_MAX + 2];
	RunResponse *resp;
	rd_cmd c;

	rd_mkdtemp(dir);
	ck_assert_ptr_nonnull(realpath(dir, real));
	snprintf(want, sizeof(want), "%s\n", real);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "pwd", NULL);
	c.spec.cwd = real;
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_output(resp->result->stdout, want, "pwd");
	rd_assert_exited(resp->result, 0);
	free_resp(resp);
}
END_TEST

START_TEST(test_stdin_delivered)
{
	static const char in[] = "hello\nworld, no newline at the end";
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	rd_cmd_stdin(&c, in, strlen(in));
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_output(resp->result->stdout, in, "cat of stdin");
	rd_assert_exited(resp->result, 0);
	free_resp(resp);
}
END_TEST

/* Without stdin bytes the child reads /dev/null (and so never hangs). */
START_TEST(test_stdin_empty_is_devnull)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, "readlink /proc/self/fd/0; cat");
	c.spec.timeout_ms = 5000;
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_output(resp->result->stdout, "/dev/null\n", "stdin of the child");
	rd_assert_exited(resp->result, 0);
	free_resp(resp);
}
END_TEST

START_TEST(test_all_byte_values_roundtrip)
{
	unsigned char in[4 * 256];
	RunResponse *resp;
	rd_cmd c;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char) (i % 2 ? 255 - i % 256 : i % 256);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	rd_cmd_stdin(&c, in, sizeof(in));
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_bytes(resp->result->stdout, in, sizeof(in), "cat of all byte values");
	ck_assert_uint_eq(resp->result->stdout_total, sizeof(in));
	rd_assert_exited(resp->result, 0);
	free_resp(resp);
}
END_TEST

START_TEST(test_only_std_fds)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, FDLIST_PATH, NULL);
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	rd_assert_output(resp->result->stdout, "0\n1\n2\n", "fds open in the child");
	rd_assert_exited(resp->result, 0);
	free_resp(resp);
}
END_TEST

static void
assert_exec_failed(const char *prog, int want_errno)
{
	RunResponse *resp;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, prog, NULL);
	resp = rd_run_ok_at(rd_fx.ipc_url, &c);
	ck_assert_msg(resp->result->reason == RUNNER__V1__TERMINATION__EXEC_FAILED,
		      "%s: reason %d exit_code %d, want EXEC_FAILED", prog, resp->result->reason,
		      resp->result->exit_code);
	ck_assert_msg(resp->result->exec_errno == want_errno, "%s: exec_errno %d (%s), want %d (%s)",
		      prog, resp->result->exec_errno, strerror(resp->result->exec_errno), want_errno,
		      strerror(want_errno));
	ck_assert_int_eq(resp->result->exit_code, 0);
	ck_assert_msg(resp->result->exec_error != NULL && resp->result->exec_error[0] != '\0',
		      "exec_error is empty");
	free_resp(resp);
}

START_TEST(test_exec_not_found)
{
	assert_exec_failed("rd-no-such-command-7f3a", ENOENT);
	assert_exec_failed("/nonexistent-dir/rd-no-such-command", ENOENT);
}
END_TEST

START_TEST(test_exec_not_executable)
{
	static const char script[] = "#!/bin/sh\necho should-not-run\n";
	char path[300];

	snprintf(path, sizeof(path), "%s/not-executable.sh", rd_fx.dir);
	rd_write_file(path, script, strlen(script), 0644);
	assert_exec_failed(path, EACCES);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("run_basic");
	TCase *tc = rd_tcase("with_daemon");
	TCase *own = rd_tcase("own_daemon");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_exit_code);
	tcase_add_test(tc, test_killed_by_signal);
	tcase_add_test(tc, test_stderr_captured);
	tcase_add_test(tc, test_cwd);
	tcase_add_test(tc, test_stdin_delivered);
	tcase_add_test(tc, test_stdin_empty_is_devnull);
	tcase_add_test(tc, test_all_byte_values_roundtrip);
	tcase_add_test(tc, test_only_std_fds);
	tcase_add_test(tc, test_exec_not_found);
	tcase_add_test(tc, test_exec_not_executable);
	suite_add_tcase(s, tc);

	tcase_add_test(own, test_env_clean);
	suite_add_tcase(s, own);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
