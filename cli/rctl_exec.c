/* rctl_exec.c — `runnerctl exec` (and run/sh -i): start a session and
 * stand in for its process. Its output is copied to ours as it comes (rctl_watch.c); with
 * -i (or --stdin) a second thread feeds it our input; a third passes the
 * signals we get on to it; a closed stdout sends it SIGPIPE; and its end
 * becomes our exit status, as with `run`. With -t it runs on a terminal
 * instead, and rctl_tty.c stands in for it. */
#include "rctl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "runnerctl"
/* How long the end of exec waits for its threads to finish a call in
 * progress before leaving without tidying up. */
#define JOIN_TIMEOUT_MS 2000
/* Sent by exec to its own forwarder thread: stop. */
#define SIG_QUIT_FORWARDER SIGUSR1

struct exec_threads {
	struct rctl_watch *w;
	/* The input pump. */
	int input_fd; /* -1: none, stdin closed at once */
	int stop[2];  /* written to stop the pump */
	pthread_t pump;
	bool pump_started;
	atomic_int pump_exit; /* > 0 when feeding the input failed */
	/* The signal forwarder. */
	pthread_t forwarder;
	bool forwarder_started;
	atomic_bool quitting;
};

static void *
pump_main(void *arg)
{
	struct exec_threads *t = arg;
	struct rctl_watch *w = t->w;
	runner_stdin_end end = RUNNER_STDIN_CALL_FAILED;
	runner_stdin_writer *in = NULL;
	runner_status st;
	int code = 0;

	if (runner_stdin_writer_open(&in, w->c, w->id, 0, &st) == 0)
		end = runner_stdin_copy(in, t->input_fd, t->stop[0], &st);
	switch (end) {
	case RUNNER_STDIN_EOF:
		if (rctl_close_stdin(w->c, w->id, &st) < 0 && st.code != RUNNER_FAILED_PRECONDITION)
			code = rctl_status_exit(&st);
		break;
	case RUNNER_STDIN_STOPPED: /* the child's end arrived */
		break;
	case RUNNER_STDIN_READ_FAILED:
		fprintf(stderr, PROG " %s: reading input: %s\n", w->cmd, strerror(errno));
		code = RCTL_EXIT_IO;
		/* The child got only part of its input; do not leave it
		 * waiting for the rest. */
		(void) rctl_close_stdin(w->c, w->id, &st);
		break;
	case RUNNER_STDIN_CALL_FAILED:
		/* Refused: the child exited or closed its stdin, so the rest
		 * is unwanted. */
		if (st.code == RUNNER_FAILED_PRECONDITION)
			break;
		code = rctl_status_exit(&st);
		(void) rctl_close_stdin(w->c, w->id, &st);
		break;
	}
	runner_stdin_writer_free(in);
	atomic_store(&t->pump_exit, code);
	return NULL;
}

/* The signals exec takes in its forwarder thread: blocked everywhere else. */
static void
forwarded_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIG_QUIT_FORWARDER);
}

static void *
forward_main(void *arg)
{
	struct exec_threads *t = arg;
	sigset_t set;

	forwarded_signals(&set);
	for (;;) {
		char name[32];
		runner_status st;
		int sig;

		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIG_QUIT_FORWARDER) {
			if (atomic_load(&t->quitting))
				return NULL;
			continue;
		}
		if (rctl_signal(t->w->c, t->w->id, sig, &st) == 0)
			continue;
		/* The child is gone or out of reach: the signal is ours. */
		fprintf(stderr, PROG " %s: cannot pass %s on: %s: %s\n", t->w->cmd,
			rctl_signal_name(sig, name, sizeof(name)), runner_status_code_name(st.code),
			st.message);
		_exit(RCTL_EXIT_SIGNAL_BASE + sig);
	}
}

static int
start_thread(pthread_t *t, void *(*fn)(void *), struct exec_threads *arg)
{
	int err;

	if ((err = pthread_create(t, NULL, fn, arg)) != 0) {
		fprintf(stderr, PROG " %s: cannot start a thread: %s\n", arg->w->cmd, strerror(err));
		return RCTL_EXIT_IO;
	}
	return 0;
}

