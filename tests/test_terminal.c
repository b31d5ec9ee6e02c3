/* test_terminal — commands on a terminal (CommandSpec.terminal) against a
 * real runnerd: PTY sessions on the exec and firejail backends (what every
 * backend must do: terminal_support.h), Run with a terminal and its cap,
 * TERM, the errors, and the PTY stream's backpressure, retention and
 * reattach. (The docker backend: test_terminal_docker.c; runnerctl exec -it
 * through a real terminal: test_runnerctl_tty.py.) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terminal_support.h"

static rd_daemon d;
static runner_client *cl;

#define SESSION_BUFFER (64 * 1024)

static void
setup(void)
{
	static char buffer[32];
	static const char *args[] = { "--config", NULL, "--session-buffer", buffer, NULL };
	static char cfg[300];
	char dir[256];
	rd_options o = { .args = args };
	const char *text = "default_profile: plain\n"
			   "profiles:\n"
			   "  - name: plain\n"
			   "    backend: exec\n"
			   "  - name: capped\n"
			   "    backend: exec\n"
			   "    limits:\n"
			   "      stdout: 64K\n"
			   "  - name: sandboxed\n"
			   "    backend: firejail\n"
			   "  - name: nobody\n"
			   "    backend: exec\n"
			   "    user: nobody\n";

	rd_mkdtemp(dir);
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", dir);
	rd_write_file(cfg, text, strlen(text), 0600);
	snprintf(buffer, sizeof(buffer), "%d", SESSION_BUFFER);
	args[1] = cfg;
	rd_start(&d, &o);
	cl = rd_client(d.ipc_url);
}

static void
teardown(void)
{
	runner_client_close(cl);
	rd_stop_ok(&d);
}

START_TEST(test_exec_backend)
{
	tt_check_backend(cl, NULL);
}
END_TEST

START_TEST(test_firejail_backend)
{
	tt_check_backend(cl, "sandboxed");
}
END_TEST

/* A Run with a terminal of rows x cols and the given stdin. */
static Runner__V1__RunResponse *
run_on_terminal(const char *profile, unsigned rows, unsigned cols, uint64_t pty_limit, const char *in,
		const char *shell, int *code, runner_status *st)
{
	Runner__V1__Terminal tm = RUNNER__V1__TERMINAL__INIT;
	Runner__V1__RunResponse *resp = NULL;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	c.spec.profile = (char *) profile;
	c.spec.terminal = &tm;
	c.spec.pty_limit = pty_limit;
	tm.rows = rows;
	tm.cols = cols;
	if (in != NULL)
		rd_cmd_stdin(&c, in, strlen(in));
	*code = runner_run(cl, &c.req, &resp, RD_CALL_DEADLINE_MS, st) == 0 ? RUNNER_OK : st->code;
	return resp;
}

static Runner__V1__RunResponse *
run_ok(const char *profile, unsigned rows, unsigned cols, uint64_t pty_limit, const char *in, const char *shell)
{
	runner_status st;
	int code;
	Runner__V1__RunResponse *resp = run_on_terminal(profile, rows, cols, pty_limit, in, shell, &code, &st);

	ck_assert_msg(code == RUNNER_OK && resp != NULL && resp->result != NULL, "Run: %s: %s",
		      runner_status_code_name(code), st.message);
	return resp;
}

