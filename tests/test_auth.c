/* test_auth — who may call runnerd: ipc callers by uid (another uid through
 * setpriv), bearer tokens, profile grants, quotas, and sessions that belong
 * to the principal that started them. One runnerd per test, with the
 * principals of `config` below; tokens travel over a plain tcp listener,
 * uids over the ipc socket. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_support.h"
#include "runner_files.h"

#define TOKEN_ALICE "alice-9f2c1d0e6b7a4c3d"
#define TOKEN_BOB "bob-1a2b3c4d5e6f7081"
#define TOKEN_LIMITED "limited-0f1e2d3c4b5a6978"
#define TOKEN_CHATTY "chatty-8899aabbccddeeff"
#define OTHER_UID 60001  /* a principal by uid */
#define NOBODY_UID 65534 /* no principal: the "ran id and got uid=0(root)" */

static as_daemon ad;

static void
config(char *buf, size_t size)
{
	char a[65], b[65], l[65], c[65];

	as_sha256_hex(TOKEN_ALICE, a);
	as_sha256_hex(TOKEN_BOB, b);
	as_sha256_hex(TOKEN_LIMITED, l);
	as_sha256_hex(TOKEN_CHATTY, c);
	snprintf(buf, size,
		 "profiles:\n"
		 "  - name: default\n    backend: exec\n"
		 "  - name: second\n    backend: exec\n    env:\n      set: [{name: WHICH, value: second}]\n"
		 "    files:\n      read: [/etc]\n"
		 "  - name: third\n    backend: exec\n"
		 "  - name: as-nobody\n    backend: exec\n    user: nobody\n"
		 "principals:\n"
		 "  - name: root\n    uids: [0]\n    profiles: ['*']\n    admin: true\n"
		 "  - name: other-user\n    uids: [%d]\n    profiles: [as-nobody]\n    default_profile: as-nobody\n"
		 "  - name: alice\n    token_sha256: [%s]\n    profiles: [default, second]\n"
		 "    default_profile: second\n"
		 "  - name: bob\n    token_sha256: [%s]\n    profiles: [default]\n"
		 "  - name: limited\n    token_sha256: [%s]\n    profiles: [default]\n"
		 "    quotas: {runs: 1, sessions: 1}\n"
		 "  - name: chatty\n    token_sha256: [%s]\n    profiles: [default]\n    quotas: {rate: 5/s}\n",
		 OTHER_UID, a, b, l, c);
}

static void
setup(void)
{
	char text[4096];

	config(text, sizeof(text));
	as_start(&ad, text, true, NULL);
}

static void
teardown(void)
{
	as_stop(&ad);
}

/* ---- ipc: the peer's uid decides, before any request -------------------- */

START_TEST(test_ipc_uid_admitted_or_dropped)
{
	ctl_result r;

	/* Admitted, and held to its one profile, which runs commands as
	 * nobody: a caller gets what its principal's profiles give, never
	 * runnerd's own user unless a profile says so. */
	as_ctl_as(&r, OTHER_UID, ad.d.ipc_url, NULL, "run", "--", "id", "-u", NULL);
	ctl_assert_status(&r, 0);
	ck_assert_str_eq(r.out, "65534\n");
	ctl_result_free(&r);
	as_ctl_as(&r, OTHER_UID, ad.d.ipc_url, NULL, "run", "--profile", "default", "--", "id", NULL);
	ctl_assert_status(&r, 70);
	ck_assert_msg(strstr(r.err, "PERMISSION_DENIED: principal other-user may not use profile default") != NULL,
		      "%s", r.err);
	ck_assert_str_eq(r.out, "");
	ctl_result_free(&r);

	/* uid 65534 once ran `id` and got uid=0(root): no principal is it now,
	 * on the socket or over tcp. */
	as_ctl_as(&r, NOBODY_UID, ad.d.ipc_url, NULL, "run", "--", "id", NULL);
	ctl_assert_status(&r, 77);
	ck_assert_msg(strstr(r.err, "UNAUTHENTICATED") != NULL && strstr(r.err, "does not admit") != NULL, "%s",
		      r.err);
	ck_assert_msg(strstr(r.out, "uid=0(root)") == NULL, "%s", r.out);
	ctl_result_free(&r);
	as_ctl_as(&r, NOBODY_UID, ad.d.tcp_url, NULL, "run", "--", "id", NULL);
	ctl_assert_status(&r, 77);
	ck_assert_msg(strstr(r.err, "UNAUTHENTICATED: no credentials") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.out, "uid=0(root)") == NULL, "%s", r.out);
	ctl_result_free(&r);

	/* The dropped connection is in the audit log, with who it was. */
	json_t *lines = as_audit_lines(&ad);
	json_t *refused = as_audit_find(lines, "refused", "code", "UNAUTHENTICATED");
	ck_assert_ptr_nonnull(refused);
	json_t *peer = json_object_get(refused, "peer");
	ck_assert_str_eq(as_str(peer, "transport"), "ipc");
	ck_assert_int_eq(json_integer_value(json_object_get(peer, "uid")), NOBODY_UID);
	ck_assert(json_integer_value(json_object_get(peer, "pid")) > 0);
	ck_assert(json_is_null(json_object_get(refused, "principal")));
	json_decref(lines);
}
END_TEST

