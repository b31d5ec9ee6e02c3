/* test_audit — the audit log: a start and an end line per process (Run and
 * session; success, exec failure, timeout), a line per refusal, each parsed
 * as JSON and checked field by field; strings escaped; no token, no
 * environment value and no stream secret in it or in the request log; the
 * file reopened on SIGHUP. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth_support.h"

#define TOKEN "audit-token-3e1f0a9b8c7d"
#define ENV_VALUE "env-value-must-not-be-logged-51c0"
/* An argument a line of its own must not be forged from, with a quote, a
 * tab and a byte that is not UTF-8. */
#define TRICKY "line1\n{\"event\":\"forged\"}\t\xff"

static as_daemon ad;

static void
setup(void)
{
	char h[65], text[1024];

	as_sha256_hex(TOKEN, h);
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: default\n    backend: exec\n  - name: denied\n    backend: exec\n"
		 "principals:\n  - name: root\n    uids: [0]\n    profiles: ['*']\n    admin: true\n"
		 "  - name: alice\n    token_sha256: [%s]\n    profiles: [default]\n",
		 h);
	as_start(&ad, text, true, NULL);
}

static void
teardown(void)
{
	as_stop(&ad);
}

/* The first line of `event` whose argv[0] is `argv0`. */
static json_t *
line_of(json_t *lines, const char *event, const char *argv0)
{
	size_t i;
	json_t *o;

	json_array_foreach(lines, i, o) {
		const char *a = json_string_value(json_array_get(json_object_get(o, "argv"), 0));
		if (strcmp(as_str(o, "event"), event) == 0 && a != NULL && strcmp(a, argv0) == 0)
			return o;
	}
	ck_abort_msg("no %s line for %s", event, argv0);
	return NULL;
}

static long long
int_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "no integer \"%s\"", key);
	return json_integer_value(v);
}

/* A 64-bit count, a decimal string in the JSON mapping. */
static long long
count_of(json_t *o, const char *key)
{
	return atoll(as_str(o, key));
}

static void
assert_caller(json_t *o, const char *method)
{
	json_t *peer = json_object_get(o, "peer");

	ck_assert_str_eq(as_str(o, "principal"), "alice");
	ck_assert_str_eq(as_str(peer, "transport"), "tcp");
	ck_assert_msg(strncmp(as_str(peer, "address"), "127.0.0.1:", 10) == 0, "%s", as_str(peer, "address"));
	ck_assert_str_eq(as_str(o, "method"), method);
	ck_assert_int_eq(strlen(as_str(o, "requestId")), 24); /* 16 bytes in base64 */
	ck_assert_msg(strlen(as_str(o, "time")) == 24 && as_str(o, "time")[23] == 'Z', "%s", as_str(o, "time"));
}

START_TEST(test_audit_lines)
{
	runner_client *c = as_client(ad.d.tcp_url, TOKEN);
	Runner__V1__RunResponse *resp = NULL;
	runner_status st;
	rd_session s;
	rd_cmd cmd;

	/* Success: every field. */
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "sh", "-c", "cat >/dev/null; echo out; echo err >&2", TRICKY, NULL);
	rd_cmd_env(&cmd, "SECRET_VAR", ENV_VALUE);
	rd_cmd_stdin(&cmd, "abc", 3);
	cmd.spec.cwd = "/tmp";
	runner__v1__run_response__free_unpacked(rd_run_ok(c, &cmd), NULL);
	/* Exec failure, timeout, refusal. */
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "/nonexistent/prog-xyz", NULL);
	runner__v1__run_response__free_unpacked(rd_run_ok(c, &cmd), NULL);
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "sleep", "10", NULL);
	cmd.spec.timeout_ms = 300;
	runner__v1__run_response__free_unpacked(rd_run_ok(c, &cmd), NULL);
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "true", NULL);
	cmd.spec.profile = "denied";
	ck_assert_int_lt(runner_run(c, &cmd.req, &resp, 10000, &st), 0);
	rd_assert_code(st.code, RUNNER_PERMISSION_DENIED, &st);
	/* A session. */
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "cat", NULL);
	rd_start_pipes(c, &cmd, NULL, "audited", &s);
	ck_assert_uint_eq(rd_write_stdin(c, s.id, 0, "xy", 2), 2);
	rd_close_stdin(c, s.id);
	runner__v1__wait_response__free_unpacked(rd_wait(c, s.id, 10000), NULL);
	/* Its end line is written as its process ends; Wait may answer first. */
	json_t *lines, *o, *argv, *names;
	for (int64_t end = rd_now_ms() + 5000;; rd_sleep_ms(20)) {
		lines = as_audit_lines(&ad);
		if (as_audit_find(lines, "end", "sessionId", s.id) != NULL)
			break;
		json_decref(lines);
		ck_assert_msg(rd_now_ms() < end, "no end line for session %s", s.id);
	}

	/* The start line says who ran what, where; the end line repeats it
	 * and says how it ended. */
	o = line_of(lines, "start", "sh");
	assert_caller(o, "Run");
	ck_assert(int_of(o, "pid") > 0);
	ck_assert_ptr_null(json_object_get(o, "reason"));
	o = line_of(lines, "end", "sh");
	assert_caller(o, "Run");
	ck_assert_str_eq(as_str(o, "profile"), "default");
	ck_assert_str_eq(as_str(o, "backend"), "exec");
	argv = json_object_get(o, "argv");
	ck_assert_int_eq(json_array_size(argv), 4);
	ck_assert_str_eq(json_string_value(json_array_get(argv, 3)), "line1\n{\"event\":\"forged\"}\t\xef\xbf\xbd");
	ck_assert_str_eq(as_str(o, "cwd"), "/tmp");
	names = json_object_get(o, "envNames");
	ck_assert_int_eq(json_array_size(names), 1);
	ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "SECRET_VAR");
	ck_assert_str_eq(as_str(o, "reason"), "EXITED");
	ck_assert_int_eq(int_of(o, "exitCode"), 0);
	ck_assert_int_eq(int_of(o, "signal"), 0);
	ck_assert(count_of(o, "wallTimeUs") > 0);
	ck_assert_int_eq(count_of(o, "stdinBytes"), 3);
	ck_assert_int_eq(count_of(o, "stdoutBytes"), 4);
	ck_assert_int_eq(count_of(o, "stderrBytes"), 4);
	ck_assert(json_is_false(json_object_get(o, "oomKilled")));
	ck_assert_ptr_null(as_audit_find(lines, "forged", NULL, NULL));

	o = line_of(lines, "end", "/nonexistent/prog-xyz");
	ck_assert_str_eq(as_str(o, "reason"), "EXEC_FAILED");
	ck_assert_msg(strstr(as_str(o, "execError"), "No such file") != NULL, "%s", as_str(o, "execError"));

	o = line_of(lines, "end", "sleep");
	ck_assert_str_eq(as_str(o, "reason"), "TIMEOUT");
	ck_assert_int_eq(int_of(o, "signal"), SIGTERM);

	o = line_of(lines, "refused", "true");
	assert_caller(o, "Run");
	ck_assert_str_eq(as_str(o, "code"), "PERMISSION_DENIED");
	ck_assert_str_eq(as_str(o, "message"), "principal alice may not use profile denied (granted: default)");
	ck_assert_str_eq(as_str(o, "profile"), "denied");

	o = line_of(lines, "end", "cat");
	assert_caller(o, "StartPipes");
	ck_assert_str_eq(as_str(o, "sessionId"), s.id);
	ck_assert_int_eq(count_of(o, "stdinBytes"), 2);
	ck_assert_int_eq(count_of(o, "stdoutBytes"), 2);
	ck_assert_int_eq(int_of(line_of(lines, "start", "cat"), "pid"), s.pid);
	json_decref(lines);

	/* Neither the token, nor the environment value, nor the session's
	 * secret (as runnerctl prints it, in hex, or in base64) is in any
	 * line of the audit log or of runnerd's log. */
	char hex[2 * sizeof(s.secret) + 1], b64[128];
	for (size_t i = 0; i < s.secret_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", s.secret[i]);
	EVP_EncodeBlock((unsigned char *) b64, s.secret, (int) s.secret_len);
	const char *never[] = { TOKEN, ENV_VALUE, hex, b64 };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		ck_assert_msg(!as_file_has(ad.audit, never[i]), "the audit log holds %s", never[i]);
		ck_assert_msg(!as_file_has(ad.log, never[i]), "runnerd's log holds %s", never[i]);
	}
	runner_client_close(c);
}
END_TEST