static const char *
pty_text(const Runner__V1__RunResult *r)
{
	static char buf[8192];
	size_t n = r->pty.len < sizeof(buf) - 1 ? r->pty.len : sizeof(buf) - 1;

	memcpy(buf, r->pty.data, n);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_run_with_terminal)
{
	Runner__V1__RunResponse *resp;
	const Runner__V1__RunResult *r;
	runner_status st;
	int code;

	/* The terminal's output in pty, nothing in stdout. */
	resp = run_ok("plain", 50, 132, 0, NULL, "tty; stty size; echo out; echo err >&2; exit 4");
	r = resp->result;
	rd_assert_exited(r, 4);
	ck_assert_msg(strncmp(pty_text(r), "/dev/pts/", 9) == 0, "%s", pty_text(r));
	ck_assert_msg(strstr(pty_text(r), "\r\n50 132\r\nout\r\nerr\r\n") != NULL, "%s", pty_text(r));
	ck_assert_uint_eq(r->pty_total, r->pty.len);
	ck_assert(!r->pty_truncated);
	ck_assert_uint_eq(r->stdout.len + r->stderr.len + r->stdout_total + r->stderr_total, 0);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* stdin is typed at the terminal: echoed, read a line at a time, ^D
	 * the end of input; exactly what a screen would show. */
	resp = run_ok("plain", 0, 0, 0, "abc\n\x04", "cat");
	rd_assert_exited(resp->result, 0);
	rd_assert_bytes(resp->result->pty, "abc\r\nabc\r\n", 10, "pty");
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* The cap: the first pty_limit bytes, everything counted. */
	resp = run_ok("plain", 0, 0, 5, NULL, "seq 1000");
	rd_assert_bytes(resp->result->pty, "1\r\n2\r", 5, "pty");
	ck_assert(resp->result->pty_truncated);
	ck_assert_uint_eq(resp->result->pty_total, 4893); /* 3893 bytes, each \n as \r\n */
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* By default the stdout cap applies; the profile's may not be exceeded. */
	resp = run_ok("capped", 0, 0, 0, NULL, "head -c 100000 /dev/zero");
	ck_assert_uint_eq(resp->result->pty.len, 65536);
	ck_assert_uint_eq(resp->result->pty_total, 100000);
	ck_assert(resp->result->pty_truncated);
	runner__v1__run_response__free_unpacked(resp, NULL);
	resp = run_on_terminal("capped", 0, 0, 65537, NULL, "true", &code, &st);
	rd_assert_code(code, RUNNER_PERMISSION_DENIED, &st);
	ck_assert_msg(strstr(st.message, "command.pty_limit") != NULL, "%s", st.message);
	ck_assert_ptr_null(resp);

	/* Exact status: killed by a signal on a terminal is SIGNALED. */
	resp = run_ok("plain", 0, 0, 0, NULL, "kill -9 $$");
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGKILL);
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* A command run as another user owns its terminal, as after a login. */
	resp = run_ok("nobody", 0, 0, 0, NULL, "id -u; stat -c %u \"$(tty)\"");
	rd_assert_exited(resp->result, 0);
	ck_assert_str_eq(pty_text(resp->result), "65534\r\n65534\r\n");
	runner__v1__run_response__free_unpacked(resp, NULL);

	/* The same on firejail. */
	resp = run_ok("sandboxed", 25, 90, 0, "x\n", "head -n 1; stty size; kill -TERM $$");
	ck_assert_int_eq(resp->result->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(resp->result->signal, SIGTERM);
	ck_assert_msg(strcmp(pty_text(resp->result), "x\r\nx\r\n25 90\r\n") == 0, "%s", pty_text(resp->result));
	runner__v1__run_response__free_unpacked(resp, NULL);
}
END_TEST

/* Start a PTY session with raw spec fields; returns the StartPipes code. */
static int
start_code(const Runner__V1__Terminal *tm, const char *env_term, const char *shell, rd_session *s,
	   runner_status *st)
{
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	if (env_term != NULL)
		rd_cmd_env(&c, "TERM", env_term);
	c.spec.terminal = (Runner__V1__Terminal *) tm;
	return rd_start_pipes_code(cl, &c, NULL, NULL, s, st);
}

/* What `echo [$TERM]` shows on a terminal `tm`, with the request's env
 * TERM `env_term`. */
static const char *
term_seen(const Runner__V1__Terminal *tm, const char *env_term)
{
	static char seen[128];
	rd_session s;
	runner_status st;
	rd_reader r;
	rd_sink out, err;

	ck_assert_int_eq(start_code(tm, env_term, "echo \"[$TERM]\"", &s, &st), RUNNER_OK);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open_pty(&r, &s, &out, &err);
	rd_reader_drain(&r);
	snprintf(seen, sizeof(seen), "%s", rd_sink_str(&out));
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	return seen;
}