/* The ipc listener keeps accepting after a caller no principal admits
 * opened and dropped 1,000 connections before the SP handshake (nng bug
 * #1518's trigger: the socket is open to every uid once principals decide),
 * then 500 that completed it, each held until runnerd itself dropped it. */
START_TEST(test_ipc_listener_survives_refused_churn)
{
	static const char churn[] =
		"import socket, sys, time\n"
		"def connect():\n"
		"    # The listener guard may be re-creating the socket (its file\n"
		"    # gone, then owner-only, for a moment): try again.\n"
		"    for attempt in range(500):\n"
		"        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
		"        try:\n"
		"            s.connect(sys.argv[1])\n"
		"            return s\n"
		"        except (FileNotFoundError, ConnectionRefusedError, PermissionError):\n"
		"            s.close()\n"
		"            time.sleep(0.01)\n"
		"    sys.exit('the socket stayed away')\n"
		"for i in range(1000):\n"
		"    connect().close()\n"
		"for i in range(500):\n"
		"    s = connect()\n"
		"    s.sendall(b'\\x00SP\\x00\\x00\\x30\\x00\\x00')\n"
		"    s.settimeout(10)\n"
		"    s.recv(8)\n"
		"    if s.recv(1) != b'':\n"
		"        sys.exit('runnerd sent more than its header')\n"
		"    s.close()\n";
	char id[16];
	runner_client *c;
	runner_status st;
	char *out = NULL;
	int status;
	pid_t pid;

	snprintf(id, sizeof(id), "%d", NOBODY_UID);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		execlp("setpriv", "setpriv", "--reuid", id, "--regid", id, "--clear-groups", "/usr/bin/python3", "-c", churn,
		       ad.d.ipc_url + strlen("ipc://"), (char *) NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the churn failed: status %#x", status);
	/* An admitted caller, connection included, within 2 s. */
	int64_t start = rd_now_ms();
	c = as_client(ad.d.ipc_url, NULL);
	ck_assert_int_eq(as_run(c, NULL, "echo served", &out, &st), RUNNER_OK);
	ck_assert_str_eq(out, "served\n");
	ck_assert_msg(rd_now_ms() - start <= 2000, "took %lld ms", (long long) (rd_now_ms() - start));
	free(out);
	runner_client_close(c);
	/* They were refused (told about once in a while, not per attempt). */
	json_t *lines = as_audit_lines(&ad), *refused = as_audit_find(lines, "refused", "code", "UNAUTHENTICATED");
	ck_assert_ptr_nonnull(refused);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(refused, "peer"), "uid")), NOBODY_UID);
	json_decref(lines);
}
END_TEST

/* ---- tokens -------------------------------------------------------------- */

