/* test_session_lifecycle — how sessions end against a real runnerd: the
 * idle TTL, retention, the session limit, runnerd's shutdown with a reader
 * attached, and cleanup after runnerd crashed. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "session_support.h"

typedef Runner__V1__ListResponse ListResponse;
typedef Runner__V1__SessionInfo SessionInfo;

static void
start_with(rd_daemon *d, const char *const *args)
{
	rd_options o = { .args = args };

	rd_start(d, &o);
}

/* 15. --idle-ttl 1s: an untouched session is killed (KILLED); one written
 * to regularly, and one with a reader attached, live on. */
START_TEST(test_idle_ttl)
{
	static const char *const args[] = { "--idle-ttl", "1s", NULL };
	rd_session idle, written, watched;
	const SessionInfo *i;
	runner_client *cl;
	rd_sink out, err;
	ListResponse *l;
	uint64_t off = 0;
	rd_reader r;
	rd_daemon d;
	int64_t end;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &idle, "sleep", "100", NULL);
	rd_start_argv(cl, &written, "cat", NULL);
	rd_start_argv(cl, &watched, "sleep", "100", NULL);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &watched, &out, &err);

	end = rd_now_ms() + 2500;
	while (rd_now_ms() < end) {
		off = rd_write_stdin(cl, written.id, off, "tick\n", 5);
		rd_sleep_ms(400);
	}
	/* List does not touch sessions. */
	l = rd_list(cl, NULL);
	i = rd_list_find(l, idle.id);
	ck_assert_ptr_nonnull(i);
	ck_assert_msg(strcmp(i->state, "exited") == 0, "an idle session is \"%s\" 2.5 s into a 1 s idle TTL",
		      i->state);
	ck_assert_ptr_nonnull(i->result);
	ck_assert_msg(i->result->reason == RUNNER__V1__TERMINATION__KILLED,
		      "idle session ended with reason %d, want KILLED", i->result->reason);
	ck_assert_int_eq(i->result->signal, SIGTERM);
	ck_assert_str_eq(rd_list_find(l, written.id)->state, "running");
	ck_assert_str_eq(rd_list_find(l, watched.id)->state, "running");
	runner__v1__list_response__free_unpacked(l, NULL);
	ck_assert_int_eq(rd_reader_step(&r, 0), -1); /* nothing came to the watcher */

	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* --retention 1s: a finished session is collected after it, and its
 * idempotency key is free again. */
START_TEST(test_retention)
{
	static const char *const args[] = { "--retention", "1s", NULL };
	Runner__V1__WaitResponse *w;
	runner_client *cl;
	rd_session s, again;
	ListResponse *l;
	runner_status st;
	rd_daemon d;
	rd_cmd c;
	int code;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL);
	rd_start_pipes(cl, &c, "retained-key", NULL, &s);
	w = rd_wait(cl, s.id, 5000);
	rd_assert_exited(w->result, 0);
	runner__v1__wait_response__free_unpacked(w, NULL);
	/* Within the retention: still there. */
	rd_sleep_ms(300);
	w = rd_wait(cl, s.id, 1000);
	runner__v1__wait_response__free_unpacked(w, NULL);

	rd_sleep_ms(1700);
	code = rd_wait_code(cl, s.id, 1000, NULL, &st);
	rd_assert_code(code, RUNNER_NOT_FOUND, &st);
	l = rd_list(cl, NULL);
	ck_assert_ptr_null(rd_list_find(l, s.id));
	runner__v1__list_response__free_unpacked(l, NULL);
	rd_start_pipes(cl, &c, "retained-key", NULL, &again);
	ck_assert(!again.existing);
	ck_assert_str_ne(again.id, s.id);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* 17. --max-sessions 2: the third StartPipes is RESOURCE_EXHAUSTED (a
 * repeated key still finds its session). */