START_TEST(test_audit_reopened_on_sighup)
{
	runner_client *c = as_client(ad.d.ipc_url, NULL);
	char rotated[320];
	rd_cmd cmd;

	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "echo", "before", NULL);
	runner__v1__run_response__free_unpacked(rd_run_ok(c, &cmd), NULL);
	snprintf(rotated, sizeof(rotated), "%s.1", ad.audit);
	ck_assert_int_eq(rename(ad.audit, rotated), 0);
	/* SIGHUP reopens; it is not a shutdown. */
	ck_assert_int_eq(kill(ad.d.pid, SIGHUP), 0);
	for (int64_t end = rd_now_ms() + 5000; access(ad.audit, F_OK) != 0; rd_sleep_ms(10))
		ck_assert_msg(rd_now_ms() < end, "runnerd did not reopen %s", ad.audit);
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "echo", "after", NULL);
	runner__v1__run_response__free_unpacked(rd_run_ok(c, &cmd), NULL);
	ck_assert(as_file_has(rotated, "\"before\"") && !as_file_has(rotated, "\"after\""));
	ck_assert(as_file_has(ad.audit, "\"after\"") && !as_file_has(ad.audit, "\"before\""));
	/* root over ipc: its uid and pid are the peer. */
	json_t *lines = as_audit_lines(&ad), *o = as_audit_find(lines, "end", "principal", "root");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(as_str(json_object_get(o, "peer"), "transport"), "ipc");
	ck_assert_int_eq(int_of(json_object_get(o, "peer"), "uid"), 0);
	ck_assert_int_eq(int_of(json_object_get(o, "peer"), "pid"), getpid());
	json_decref(lines);
	runner_client_close(c);
}
END_TEST

/* Without principals the log still says who (the peer) ran what. */
START_TEST(test_audit_without_principals)
{
	as_daemon plain;
	runner_client *c;
	rd_cmd cmd;

	as_start(&plain, "profiles:\n  - name: default\n    backend: exec\n", false, NULL);
	c = as_client(plain.d.ipc_url, NULL);
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "true", NULL);
	runner__v1__run_response__free_unpacked(rd_run_ok(c, &cmd), NULL);
	runner_client_close(c);
	json_t *lines = as_audit_lines(&plain), *o = line_of(lines, "end", "true");
	ck_assert(json_is_null(json_object_get(o, "principal")));
	ck_assert_str_eq(as_str(json_object_get(o, "peer"), "transport"), "ipc");
	json_decref(lines);
	as_stop(&plain);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = rd_tcase("audit");
	TCase *plain = rd_tcase("plain");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_audit_lines);
	tcase_add_test(tc, test_audit_reopened_on_sighup);
	suite_add_tcase(s, tc);
	tcase_add_test(plain, test_audit_without_principals);
	suite_add_tcase(s, plain);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