START_TEST(test_tokens)
{
	runner_client *c;
	runner_status st;
	char *out = NULL;

	/* The right token: alice, whose default profile is "second". */
	c = as_client(ad.d.tcp_url, TOKEN_ALICE);
	ck_assert_int_eq(as_run(c, NULL, "echo $WHICH", &out, &st), RUNNER_OK);
	ck_assert_str_eq(out, "second\n");
	free(out);
	runner_client_close(c);

	/* A wrong token and none at all. */
	c = as_client(ad.d.tcp_url, "alice-but-wrong");
	rd_assert_code(as_run(c, NULL, "true", NULL, &st), RUNNER_UNAUTHENTICATED, &st);
	ck_assert_str_eq(st.message, "the bearer token matches no principal");
	runner_client_close(c);
	c = as_client(ad.d.tcp_url, NULL);
	rd_assert_code(as_run(c, NULL, "true", NULL, &st), RUNNER_UNAUTHENTICATED, &st);
	ck_assert_msg(strstr(st.message, "no credentials") != NULL, "%s", st.message);
	runner_client_close(c);

	/* A token wins over the peer's uid: root presenting bob's token is bob. */
	c = as_client(ad.d.ipc_url, TOKEN_BOB);
	rd_assert_code(as_run(c, "third", "true", NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_msg(strstr(st.message, "principal bob may not use profile third") != NULL, "%s", st.message);
	runner_client_close(c);

	/* runnerctl takes it from $RUNNERD_TOKEN. */
	ctl_result r;
	as_ctl_as(&r, NOBODY_UID, ad.d.tcp_url, TOKEN_BOB, "run", "--", "echo", "via-env", NULL);
	ctl_assert_status(&r, 0);
	ck_assert_str_eq(r.out, "via-env\n");
	ctl_result_free(&r);

	/* No token in any log line. */
	ck_assert(!as_file_has(ad.log, TOKEN_ALICE) && !as_file_has(ad.log, TOKEN_BOB));
	ck_assert(!as_file_has(ad.audit, TOKEN_ALICE) && !as_file_has(ad.audit, TOKEN_BOB));
	ck_assert(!as_file_has(ad.log, "alice-but-wrong") && !as_file_has(ad.audit, "alice-but-wrong"));
	/* The request log names who called. */
	ck_assert(as_file_has(ad.log, "principal=alice"));
}
END_TEST

/* ---- profile grants -------------------------------------------------------- */

START_TEST(test_profile_grants)
{
	runner_client *bob = as_client(ad.d.tcp_url, TOKEN_BOB), *alice = as_client(ad.d.tcp_url, TOKEN_ALICE);
	runner_status st;
	char *out = NULL;

	rd_assert_code(as_run(bob, "second", "true", NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_str_eq(st.message, "principal bob may not use profile second (granted: default)");
	ck_assert_int_eq(as_run(bob, NULL, "echo [$WHICH]", &out, &st), RUNNER_OK);
	ck_assert_str_eq(out, "[]\n");
	free(out);
	rd_assert_code(as_run(alice, "third", "true", NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_str_eq(st.message, "principal alice may not use profile third (granted: default, second)");
	ck_assert_int_eq(as_run(alice, "default", "echo [$WHICH]", &out, &st), RUNNER_OK);
	ck_assert_str_eq(out, "[]\n");
	free(out);
	/* Sessions too. */
	rd_cmd cmd;
	rd_session s;
	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "true", NULL);
	cmd.spec.profile = "second";
	rd_assert_code(rd_start_pipes_code(bob, &cmd, NULL, NULL, &s, &st), RUNNER_PERMISSION_DENIED, &st);
	runner_client_close(bob);
	runner_client_close(alice);
}
END_TEST

/* StatFile of `path` under `profile` (NULL: the request names none): its code. */
static int
stat_as(runner_client *c, const char *profile, const char *path, runner_status *st)
{
	Runner__V1__StatFileRequest req = RUNNER__V1__STAT_FILE_REQUEST__INIT;
	Runner__V1__FileScope scope = RUNNER__V1__FILE_SCOPE__INIT;
	Runner__V1__StatFileResponse *r = NULL;
	int rv;

	if (profile != NULL) {
		scope.profile = (char *) profile;
		req.scope = &scope;
	}
	req.path = (char *) path;
	rv = runner_stat_file(c, &req, &r, 10000, st);
	if (r != NULL)
		runner__v1__stat_file_response__free_unpacked(r, NULL);
	return rv < 0 ? st->code : RUNNER_OK;
}

/* File operations are held to the same grants as commands. */
START_TEST(test_file_grants)
{
	runner_client *bob = as_client(ad.d.tcp_url, TOKEN_BOB), *alice = as_client(ad.d.tcp_url, TOKEN_ALICE);
	runner_status st;

	rd_assert_code(stat_as(bob, "second", "/etc/passwd", &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_str_eq(st.message, "principal bob may not use profile second (granted: default)");
	ck_assert_int_eq(stat_as(alice, "second", "/etc/passwd", &st), RUNNER_OK);
	/* A scope naming no profile is the principal's default ("second",
	 * whose files: reach /etc), not the server's (which has none). */
	ck_assert_msg(stat_as(alice, NULL, "/etc/passwd", &st) == RUNNER_OK, "%s", st.message);
	ck_assert_msg(stat_as(alice, "", "/etc/passwd", &st) == RUNNER_OK, "%s", st.message);
	ck_assert_int_ne(stat_as(bob, NULL, "/etc/passwd", &st), RUNNER_OK);

	json_t *lines = as_audit_lines(&ad);
	json_t *refused = as_audit_find(lines, "refused", "method", "StatFile");
	ck_assert_ptr_nonnull(refused);
	ck_assert_str_eq(as_str(refused, "principal"), "bob");
	ck_assert_str_eq(as_str(refused, "code"), "PERMISSION_DENIED");
	ck_assert_str_eq(as_str(refused, "profile"), "second");
	json_decref(lines);
	runner_client_close(bob);
	runner_client_close(alice);
}
END_TEST

/* ---- quotas ----------------------------------------------------------------- */

struct slow_run {
	int code;
	runner_status st;
};

static void *
slow_run(void *arg)
{
	struct slow_run *s = arg;
	runner_client *c = as_client(ad.d.tcp_url, TOKEN_LIMITED);

	s->code = as_run(c, NULL, "sleep 1.5", NULL, &s->st);
	runner_client_close(c);
	return NULL;
}

START_TEST(test_quota_concurrent_runs)
{
	runner_client *c = as_client(ad.d.tcp_url, TOKEN_LIMITED), *bob = as_client(ad.d.tcp_url, TOKEN_BOB);
	runner_client *root = as_client(ad.d.ipc_url, NULL);
	struct slow_run first = { .code = -1 };
	runner_status st;
	pthread_t t;

	/* A refused request does not hold the quota. */
	rd_assert_code(as_run(c, "second", "true", NULL, &st), RUNNER_PERMISSION_DENIED, &st);
	ck_assert_int_eq(pthread_create(&t, NULL, slow_run, &first), 0);
	for (int64_t end = rd_now_ms() + 10000; rd_health_running(root) < 1; rd_sleep_ms(10))
		ck_assert_msg(rd_now_ms() < end, "the first Run never ran");
	rd_assert_code(as_run(c, NULL, "true", NULL, &st), RUNNER_RESOURCE_EXHAUSTED, &st);
	ck_assert_str_eq(st.message, "principal limited: quota of 1 concurrent Runs reached");
	/* Another principal's quota is its own. */
	ck_assert_int_eq(as_run(bob, NULL, "true", NULL, &st), RUNNER_OK);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(first.code, RUNNER_OK);
	/* Released with the first. */
	ck_assert_int_eq(as_run(c, NULL, "true", NULL, &st), RUNNER_OK);
	runner_client_close(c);
	runner_client_close(bob);
	runner_client_close(root);
}
END_TEST

START_TEST(test_quota_sessions)
{
	runner_client *c = as_client(ad.d.tcp_url, TOKEN_LIMITED);
	rd_session first, second;
	runner_status st;
	rd_cmd cmd;

	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "sleep", "30", NULL);
	rd_start_pipes(c, &cmd, NULL, NULL, &first);
	rd_assert_code(rd_start_pipes_code(c, &cmd, NULL, NULL, &second, &st), RUNNER_RESOURCE_EXHAUSTED, &st);
	ck_assert_str_eq(st.message, "principal limited: quota of 1 running sessions reached");
	/* A session that ended, though still retained, no longer counts. */
	rd_assert_code(rd_signal_code(c, first.id, SIGKILL, &st), RUNNER_OK, &st);
	runner__v1__wait_response__free_unpacked(rd_wait(c, first.id, 10000), NULL);
	rd_start_pipes(c, &cmd, NULL, NULL, &second);
	rd_assert_code(rd_signal_code(c, second.id, SIGKILL, &st), RUNNER_OK, &st);
	runner__v1__wait_response__free_unpacked(rd_wait(c, second.id, 10000), NULL);
	runner_client_close(c);
}
END_TEST

START_TEST(test_quota_rate)
{
	runner_client *c = as_client(ad.d.tcp_url, TOKEN_CHATTY);
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	int ok = 0, refused = 0;
	runner_status st;

	/* 5/s: a burst of 5, then one per 200 ms. Twenty calls in a row
	 * outrun it whatever the machine's load. */
	for (int i = 0; i < 20; i++) {
		Runner__V1__HealthResponse *h = NULL;
		int rv = runner_health(c, &req, &h, 5000, &st);
		if (h != NULL)
			runner__v1__health_response__free_unpacked(h, NULL);
		if (rv == 0) {
			ok++;
			continue;
		}
		rd_assert_code(st.code, RUNNER_RESOURCE_EXHAUSTED, &st);
		ck_assert_str_eq(st.message, "principal chatty: over its request rate (5/s)");
		refused++;
	}
	ck_assert_msg(ok >= 5 && refused > 0, "%d answered, %d refused", ok, refused);
	/* The bucket fills again. */
	rd_sleep_ms(1100);
	for (int i = 0; i < 5; i++) {
		Runner__V1__HealthResponse *h = NULL;
		ck_assert_msg(runner_health(c, &req, &h, 5000, &st) == 0, "call %d: %s", i, st.message);
		runner__v1__health_response__free_unpacked(h, NULL);
	}
	runner_client_close(c);
}
END_TEST

/* ---- sessions belong to their principal ------------------------------------ */

/* Every call on `s` by `cl` answers NOT_FOUND, worded as for a session
 * that does not exist. */
static void
assert_hidden(runner_client *cl, const rd_session *s)
{
	char want[320];
	runner_status st;
	uint64_t accepted;

	snprintf(want, sizeof(want), "no session \"%s\" (never started, or collected)", s->id);
	rd_assert_code(rd_write_stdin_code(cl, s->id, 0, "injected\n", 9, &accepted, &st), RUNNER_NOT_FOUND, &st);
	ck_assert_str_eq(st.message, want);
	rd_assert_code(rd_close_stdin_code(cl, s->id, &accepted, &st), RUNNER_NOT_FOUND, &st);
	rd_assert_code(rd_signal_code(cl, s->id, SIGKILL, &st), RUNNER_NOT_FOUND, &st);
	ck_assert_str_eq(st.message, want);
	rd_assert_code(rd_wait_code(cl, s->id, 10, NULL, &st), RUNNER_NOT_FOUND, &st);

	Runner__V1__ReadOutputRequest ro = RUNNER__V1__READ_OUTPUT_REQUEST__INIT;
	Runner__V1__ReadOutputResponse *rr = NULL;
	ro.session_id = (char *) s->id;
	ck_assert_int_lt(runner_read_output(cl, &ro, &rr, 5000, &st), 0);
	rd_assert_code(st.code, RUNNER_NOT_FOUND, &st);
	ck_assert_str_eq(st.message, want);
	ro.stream_secret.data = (uint8_t *) "wrong-secret-wrong-secret-wrong!";
	ro.stream_secret.len = 32;
	ck_assert_int_lt(runner_read_output(cl, &ro, &rr, 5000, &st), 0);
	rd_assert_code(st.code, RUNNER_NOT_FOUND, &st);

	Runner__V1__RemoveRequest rm = RUNNER__V1__REMOVE_REQUEST__INIT;
	Runner__V1__RemoveResponse *rmr = NULL;
	rm.session_id = (char *) s->id;
	ck_assert_int_lt(runner_remove(cl, &rm, &rmr, 5000, &st), 0);
	rd_assert_code(st.code, RUNNER_NOT_FOUND, &st);

	Runner__V1__ListResponse *l = rd_list(cl, NULL);
	ck_assert_ptr_null(rd_list_find(l, s->id));
	runner__v1__list_response__free_unpacked(l, NULL);
}

/* Attach to `s` with `cred`, and the secret when `with_secret`; the last
 * frame, the stdout received into *out. */
static void
attach(const rd_session *s, const runner_credentials *cred, bool with_secret, rd_sink *out, rd_sink *err,
       rd_reader *r)
{
	rd_sink_init(out, true, 0);
	rd_sink_init(err, true, 0);
	rd_reader_open_cred(r, s, NULL, with_secret ? s->secret : (const uint8_t *) "", with_secret ? s->secret_len : 0,
			    cred, out, err);
	rd_reader_drain(r);
}

START_TEST(test_sessions_belong_to_their_principal)
{
	runner_client *alice = as_client(ad.d.tcp_url, TOKEN_ALICE), *bob = as_client(ad.d.tcp_url, TOKEN_BOB);
	runner_client *root = as_client(ad.d.ipc_url, NULL);
	runner_credentials as_alice = { .token = TOKEN_ALICE }, as_bob = { .token = TOKEN_BOB };
	rd_session s, mine;
	rd_sink out, err;
	rd_reader r;
	ctl_result cr;
	rd_cmd cmd;

	rd_cmd_init(&cmd);
	rd_cmd_argv(&cmd, "cat", NULL);
	rd_start_pipes(alice, &cmd, "alice-key", NULL, &s);

	/* To bob it does not exist: not in List, and every call, attach
	 * included, is NOT_FOUND. His write never reaches the process. */
	assert_hidden(bob, &s);
	attach(&s, &as_bob, false, &out, &err, &r);
	rd_assert_final_code(r.last, RUNNER_NOT_FOUND);
	rd_reader_close(&r);
	/* Nor to another uid, by id or by a prefix of it (runnerctl). */
	char prefix[9];
	snprintf(prefix, sizeof(prefix), "%.8s", s.id);
	as_ctl_as(&cr, OTHER_UID, ad.d.ipc_url, NULL, "write", s.id, NULL);
	ctl_assert_status(&cr, 70);
	ck_assert_msg(strstr(cr.err, "NOT_FOUND") != NULL, "%s", cr.err);
	ctl_result_free(&cr);
	as_ctl_as(&cr, OTHER_UID, ad.d.ipc_url, NULL, "attach", prefix, NULL);
	ctl_assert_status(&cr, 70);
	ck_assert_msg(strstr(cr.err, "NOT_FOUND: no session whose id starts with") != NULL, "%s", cr.err);
	ctl_result_free(&cr);
	as_ctl_as(&cr, OTHER_UID, ad.d.ipc_url, NULL, "ps", "--json", NULL);
	ctl_assert_status(&cr, 0);
	ck_assert_str_eq(cr.out, "[]\n");
	ctl_result_free(&cr);
	/* An idempotency key is per principal: bob's is another session. */
	rd_start_pipes(bob, &cmd, "alice-key", NULL, &mine);
	ck_assert(!mine.existing && strcmp(mine.id, s.id) != 0);
	ck_assert_uint_eq(rd_close_stdin(bob, mine.id), 0);

	/* alice writes; what the process printed, read by id without the
	 * secret (ReadOutput takes nothing away), holds her bytes and no one
	 * else's. */
	ck_assert_uint_eq(rd_write_stdin(alice, s.id, 0, "hello\n", 6), 6);
	ck_assert_uint_eq(rd_close_stdin(alice, s.id), 6);
	runner__v1__wait_response__free_unpacked(rd_wait(alice, s.id, 10000), NULL);
	Runner__V1__ReadOutputRequest ro = RUNNER__V1__READ_OUTPUT_REQUEST__INIT;
	Runner__V1__ReadOutputResponse *rr = NULL;
	runner_status st;
	ro.session_id = s.id;
	ck_assert_msg(runner_read_output(alice, &ro, &rr, 5000, &st) == 0, "%s", st.message);
	rd_assert_output(rr->stdout, "hello\n", "alice's stdout");
	runner__v1__read_output_response__free_unpacked(rr, NULL);

	/* An administrator sees it, and reads its stream by id (root, over
	 * the ipc stream socket, by its uid). */
	Runner__V1__ListResponse *l = rd_list(root, NULL);
	ck_assert_ptr_nonnull(rd_list_find(l, s.id));
	runner__v1__list_response__free_unpacked(l, NULL);
	rd_session on_ipc = s;
	ck_assert_int_eq(runner_stream_address(ad.d.ipc_url, on_ipc.stream_address, sizeof(on_ipc.stream_address),
					       NULL), 0);
	attach(&on_ipc, NULL, false, &out, &err, &r);
	rd_assert_exited(rd_assert_final_result(r.last), 0);
	rd_sink_assert_eq(&out, "hello\n", 6, "the administrator's stdout");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);

	/* So does its owner; and with the secret, a bearer capability, so
	 * does bob. (The bytes the first reader acknowledged may be gone:
	 * each attach must end with the result.) */
	attach(&s, &as_alice, false, &out, &err, &r);
	rd_assert_exited(rd_assert_final_result(r.last), 0);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	attach(&s, &as_bob, true, &out, &err, &r);
	rd_assert_exited(rd_assert_final_result(r.last), 0);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	ck_assert(!as_file_has(ad.audit, "injected") && !as_file_has(ad.log, "injected"));

	/* The operator learns who tried. */
	json_t *lines = as_audit_lines(&ad);
	json_t *tried = as_audit_find(lines, "refused", "principal", "bob");
	ck_assert_ptr_nonnull(tried);
	ck_assert_str_eq(as_str(tried, "sessionId"), s.id);
	ck_assert_str_eq(as_str(tried, "code"), "NOT_FOUND");
	json_decref(lines);
	runner_client_close(alice);
	runner_client_close(bob);
	runner_client_close(root);
}
END_TEST

/* ---- the config ------------------------------------------------------------ */

START_TEST(test_principals_config_checked)
{
	static const char *const bad[][2] = {
		{ "  - name: p\n    uids: [7]\n    profiles: [nope]\n", "principal p: profiles: no profile \"nope\"" },
		{ "  - name: p\n    profiles: [default]\n", "principal p: nothing identifies it" },
		{ "  - name: p\n    token_sha256: [abc]\n    profiles: [default]\n",
		  "principal p: token_sha256: \"abc\" is not 64 hex digits" },
		{ "  - name: p\n    users: [no-such-user-xyz]\n    profiles: [default]\n",
		  "principal p: users: no user \"no-such-user-xyz\"" },
		{ "  - name: p\n    uids: [7]\n    profiles: [default]\n    default_profile: other\n",
		  "principal p: default_profile: \"other\" is not among its profiles" },
		{ "  - name: p\n    uids: [7]\n    profiles: [default]\n    quotas: {rate: fast}\n",
		  "principal p: quotas.rate: \"fast\" is not N/s, N/m or N/h" },
		{ "  - name: p\n    uids: [7]\n    profiles: [default]\n  - name: p\n    uids: [8]\n    profiles: [default]\n",
		  "principal p: defined twice" },
	};
	char text[2048], out[8192], h[65];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "profiles:\n  - name: default\n    backend: exec\n  - name: other\n    backend: exec\n"
			 "principals:\n%s",
			 bad[i][0]);
		ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
		ck_assert_msg(strstr(out, bad[i][1]) != NULL, "case %zu: %s", i, out);
	}
	as_sha256_hex("t", h);
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: default\n    backend: exec\n"
		 "principals:\n  - name: a\n    token_sha256: [%s]\n    profiles: [default]\n"
		 "  - name: b\n    token_sha256: [%s]\n    profiles: [default]\n", h, h);
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "principals a and b: the same token_sha256") != NULL, "%s", out);

	/* A good one is described, principal by principal. */
	config(text, sizeof(text));
	ck_assert_int_eq(rd_check_config(text, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "principal root: uid 0; profiles: all; admin: every session") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "principal alice: 1 token(s); profiles: default, second (default second); own "
				  "sessions") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "principal limited: 1 token(s); profiles: default; own sessions; at most 1 Runs; "
				  "at most 1 running sessions") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "at most 5 requests per second") != NULL, "%s", out);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = rd_tcase("principals");
	TCase *plain = rd_tcase("config");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ipc_uid_admitted_or_dropped);
	tcase_add_test(tc, test_ipc_listener_survives_refused_churn);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_profile_grants);
	tcase_add_test(tc, test_file_grants);
	tcase_add_test(tc, test_quota_concurrent_runs);
	tcase_add_test(tc, test_quota_sessions);
	tcase_add_test(tc, test_quota_rate);
	tcase_add_test(tc, test_sessions_belong_to_their_principal);
	suite_add_tcase(s, tc);
	tcase_add_test(plain, test_principals_config_checked);
	suite_add_tcase(s, plain);
	return s;
}

int
main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_auth: needs root (other uids through setpriv)\n");
		return 77;
	}
	return rd_run_suite(make_suite);
}
