/* terminal_support.h — PTY sessions in integration tests: start one, read
 * its terminal until some text shows up, and the scenarios every backend
 * must pass (test_terminal.c runs them on exec and firejail,
 * test_terminal_docker.c on docker). */
#ifndef RUNNERD_TESTS_TERMINAL_SUPPORT_H
#define RUNNERD_TESTS_TERMINAL_SUPPORT_H

#include "session_support.h"

/* A PTY session's terminal as a reader sees it. */
typedef struct tt_term {
	rd_session s;
	rd_reader r;
	rd_sink out, err;
	bool open;
} tt_term;

/* StartPipes of `shell` (/bin/sh -c) under `profile` (NULL: the default)
 * on a rows x cols terminal (0 x 0: the server's default size), then attach
 * a reader (PTY stream into t->out). `term`: Terminal.term (NULL: unset). */
void tt_start(tt_term *t, runner_client *cl, const char *profile, unsigned rows, unsigned cols,
	      const char *term, const char *shell);
/* Read until the terminal has shown `want` (anywhere so far); fails the
 * test when the stream ends or stalls first. */
void tt_expect(tt_term *t, const char *want);
/* Type `text` at the terminal (WriteStdin at the next offset). */
void tt_type(tt_term *t, runner_client *cl, const char *text);
/* Read to the end: the result, asserted present, with pty_total equal to
 * what the reader got and stdout_total 0. */
const RunResult *tt_finish(tt_term *t);
/* Close the reader, free the sinks. */
void tt_close(tt_term *t);

/* Resize, returning the call's code (st filled). */
int tt_resize_code(runner_client *cl, const char *id, unsigned rows, unsigned cols, runner_status *st);

/* What a terminal must do on any backend, under `profile`: fds 0-2 are
 * one terminal with the requested size and TERM, `tty` names it under
 * /dev/pts; Resize reaches the foreground group as SIGWINCH; typed input
 * is echoed, ^D is end of file, ^C interrupts the foreground group; Signal
 * reaches the command; the exit status is exact. */
void tt_check_backend(runner_client *cl, const char *profile);

#endif