static bool
join_within(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* Stop and join the threads; false when one is still inside a call (the
 * client must then stay open until exit). */
static bool
stop_threads(struct exec_threads *t)
{
	bool joined = true;

	if (t->pump_started) {
		/* A call in progress ends soon: the child is gone. */
		if (write(t->stop[1], "", 1) != 1 || !join_within(t->pump, JOIN_TIMEOUT_MS))
			joined = false;
	}
	if (t->forwarder_started) {
		atomic_store(&t->quitting, true);
		if (pthread_kill(t->forwarder, SIG_QUIT_FORWARDER) != 0 ||
		    !join_within(t->forwarder, JOIN_TIMEOUT_MS))
			joined = false;
	}
	return joined;
}

/* Where exec's input comes from (t->input_fd; -1: none). */
static int
exec_input(const struct rctl_run_opts *o, struct exec_threads *t)
{
	t->input_fd = -1;
	if (o->interactive && o->stdin_path != NULL && strcmp(o->stdin_path, "-") != 0)
		return rctl_usage_error(o->cmd, "-i reads stdin; it cannot go with --stdin %s", o->stdin_path);
	if (o->interactive || (o->stdin_path != NULL && strcmp(o->stdin_path, "-") == 0)) {
		t->input_fd = STDIN_FILENO;
	} else if (o->stdin_path != NULL &&
		   (t->input_fd = open(o->stdin_path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, PROG " %s: cannot open --stdin %s: %s\n", o->cmd, o->stdin_path, strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (t->input_fd >= 0 && pipe2(t->stop, O_CLOEXEC) < 0) {
		perror(PROG ": pipe");
		return RCTL_EXIT_IO;
	}
	return RCTL_CONTINUE;
}

/* From the session's start to its end; returns the exit code. */
static int
run_session(struct rctl_watch *w, struct exec_threads *t)
{
	runner_status st;
	int rv;

	if ((rv = start_thread(&t->forwarder, forward_main, t)) != 0)
		return rv;
	t->forwarder_started = true;
	if (t->input_fd < 0 && rctl_close_stdin(w->c, w->id, &st) < 0 &&
	    st.code != RUNNER_FAILED_PRECONDITION)
		return rctl_status_exit(&st);
	if ((rv = rctl_watch_open(w)) != 0)
		return rv;
	if (t->input_fd >= 0) {
		if ((rv = start_thread(&t->pump, pump_main, t)) != 0)
			return rv;
		t->pump_started = true;
	}
	return rctl_watch_copy(w);
}

int
rctl_exec_session(struct rctl_globals *g, struct rctl_run_opts *o)
{
	struct rctl_watch w = { .cmd = o->cmd, .connect_timeout_ms = g->connect_timeout_ms, .run = o,
				.cred = rctl_credentials(g) };
	Runner__V1__Terminal term;
	bool client_idle = true;
	struct exec_threads t = { .w = &w, .stop = { -1, -1 } };
	Runner__V1__StartPipesResponse *resp = NULL;
	runner_client *c = NULL;
	sigset_t sigs;
	int rv, pump_exit;

	if ((rv = exec_input(o, &t)) != RCTL_CONTINUE)
		return rv;
	/* Before any thread exists (nng starts its own), so that only the
	 * forwarder ever takes these signals. */
	forwarded_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (o->tty) {
		/* On a terminal (rctl_tty.c): ours, sized as ours. */
		rctl_tty_block_signals(true);
		rctl_tty_spec(&term);
		o->spec.terminal = &term;
	}

	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	if ((rv = rctl_start_session(c, o, &resp)) != 0) {
		runner_client_close(c);
		return rv;
	}
	w.c = c;
	w.id = resp->session_id;
	w.secret = resp->stream_secret.data;
	w.secret_len = resp->stream_secret.len;
	w.stream_addr = resp->stream_address;

	if (o->tty) {
		struct rctl_tty_opts to = { .c = c, .input_fd = t.input_fd, .detach_keys = o->detach_keys, .addr = g->addr };
		if ((rv = rctl_watch_open(&w)) == 0)
			rv = rctl_tty_session(&w, &to, &client_idle);
	} else {
		rv = run_session(&w, &t);
	}
	rctl_watch_close(&w);
	if (stop_threads(&t) && client_idle) {
		runner__v1__start_pipes_response__free_unpacked(resp, NULL);
		runner_client_close(c);
		for (int i = 0; i < 2; i++)
			if (t.stop[i] >= 0)
				close(t.stop[i]);
	}
	/* Input that could not be delivered makes the child's answer suspect. */
	pump_exit = atomic_load(&t.pump_exit);
	return pump_exit > 0 ? pump_exit : rv;
}

int
rctl_cmd_exec(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_run_opts o __attribute__((cleanup(rctl_run_opts_free))) = {
		.cmd = argv[0],
		.accept = RCTL_RUNOPT_STDIN | RCTL_RUNOPT_TAG | RCTL_RUNOPT_INTERACTIVE | RCTL_RUNOPT_TTY,
	};
	int rv;

	if ((rv = rctl_run_opts_parse(g, &o, argc, argv)) != RCTL_CONTINUE)
		return rv;
	return rctl_exec_session(g, &o);
}