START_TEST(test_session_limit)
{
	static const char *const args[] = { "--max-sessions", "2", NULL };
	rd_session a, b, c3;
	runner_client *cl;
	runner_status st;
	rd_daemon d;
	rd_cmd c;
	int code;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "sleep", "100", NULL);
	rd_start_pipes(cl, &c, "limit-a", NULL, &a);
	rd_start_pipes(cl, &c, NULL, NULL, &b);
	code = rd_start_pipes_code(cl, &c, NULL, NULL, &c3, &st);
	rd_assert_code(code, RUNNER_RESOURCE_EXHAUSTED, &st);
	code = rd_start_pipes_code(cl, &c, "limit-new", NULL, &c3, &st);
	rd_assert_code(code, RUNNER_RESOURCE_EXHAUSTED, &st);
	rd_start_pipes(cl, &c, "limit-a", NULL, &c3);
	ck_assert(c3.existing);
	ck_assert_str_eq(c3.id, a.id);
	rd_assert_echo_ok(cl); /* Run is not a session */
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* 19. SIGTERM to runnerd with a reader attached to a running session: the
 * reader's last frame says UNAVAILABLE with a KILLED result; exit 0. */
START_TEST(test_shutdown_with_reader)
{
	const RunResult *res;
	runner_client *cl;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;
	int status;

	rd_start(&d, NULL);
	cl = rd_client(d.ipc_url);
	rd_start_shell(cl, &s, "echo ready; exec sleep 100");
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	rd_reader_until_out(&r, 6); /* attached for sure */
	ck_assert_str_eq(rd_sink_str(&out), "ready\n");
	runner_client_close(cl);

	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	rd_reader_drain(&r);
	ck_assert_msg(r.last->code == RUNNER__V1__STATUS_CODE__UNAVAILABLE,
		      "last frame code %s (\"%s\") at shutdown, want UNAVAILABLE",
		      runner_status_code_name(r.last->code), r.last->message ? r.last->message : "");
	res = r.last->result;
	ck_assert_msg(res != NULL, "the shutdown frame carries no result");
	ck_assert_msg(res->reason == RUNNER__V1__TERMINATION__KILLED, "reason %d, want KILLED",
		      res->reason);
	ck_assert_int_eq(res->signal, SIGTERM);
	ck_assert_uint_eq(res->stdout_total, 6);

	status = rd_wait_exit(&d, 10000);
	ck_assert_msg(status != -1, "runnerd still running 10 s after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "runnerd exit status 0x%x after SIGTERM, want exit 0", (unsigned) status);
	ck_assert_msg(!rd_pid_alive(s.pid), "the session's process %d outlived runnerd", s.pid);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	rd_stop(&d);
}
END_TEST

/* The process state letter from /proc/<pid>/stat, or 0 when it is gone. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' ? p[2] : 0;
}

/* runnerd's spawner processes (run/spawner.h): its children named
 * runnerd-spawner. */
static int
spawners_of(pid_t daemon, pid_t *out, int max)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert(dir != NULL);
	while ((e = readdir(dir)) != NULL && n < max) {
		char path[300], buf[512], *p;
		int ppid = 0;
		FILE *f;
		size_t len;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		if (strstr(buf, "(runnerd-spawner)") == NULL || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %d", &ppid) != 1 || ppid != daemon)
			continue;
		out[n++] = (pid_t) atoi(e->d_name);
	}
	closedir(dir);
	return n;
}

/* 20a. runnerd SIGKILLed: its spawners see their channel close and kill
 * what they started at once — nothing waits for a restart. */
START_TEST(test_killed_daemon_takes_its_commands)
{
	runner_client *cl;
	rd_session s;
	rd_daemon d;
	int64_t end;

	rd_start(&d, NULL);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &s, "sh", "-c", "sleep 100 & exec sleep 100", NULL);
	runner_client_close(cl);
	ck_assert_int_gt(s.pid, 0);
	ck_assert(rd_pid_alive(s.pid));
	ck_assert(WIFSIGNALED(rd_kill(&d, SIGKILL)));
	end = rd_now_ms() + 3000;
	while (rd_pid_alive(s.pid) && rd_now_ms() < end)
		rd_sleep_ms(20);
	ck_assert_msg(!rd_pid_alive(s.pid), "runnerd's command outlived it by 3 s");
	rd_stop(&d);
}
END_TEST

