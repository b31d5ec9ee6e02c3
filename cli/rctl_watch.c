/* rctl_watch.c — a session's output copied to runnerctl's own as it comes
 * (ReadStream), and its end passed on as `run` passes on a Run's: what exec
 * and attach share; and `runnerctl attach` (to a PTY session from a
 * terminal, rctl_tty.c takes over). */
#include "rctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "runnerctl"
/* Times in a row the stream connection may drop before we give up. */
#define STREAM_REATTACHES 3

int
rctl_watch_open(struct rctl_watch *w)
{
	runner_status st;

	if (runner_stream_open(&w->s, w->stream_addr, w->id, w->secret, w->secret_len, w->from_stdout,
			       w->from_stderr, w->connect_timeout_ms, &st) < 0)
		return rctl_connect_exit(w->cmd, &st);
	return 0;
}

/* Attach again where we are after the connection dropped. */
static int
reattach(struct rctl_watch *w)
{
	w->from_stdout = runner_stream_offset(w->s, RUNNER__V1__STREAM_KIND__STDOUT);
	w->from_stderr = runner_stream_offset(w->s, RUNNER__V1__STREAM_KIND__STDERR);
	runner_stream_close(w->s);
	w->s = NULL;
	return rctl_watch_open(w);
}

/* Our output is gone. exec is the child's stand-in, so the child learns it
 * as it would have from a pipe: SIGPIPE. attach only watches. */
static int
output_closed(struct rctl_watch *w)
{
	runner_status st;

	if (w->c != NULL)
		(void) rctl_signal(w->c, w->id, SIGPIPE, &st);
	return RCTL_EXIT_SIGNAL_BASE + SIGPIPE;
}

/* What the last frame says, as an exit code. */
static int
last_frame_exit(const struct rctl_watch *w, const Runner__V1__StreamFrame *f)
{
	rctl_tty_restore(); /* notes follow: for a terminal in its usual mode */
	if (f->result != NULL)
		return rctl_outcome_exit(f->result, w->run, true);
	if (f->code != RUNNER__V1__STATUS_CODE__OK)
		return rctl_fail_exit(f->code, "%s", f->message);
	return rctl_fail_exit(RUNNER_INTERNAL, "the stream ended without a result");
}

int
rctl_watch_copy(struct rctl_watch *w)
{
	int drops = 0, rv;
	runner_status st;

	for (;;) {
		Runner__V1__StreamFrame *f;
		int fd, code;

		if (runner_stream_next(w->s, &f, -1, &st) < 0) {
			if (st.code != RUNNER_UNAVAILABLE || ++drops > STREAM_REATTACHES)
				return rctl_status_exit(&st);
			if ((rv = reattach(w)) != 0)
				return rv;
			continue;
		}
		fd = f->stream == RUNNER__V1__STREAM_KIND__STDERR ? STDERR_FILENO : STDOUT_FILENO;
		if (f->data.len > 0) {
			drops = 0;
			if (!rctl_write_all(fd, f->data.data, f->data.len)) {
				int err = errno;

				runner__v1__stream_frame__free_unpacked(f, NULL);
				if (err == EPIPE)
					return output_closed(w);
				rctl_tty_restore();
				fprintf(stderr, PROG ": writing output: %s\n", strerror(err));
				return RCTL_EXIT_IO;
			}
		}
		if (f->last) {
			code = last_frame_exit(w, f);
			runner__v1__stream_frame__free_unpacked(f, NULL);
			return code;
		}
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
}

void
rctl_watch_close(struct rctl_watch *w)
{
	runner_stream_close(w->s);
	w->s = NULL;
}

/* ---- attach ---- */

enum { OPT_FROM = 0x500, OPT_STDERR_FROM, OPT_STREAM_ADDR, OPT_DETACH_KEYS };

static int
attach_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	struct rctl_watch *w = ctx;

	switch (opt) {
	case OPT_FROM:
		if (runner_parse_size(arg, &w->from_stdout) < 0)
			return rctl_usage_error(cmd, "bad --from '%s' (want a byte offset)", arg);
		return RCTL_CONTINUE;
	case OPT_STDERR_FROM:
		if (runner_parse_size(arg, &w->from_stderr) < 0)
			return rctl_usage_error(cmd, "bad --stderr-from '%s' (want a byte offset)", arg);
		return RCTL_CONTINUE;
	case OPT_STREAM_ADDR:
		w->stream_addr = arg;
		return RCTL_CONTINUE;
	case OPT_DETACH_KEYS:
		w->detach_keys = arg;
		return RCTL_CONTINUE;
	default:
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	}
}

int
rctl_cmd_attach(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, OPT_FROM },
		{ "stderr-from", required_argument, NULL, OPT_STDERR_FROM },
		{ "stream-addr", required_argument, NULL, OPT_STREAM_ADDR },
		{ "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	struct rctl_watch w = { .cmd = argv[0] };
	struct rctl_handle h;
	char derived[1024];
	const char *addr;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", longopts, attach_opt, &w)) != RCTL_CONTINUE ||
	    (rv = rctl_session_operand(argv[0], argc, argv, &h, true)) != RCTL_CONTINUE)
		return rv;
	addr = rctl_addr(g);
	/* Only a shortened id needs the request socket. */
	if (!rctl_is_full_id(h.id)) {
		runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;

		if ((rv = rctl_connect(g, &c)) != 0 ||
		    (rv = rctl_resolve_session(c, argv[0], &h)) != RCTL_CONTINUE)
			return rv;
	}
	if (w.stream_addr == NULL && (w.stream_addr = getenv("RUNNERD_STREAM_ADDR")) != NULL &&
	    w.stream_addr[0] == '\0')
		w.stream_addr = NULL;
	/* Beside the runnerd that owns the session (a fleet), else ours. */
	if (runner_session_owner(h.id) != NULL)
		addr = runner_session_owner(h.id);
	if (w.stream_addr == NULL && runner_stream_address(addr, derived, sizeof(derived), NULL) == 0)
		w.stream_addr = derived;
	if (w.stream_addr == NULL)
		return rctl_usage_error(argv[0], "no stream address to derive from %s: give --stream-addr "
					"(start --json prints it)", addr);
	signal(SIGPIPE, SIG_IGN);
	w.connect_timeout_ms = g->connect_timeout_ms;
	w.id = h.id;
	w.secret = h.secret;
	w.secret_len = h.secret_len;
	/* A PTY session from a terminal: keys, raw mode, resize (rctl_tty.c). */
	if (isatty(STDIN_FILENO) && (rv = rctl_tty_attach(g, &w)) != RCTL_NOT_MINE) {
		rctl_watch_close(&w);
		return rv;
	}
	if ((rv = rctl_watch_open(&w)) == 0)
		rv = rctl_watch_copy(&w);
	rctl_watch_close(&w);
	return rv;
}
