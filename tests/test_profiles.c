/* test_profiles — server-side profiles on the exec backend: config
 * validation, tightening only, template parameters and their validation. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.h"
#include "support.h"

static char cfg_path[300], root[300];
static rd_daemon d;

/* A config with a workdir template rooted in this test's directory. */
static void
write_config(const char *dir)
{
	char text[2048];
	int n;

	snprintf(root, sizeof(root), "%s/root", dir);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	snprintf(cfg_path, sizeof(cfg_path), "%s/runnerd.yaml", dir);
	n = snprintf(text, sizeof(text),
		     "default_profile: default\n"
		     "profiles:\n"
		     "  - name: default\n"
		     "  - name: short\n"
		     "    limits:\n"
		     "      timeout: 1s\n"
		     "      stdout: 1K\n"
		     "    env:\n"
		     "      allow: [FOO]\n"
		     "      set:\n"
		     "        - name: FIXED\n"
		     "          value: \"yes\"\n"
		     "  - name: work\n"
		     "    workdir: \"{{workdir}}\"\n"
		     "    params:\n"
		     "      - name: workdir\n"
		     "        roots: [\"%s\"]\n",
		     root);
	rd_write_file(cfg_path, text, (size_t) n, 0600);
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

static int
run_code(rd_cmd *c, runner_status *st)
{
	runner_client *cl = rd_client(d.ipc_url);
	int code = rd_run_code(cl, c, st);

	runner_client_close(cl);
	return code;
}

static void
assert_denied(rd_cmd *c, int want, const char *field)
{
	runner_status st;

	ck_assert_int_eq(run_code(c, &st), want);
	ck_assert_msg(strstr(st.message, field) != NULL, "message \"%s\" does not name %s", st.message,
		      field);
}

START_TEST(test_tighten_only)
{
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "short";
	c.spec.timeout_ms = 5000;
	assert_denied(&c, RUNNER_PERMISSION_DENIED, "command.timeout_ms");

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "short";
	c.spec.stdout_limit = 4096;
	assert_denied(&c, RUNNER_PERMISSION_DENIED, "command.stdout_limit");

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "short";
	c.spec.backend = "firejail";
	assert_denied(&c, RUNNER_PERMISSION_DENIED, "command.backend");

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "short";
	rd_cmd_env(&c, "BAR", "1");
	assert_denied(&c, RUNNER_PERMISSION_DENIED, "command.env.BAR");

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	c.spec.profile = "nope";
	assert_denied(&c, RUNNER_NOT_FOUND, "nope");

	/* A tightening the profile's backend cannot enforce is refused, never
	 * dropped: exec cannot cut the network. */
	Runner__V1__Restrictions t = RUNNER__V1__RESTRICTIONS__INIT;
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	t.no_network = true;
	c.spec.tighten = &t;
	assert_denied(&c, RUNNER_FAILED_PRECONDITION, "network: none");
	rd_assert_echo_ok_at(d.ipc_url);
}
END_TEST

START_TEST(test_profile_limits_apply)
{
	Runner__V1__RunResponse *resp;
	rd_cmd c;

	/* Lowering is fine; the profile's env is fixed and allowed names pass. */
	rd_cmd_init(&c);
	rd_cmd_shell(&c, "echo \"$FOO $FIXED\"; head -c 5000 /dev/zero");
	rd_cmd_env(&c, "FOO", "foo");
	c.spec.profile = "short";
	c.spec.stdout_limit = 100;
	resp = rd_run_ok_at(d.ipc_url, &c);
	ck_assert_uint_eq(resp->result->stdout.len, 100);
	ck_assert(memcmp(resp->result->stdout.data, "foo yes\n", 8) == 0);
	ck_assert(resp->result->stdout_truncated);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* The profile's timeout applies without asking. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sleep", "10", NULL);
	c.spec.profile = "short";
	int64_t t0 = rd_now_ms();
	resp = rd_run_ok_at(d.ipc_url, &c);
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_lt(rd_now_ms() - t0, 4000);
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

static void
set_param(rd_cmd *c, Runner__V1__KeyValue *kv, Runner__V1__KeyValue **kvp, const char *key,
	  const char *value)
{
	runner__v1__key_value__init(kv);
	kv->key = (char *) key;
	kv->value = (char *) value;
	kvp[0] = kv;
	c->spec.params = kvp;
	c->spec.n_params = 1;
}

START_TEST(test_params_workdir)
{
	Runner__V1__KeyValue kv, *kvp[1];
	Runner__V1__RunResponse *resp;
	char job[400], want[420];
	rd_cmd c;

	snprintf(job, sizeof(job), "%s/job-17", root);
	ck_assert_int_eq(mkdir(job, 0700), 0);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "pwd", NULL);
	c.spec.profile = "work";
	set_param(&c, &kv, kvp, "workdir", job);
	resp = rd_run_ok_at(d.ipc_url, &c);
	snprintf(want, sizeof(want), "%s\n", job);
	rd_assert_output(resp->result->stdout, want, "pwd");
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* A cwd outside the profile's workdir is asking for more. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "pwd", NULL);
	c.spec.profile = "work";
	c.spec.cwd = "/";
	set_param(&c, &kv, kvp, "workdir", job);
	assert_denied(&c, RUNNER_PERMISSION_DENIED, "command.cwd");
}
END_TEST

START_TEST(test_params_injection_refused)
{
	char link[400], bad[8][440];
	const char *values[8];
	size_t n = 0;

	/* A symlink inside the root that points outside it. */
	snprintf(link, sizeof(link), "%s/escape", root);
	ck_assert_int_eq(symlink("/etc", link), 0);
	values[n++] = link;
	snprintf(bad[n], sizeof(bad[n]), "%s/a\nnoblacklist /", root);
	values[n] = bad[n], n++;
	snprintf(bad[n], sizeof(bad[n]), "%s/../..", root);
	values[n] = bad[n], n++;
	snprintf(bad[n], sizeof(bad[n]), "%s/$(id)", root);
	values[n] = bad[n], n++;
	values[n++] = "--private=/";
	values[n++] = "/etc";
	values[n++] = "relative/path";
	for (size_t i = 0; i < n; i++) {
		Runner__V1__KeyValue kv, *kvp[1];
		rd_cmd c;

		rd_cmd_init(&c);
		rd_cmd_argv(&c, "true", NULL);
		c.spec.profile = "work";
		set_param(&c, &kv, kvp, "workdir", values[i]);
		assert_denied(&c, RUNNER_INVALID_ARGUMENT, "params.workdir");
	}
	{
		Runner__V1__KeyValue kv, *kvp[1];
		rd_cmd c;

		rd_cmd_init(&c);
		rd_cmd_argv(&c, "true", NULL);
		c.spec.profile = "work";
		assert_denied(&c, RUNNER_INVALID_ARGUMENT, "params.workdir"); /* missing */
		set_param(&c, &kv, kvp, "other", root);
		assert_denied(&c, RUNNER_INVALID_ARGUMENT, "params.other"); /* undeclared */
	}
	rd_assert_echo_ok_at(d.ipc_url);
}
END_TEST

START_TEST(test_check_config)
{
	char out[2048];

	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n", out, sizeof(out)), 0);
	/* A rule the backend cannot enforce is refused, not ignored. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    network: none\n", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "cannot enforce network"));
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    filesystem:\n      hidden: [/etc]\n", out,
				      sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "filesystem.hidden"));
	/* Type errors carry the file's line and column, on one line. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    docker:\n      pids: many\n", out,
				      sizeof(out)), 1);
	ck_assert_msg(strstr(out, ".yaml:4:13: ") != NULL, "%s", out);
	/* A mistyped key: where it is and which, no libcyaml backtrace. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    limits: {timeout: 3s}\n  - name: b\n"
					 "    timeout: 3s\n", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, ".yaml:5:5: unknown key \"timeout\"\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Backtrace") == NULL && strchr(out, '\n') == out + strlen(out) - 1, "%s", out);
	/* A limit is a value of its kind or "unlimited", never 0. */
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    limits:\n      processes: many\n", out,
				      sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "limits.processes"));
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    limits:\n      timeout: soon\n", out,
				      sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "limits.timeout"));
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    backend: chroot\n", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "backend"));
	ck_assert_int_eq(rd_check_config("profiles:\n  - name: a\n    env:\n      set:\n        - name: LD_PRELOAD\n          value: x\n",
				      out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "LD_PRELOAD"));
	/* No document at all: refused, not a crash. */
	ck_assert_int_eq(rd_check_config("", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "empty"));
	ck_assert_int_eq(rd_check_config("# nothing but a comment\n", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "empty"));
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = rd_tcase("profiles");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tighten_only);
	tcase_add_test(tc, test_profile_limits_apply);
	tcase_add_test(tc, test_params_workdir);
	tcase_add_test(tc, test_params_injection_refused);
	suite_add_tcase(s, tc);
	tc = rd_tcase("config");
	tcase_add_test(tc, test_check_config);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