/* 20b. After runnerd and its spawners were SIGKILLed together (nothing
 * of it left to clean up), a runnerd restarted on the same socket kills
 * what they left running (the ledger). */
START_TEST(test_crash_cleanup)
{
	Runner__V1__StreamFrame *f = NULL;
	runner_status st = { 0 };
	runner_client *cl;
	rd_sink out, err;
	rd_session s;
	rd_reader r;
	rd_daemon d;
	int64_t end, t0;
	int status, rv, n;
	pid_t spawners[32];
	char state;

	rd_start(&d, NULL);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &s, "sleep", "100", NULL);
	runner_client_close(cl);
	ck_assert_int_gt(s.pid, 0);
	ck_assert(rd_pid_alive(s.pid));
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &s, &out, &err);
	ck_assert_int_eq(rd_reader_step(&r, 200), -1);

	ck_assert_int_gt(n = spawners_of(d.pid, spawners, 32), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(kill(spawners[i], SIGSTOP), 0);
	status = rd_kill(&d, SIGKILL);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	for (int i = 0; i < n; i++)
		kill(spawners[i], SIGKILL);
	/* The orphan lives on: this is what the restart must clean up. */
	rd_sleep_ms(100);
	ck_assert_msg(rd_pid_alive(s.pid), "the session's sleep died with runnerd; nothing to test");

	rd_restart(&d, NULL);
	end = rd_now_ms() + 2000;
	while (rd_pid_alive(s.pid) && rd_now_ms() < end)
		rd_sleep_ms(20);
	state = proc_state(s.pid);
	ck_assert_msg(state == 0 || state == 'Z' || state == 'X',
		      "the crashed runnerd's sleep (pid %d) is still running (state %c) 2 s after the "
		      "restart", s.pid, state);
	ck_assert(kill(s.pid, 0) != 0 ? errno == ESRCH : state == 'Z' || state == 'X');

	/* The reader attached to the crashed daemon learns promptly that its
	 * session is gone: it re-attaches to the restarted runnerd (it must not
	 * wait on a new connection that carries no attach), which answers with
	 * a last frame NOT_FOUND — or, if it cannot re-attach, UNAVAILABLE. */
	t0 = rd_now_ms();
	rv = runner_stream_next(r.rs, &f, 5000, &st);
	ck_assert_msg((rv < 0 && st.code == RUNNER_UNAVAILABLE) ||
			      (rv == 0 && f->last && f->code == RUNNER__V1__STATUS_CODE__NOT_FOUND &&
			       f->data.len == 0),
		      "a reader of the crashed runnerd got %s (%s), want a last frame NOT_FOUND or UNAVAILABLE",
		      rv < 0 ? runner_status_code_name(st.code) : runner_status_code_name(f->code),
		      rv < 0 ? st.message : f->message);
	if (rv == 0)
		runner__v1__stream_frame__free_unpacked(f, NULL);
	ck_assert_msg(rd_now_ms() - t0 < 3000, "the answer came only after %lld ms",
		      (long long) (rd_now_ms() - t0));
	rd_reader_close(&r);

	/* The restarted daemon serves. */
	cl = rd_client(d.ipc_url);
	rd_assert_health(cl);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("session_lifecycle");
	TCase *tc = rd_tcase("own_daemon");

	tcase_add_test(tc, test_idle_ttl);
	tcase_add_test(tc, test_retention);
	tcase_add_test(tc, test_session_limit);
	tcase_add_test(tc, test_shutdown_with_reader);
	tcase_add_test(tc, test_killed_daemon_takes_its_commands);
	tcase_add_test(tc, test_crash_cleanup);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