START_TEST(test_term_and_errors)
{
	Runner__V1__Terminal tm = RUNNER__V1__TERMINAL__INIT;
	const Runner__V1__SessionInfo *info;
	Runner__V1__ListResponse *l;
	rd_session pipes, s;
	runner_status st;
	tt_term t;

	/* TERM: the terminal's, else the request's env, else xterm. */
	tm.term = "vt100";
	ck_assert_str_eq(term_seen(&tm, "screen"), "[vt100]\r\n");
	tm.term = "";
	ck_assert_str_eq(term_seen(&tm, "screen"), "[screen]\r\n");

	/* Refused: a TERM a program could misread, a window too large. */
	tm.term = "xterm;rm";
	rd_assert_code(start_code(&tm, NULL, "true", &s, &st), RUNNER_INVALID_ARGUMENT, &st);
	ck_assert_msg(strstr(st.message, "terminal.term") != NULL, "%s", st.message);
	tm.term = "";
	tm.rows = 70000;
	rd_assert_code(start_code(&tm, NULL, "true", &s, &st), RUNNER_INVALID_ARGUMENT, &st);
	tm.rows = 0;

	/* Resize: only sessions with a terminal, only sizes a terminal has. */
	rd_start_argv(cl, &pipes, "sleep", "100", NULL);
	rd_assert_code(tt_resize_code(cl, pipes.id, 30, 80, &st), RUNNER_FAILED_PRECONDITION, &st);
	ck_assert_msg(strstr(st.message, "no terminal") != NULL, "%s", st.message);
	rd_assert_code(tt_resize_code(cl, "no-such-session", 30, 80, &st), RUNNER_NOT_FOUND, &st);
	tt_start(&t, cl, NULL, 0, 0, NULL, "echo READY; cat");
	tt_expect(&t, "READY");
	rd_assert_code(tt_resize_code(cl, t.s.id, 0, 80, &st), RUNNER_INVALID_ARGUMENT, &st);
	rd_assert_code(tt_resize_code(cl, t.s.id, 30, 65536, &st), RUNNER_INVALID_ARGUMENT, &st);
	ck_assert_int_eq(tt_resize_code(cl, t.s.id, 33, 99, &st), RUNNER_OK);

	/* List: the terminal with its current size, and its output count. */
	l = rd_list(cl, NULL);
	info = rd_list_find(l, t.s.id);
	ck_assert_ptr_nonnull(info);
	ck_assert_ptr_nonnull(info->terminal);
	ck_assert_uint_eq(info->terminal->rows, 33);
	ck_assert_uint_eq(info->terminal->cols, 99);
	ck_assert_str_eq(info->terminal->term, "xterm");
	ck_assert_uint_eq(info->pty_bytes, t.out.end);
	ck_assert_uint_eq(info->stdout_bytes, 0);
	ck_assert_ptr_null(rd_list_find(l, pipes.id)->terminal);
	runner__v1__list_response__free_unpacked(l, NULL);

	/* CloseStdin ends the writing, not the terminal: cat runs on. */
	rd_close_stdin(cl, t.s.id);
	{
		uint64_t accepted;
		rd_assert_code(rd_write_stdin_code(cl, t.s.id, 0, "x", 1, &accepted, &st), RUNNER_FAILED_PRECONDITION,
			       &st);
	}
	rd_sleep_ms(200);
	l = rd_list(cl, NULL);
	ck_assert_str_eq(rd_list_find(l, t.s.id)->state, "running");
	runner__v1__list_response__free_unpacked(l, NULL);
	ck_assert_int_eq(rd_signal_code(cl, t.s.id, SIGTERM, &st), RUNNER_OK);
	ck_assert_int_eq(tt_finish(&t)->reason, RUNNER__V1__TERMINATION__KILLED);
	tt_close(&t);
	ck_assert_int_eq(rd_signal_code(cl, pipes.id, SIGKILL, &st), RUNNER_OK);

	/* A program that cannot run is EXEC_FAILED, on a terminal too. */
	{
		rd_cmd c;
		rd_reader r;
		rd_sink out, err;
		const RunResult *res;
		rd_cmd_init(&c);
		rd_cmd_argv(&c, "/nonexistent/program", NULL);
		c.spec.terminal = &tm;
		rd_start_pipes(cl, &c, NULL, NULL, &s);
		ck_assert_int_eq(s.pid, 0);
		rd_sink_init(&out, true, 0);
		rd_sink_init(&err, true, 0);
		rd_reader_open_pty(&r, &s, &out, &err);
		res = rd_assert_final_result(rd_reader_drain(&r));
		ck_assert_int_eq(res->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
		ck_assert_int_eq(res->exec_errno, 2);
		rd_reader_close(&r);
		rd_sink_free(&out);
		rd_sink_free(&err);
	}
}
END_TEST

/* What `seq 1 n` shows on a terminal: each "\n" as "\r\n". */
static char *
seq_on_terminal(unsigned n, size_t *len)
{
	size_t cap = (size_t) n * 10 + 16, used = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (unsigned i = 1; i <= n; i++)
		used += (size_t) snprintf(buf + used, cap - used, "%u\r\n", i);
	*len = used;
	return buf;
}

/* The PTY stream is a session stream like stdout: a full buffer stops the
 * child (nothing dropped), a reader resumes from its offset, and every byte
 * arrives exactly once. */
START_TEST(test_backpressure_and_reattach)
{
	const unsigned n = 100000;
	const Runner__V1__SessionInfo *info;
	Runner__V1__ListResponse *l;
	size_t want_len;
	char *want = seq_on_terminal(n, &want_len);
	rd_sink out, err;
	rd_reader r;
	tt_term t;
	uint64_t held;

	/* Nobody reads: the terminal's output stops at the buffer. */
	tt_start(&t, cl, NULL, 0, 0, NULL, "seq 100000");
	tt_close(&t);
	rd_sleep_ms(1500);
	l = rd_list(cl, NULL);
	info = rd_list_find(l, t.s.id);
	held = info->pty_bytes;
	ck_assert_str_eq(info->state, "running");
	ck_assert_msg(held <= SESSION_BUFFER && held >= SESSION_BUFFER / 2, "held %llu of a %d-byte buffer",
		      (unsigned long long) held, SESSION_BUFFER);
	runner__v1__list_response__free_unpacked(l, NULL);

	/* Read part of it, leave, come back from where we were. */
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open_pty(&r, &t.s, &out, &err);
	rd_reader_until_out(&r, 200000);
	rd_reader_close(&r);
	rd_reader_open_pty(&r, &t.s, &out, &err);
	{
		const RunResult *res = rd_assert_final_result(rd_reader_drain(&r));
		rd_assert_exited(res, 0);
		ck_assert_uint_eq(res->pty_total, want_len);
	}
	rd_sink_assert_eq(&out, want, want_len, "pty");
	rd_reader_close(&r);

	/* A retained offset replays; one below the buffer is OUT_OF_RANGE. */
	rd_sink_free(&out);
	rd_sink_init(&out, true, want_len - 100);
	rd_reader_open_pty(&r, &t.s, &out, &err);
	rd_reader_drain(&r);
	rd_sink_assert_eq(&out, want + want_len - 100, 100, "replay");
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_init(&out, true, 0);
	rd_reader_open_pty(&r, &t.s, &out, &err);
	rd_assert_final_code(rd_reader_drain(&r), RUNNER_OUT_OF_RANGE);
	ck_assert_msg(strstr(r.last->message, "pty offset 0") != NULL, "%s", r.last->message);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
	free(want);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("terminal");
	TCase *tc = rd_tcase("terminal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_exec_backend);
	tcase_add_test(tc, test_firejail_backend);
	tcase_add_test(tc, test_run_with_terminal);
	tcase_add_test(tc, test_term_and_errors);
	tcase_add_test(tc, test_backpressure_and_reattach);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
