/* test_session_lifecycle — how sessions end against a real runnerd: the
 * idle TTL, retention, the limits of running and of finished sessions (count
 * and output bytes), runnerd's shutdown with a reader attached, and cleanup
 * after runnerd crashed. */
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

/* 17. --max-sessions 2: the third running session is RESOURCE_EXHAUSTED (a
 * repeated key still finds its session); finished sessions do not count. */
START_TEST(test_session_limit)
{
	static const char *const args[] = { "--max-sessions", "2", NULL };
	rd_session a, b, c3, done[2];
	runner_client *cl;
	runner_status st;
	rd_daemon d;
	rd_cmd c, quick;
	int code;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	/* Two exited sessions, retained: they leave room for two running. */
	rd_cmd_init(&quick);
	rd_cmd_argv(&quick, "true", NULL);
	for (int i = 0; i < 2; i++) {
		rd_start_pipes(cl, &quick, NULL, NULL, &done[i]);
		runner__v1__wait_response__free_unpacked(rd_wait(cl, done[i].id, 5000), NULL);
	}
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
	/* One ends: room for one more. */
	ck_assert_int_eq(rd_signal_code(cl, b.id, SIGKILL, &st), RUNNER_OK);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, b.id, 5000), NULL);
	rd_start_pipes(cl, &c, NULL, NULL, &c3);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

/* Wait until `id` is collected (NOT_FOUND), up to 5 s; false if it never is. */
static bool
collected(runner_client *cl, const char *id)
{
	int64_t end = rd_now_ms() + 5000;
	runner_status st;

	do {
		if (rd_wait_code(cl, id, 1000, NULL, &st) == RUNNER_NOT_FOUND)
			return true;
		rd_sleep_ms(50);
	} while (rd_now_ms() < end);
	return false;
}

/* --max-retained 2: a third finished session has the oldest finished one
 * collected — not a running one, not a newer one. */
START_TEST(test_retained_limit)
{
	static const char *const args[] = { "--max-retained", "2", NULL };
	rd_session s[3], running;
	runner_client *cl;
	runner_status st;
	rd_daemon d;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &running, "sleep", "100", NULL);
	for (int i = 0; i < 3; i++) {
		rd_start_argv(cl, &s[i], "echo", "done", NULL);
		runner__v1__wait_response__free_unpacked(rd_wait(cl, s[i].id, 5000), NULL);
	}
	ck_assert_msg(collected(cl, s[0].id), "the oldest finished session was not collected");
	for (int i = 1; i < 3; i++)
		runner__v1__wait_response__free_unpacked(rd_wait(cl, s[i].id, 1000), NULL);
	ck_assert_int_eq(rd_wait_code(cl, running.id, 100, NULL, &st), RUNNER_DEADLINE_EXCEEDED);
	/* The fourth to finish takes the place of the second. */
	ck_assert_int_eq(rd_signal_code(cl, running.id, SIGKILL, &st), RUNNER_OK);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, running.id, 5000), NULL);
	ck_assert_msg(collected(cl, s[1].id), "the second finished session was not collected");
	runner__v1__wait_response__free_unpacked(rd_wait(cl, s[2].id, 1000), NULL);
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

static const Runner__V1__SessionInfo *
info_of(const ListResponse *l, const char *id)
{
	const SessionInfo *i = rd_list_find(l, id);

	ck_assert_msg(i != NULL, "session %s is not listed", id);
	return i;
}

/* --retained-output 3M: two finished sessions of ~2 MB each are over it;
 * the older loses its oldest output (List counts it, a reader from 0 gets
 * OUT_OF_RANGE naming the first retained offset, from there the rest is
 * exact), keeps its result; the newer is untouched. */
START_TEST(test_retained_output_budget)
{
	static const char *const args[] = { "--retained-output", "3M", NULL };
	uint64_t from = 0;
	rd_session old, young;
	runner_client *cl;
	rd_sink out, err;
	ListResponse *l;
	rd_reader r;
	rd_daemon d;
	size_t len;
	char *want = rd_seq_text(300000, &len);
	int64_t end;

	start_with(&d, args);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &old, "seq", "300000", NULL);
	rd_sink_init(&out, false, 0);
	rd_sink_init(&err, false, 0);
	rd_reader_open(&r, &old, &out, &err);
	rd_reader_drain(&r); /* read, but retained: acknowledged bytes stay */
	rd_reader_close(&r);
	rd_start_argv(cl, &young, "seq", "300000", NULL);
	runner__v1__wait_response__free_unpacked(rd_wait(cl, young.id, 10000), NULL);

	end = rd_now_ms() + 5000;
	do {
		l = rd_list(cl, NULL);
		from = info_of(l, old.id)->stdout_retained_from;
		if (from == 0)
			runner__v1__list_response__free_unpacked(l, NULL);
	} while (from == 0 && rd_now_ms() < end && (rd_sleep_ms(50), true));
	ck_assert_msg(from > 0 && from < len, "the older session kept stdout from offset %llu of %zu",
		      (unsigned long long) from, len);
	ck_assert_uint_eq(info_of(l, old.id)->stdout_dropped, 0); /* a reader had them all */
	ck_assert_uint_eq(info_of(l, young.id)->stdout_retained_from, 0);
	ck_assert_uint_eq(info_of(l, young.id)->stdout_bytes, len);
	ck_assert_ptr_nonnull(info_of(l, old.id)->result);
	runner__v1__list_response__free_unpacked(l, NULL);

	/* From 0: OUT_OF_RANGE naming where the retained output starts. */
	rd_sink_init(&out, true, 0);
	rd_reader_open(&r, &old, &out, &err);
	rd_reader_drain(&r);
	rd_assert_final_code(r.last, RUNNER_OUT_OF_RANGE);
	{
		char num[32];
		snprintf(num, sizeof(num), "%llu", (unsigned long long) from);
		ck_assert_msg(strstr(r.last->message, num) != NULL, "message \"%s\" does not name offset %s",
			      r.last->message, num);
	}
	rd_reader_close(&r);
	rd_sink_free(&out);
	/* From there: exactly the rest, and the result. */
	rd_sink_init(&out, true, from);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &old, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_sink_assert_eq(&out, want + from, len - from, "the retained tail of the older session");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	/* The newer one in full. */
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open(&r, &young, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_sink_assert_eq(&out, want, len, "the newer session");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	free(want);
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
	tcase_add_test(tc, test_retained_limit);
	tcase_add_test(tc, test_retained_output_budget);
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
