/* terminal_support.c — PTY sessions in tests; see terminal_support.h. */
#include "terminal_support.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

void
tt_start(tt_term *t, runner_client *cl, const char *profile, unsigned rows, unsigned cols,
	 const char *term, const char *shell)
{
	Runner__V1__Terminal tm = RUNNER__V1__TERMINAL__INIT;
	rd_cmd c;

	memset(t, 0, sizeof(*t));
	rd_cmd_init(&c);
	rd_cmd_shell(&c, shell);
	if (profile != NULL)
		c.spec.profile = (char *) profile;
	tm.rows = rows;
	tm.cols = cols;
	if (term != NULL)
		tm.term = (char *) term;
	c.spec.terminal = &tm;
	rd_start_pipes(cl, &c, NULL, NULL, &t->s);
	rd_sink_init(&t->out, true, 0);
	rd_sink_init(&t->err, true, 0);
	rd_reader_open_pty(&t->r, &t->s, &t->out, &t->err);
	t->open = true;
}

void
tt_expect(tt_term *t, const char *want)
{
	while (strstr(rd_sink_str(&t->out), want) == NULL) {
		int rv = rd_reader_step(&t->r, RD_FRAME_TIMEOUT_MS);

		ck_assert_msg(rv >= 0, "no output within %d ms waiting for \"%s\"; the terminal showed: \"%s\"",
			      RD_FRAME_TIMEOUT_MS, want, rd_sink_str(&t->out));
		ck_assert_msg(rv != 0, "the session ended before \"%s\" showed; the terminal showed: \"%s\"", want,
			      rd_sink_str(&t->out));
	}
}

void
tt_type(tt_term *t, runner_client *cl, const char *text)
{
	Runner__V1__ListResponse *l = rd_list(cl, NULL);
	const Runner__V1__SessionInfo *i = rd_list_find(l, t->s.id);

	ck_assert_ptr_nonnull(i);
	rd_write_stdin(cl, t->s.id, i->stdin_bytes, text, strlen(text));
	runner__v1__list_response__free_unpacked(l, NULL);
}

const RunResult *
tt_finish(tt_term *t)
{
	const RunResult *res = rd_assert_final_result(rd_reader_drain(&t->r));

	ck_assert_uint_eq(res->pty_total, t->out.end);
	ck_assert_uint_eq(res->stdout_total, 0);
	ck_assert_uint_eq(res->pty.len, 0); /* the bytes came in frames */
	return res;
}

void
tt_close(tt_term *t)
{
	if (!t->open)
		return;
	rd_reader_close(&t->r);
	rd_sink_free(&t->out);
	rd_sink_free(&t->err);
	t->open = false;
}

int
tt_resize_code(runner_client *cl, const char *id, unsigned rows, unsigned cols, runner_status *st)
{
	Runner__V1__ResizeRequest req = RUNNER__V1__RESIZE_REQUEST__INIT;
	Runner__V1__ResizeResponse *resp = NULL;
	int rv;

	req.session_id = (char *) id;
	req.rows = rows;
	req.cols = cols;
	rv = runner_resize(cl, &req, &resp, RD_SESSION_CALL_MS, st);
	if (resp != NULL)
		runner__v1__resize_response__free_unpacked(resp, NULL);
	return rv == 0 ? RUNNER_OK : st->code;
}

static void
assert_exited(const RunResult *r, int code, const char *what)
{
	ck_assert_msg(r->reason == RUNNER__V1__TERMINATION__EXITED && r->exit_code == code,
		      "%s: reason %d exit %d signal %d (%s), want exit %d", what, r->reason, r->exit_code, r->signal,
		      r->exec_error ? r->exec_error : "", code);
}

void
tt_check_backend(runner_client *cl, const char *profile)
{
	runner_status st;
	tt_term t;
	const RunResult *r;

	/* One terminal at fds 0-2, named, sized, with its TERM. */
	tt_start(&t, cl, profile, 30, 100, NULL,
		 "tty; stty size; echo \"TERM=$TERM\"; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo ALL-TTY; "
		 "echo err >&2; exit 3");
	r = tt_finish(&t);
	assert_exited(r, 3, "info");
	ck_assert_msg(strstr(rd_sink_str(&t.out), "/dev/pts/") != NULL, "tty: %s", rd_sink_str(&t.out));
	ck_assert_msg(strstr(rd_sink_str(&t.out), "\r\n30 100\r\nTERM=xterm\r\nALL-TTY\r\nerr\r\n") != NULL,
		      "terminal showed: \"%s\"", rd_sink_str(&t.out));
	ck_assert_uint_eq(t.err.end, 0);
	tt_close(&t);

	/* Resize: SIGWINCH to the foreground group, the new size seen. */
	tt_start(&t, cl, profile, 0, 0, NULL,
		 "stty size; trap 'stty size; exit 5' WINCH; echo READY; while :; do sleep 0.05; done");
	tt_expect(&t, "READY");
	ck_assert_msg(strstr(rd_sink_str(&t.out), "24 80\r\n") != NULL, "default size: %s", rd_sink_str(&t.out));
	ck_assert_int_eq(tt_resize_code(cl, t.s.id, 40, 120, &st), RUNNER_OK);
	tt_expect(&t, "40 120\r\n");
	assert_exited(tt_finish(&t), 5, "resize");
	ck_assert_int_eq(tt_resize_code(cl, t.s.id, 41, 121, &st), RUNNER_FAILED_PRECONDITION);
	tt_close(&t);

	/* Typed input: echoed by the terminal, a line at a time to the
	 * program, ^D its end of file. */
	tt_start(&t, cl, profile, 0, 0, NULL, "echo READY; cat; echo \"cat ended $?\"");
	tt_expect(&t, "READY");
	tt_type(&t, cl, "hello\n");
	tt_expect(&t, "hello\r\nhello\r\n");
	tt_type(&t, cl, "\x04");
	tt_expect(&t, "cat ended 0");
	assert_exited(tt_finish(&t), 0, "cat");
	tt_close(&t);

	/* ^C: SIGINT to the foreground group, as a terminal sends it. */
	tt_start(&t, cl, profile, 0, 0, NULL, "echo READY; exec sleep 100");
	tt_expect(&t, "READY");
	tt_type(&t, cl, "\x03");
	r = tt_finish(&t);
	ck_assert_msg(r->reason == RUNNER__V1__TERMINATION__SIGNALED && r->signal == SIGINT,
		      "^C: reason %d exit %d signal %d", r->reason, r->exit_code, r->signal);
	tt_close(&t);

	/* Signal reaches the command, which leads a session of its own.
	 * (TERM: firejail itself dies of signals it does not catch.) */
	tt_start(&t, cl, profile, 0, 0, NULL,
		 "trap 'echo GOT-TERM; exit 9' TERM; echo READY; while :; do sleep 0.05; done");
	tt_expect(&t, "READY");
	ck_assert_int_eq(rd_signal_code(cl, t.s.id, SIGTERM, &st), RUNNER_OK);
	tt_expect(&t, "GOT-TERM");
	assert_exited(tt_finish(&t), 9, "signal");
	tt_close(&t);
}
