/* rctl_session.c — the session commands that are a call or two each (or a
 * stdin copy, for write): start, write, close-stdin, wait, kill, stop and
 * rm; how every session command finds its session (a handle, an id or a
 * prefix of one); and the calls exec shares with them (StartPipes,
 * CloseStdin, Signal). */
#include "rctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "runnerctl"

static const struct option plain_longopts[] = { RCTL_GLOBAL_LONGOPTS, { 0 } };

/* ---- naming a session ---- */

int
rctl_session_operand(const char *cmd, int argc, char **argv, struct rctl_handle *h, bool need_secret)
{
	if (optind >= argc)
		return rctl_usage_error(cmd, "no session given (%s, or the handle start printed)",
					need_secret ? "the handle ID:SECRET" : "an ID");
	if (optind + 1 < argc)
		return rctl_usage_error(cmd, "one session only, got also '%s'", argv[optind + 1]);
	if (!rctl_parse_handle(argv[optind], h))
		return rctl_usage_error(cmd, "'%s' is not a session ID or handle", argv[optind]);
	if (need_secret && h->secret_len == 0)
		return rctl_usage_error(cmd, "'%s' has no secret: %s wants the handle ID:SECRET that start "
					"printed (the secret guards a session's output)", argv[optind], cmd);
	return RCTL_CONTINUE;
}

int
rctl_resolve_session(runner_client *c, const char *cmd, struct rctl_handle *h)
{
	Runner__V1__ListResponse *l __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__ListRequest req = RUNNER__V1__LIST_REQUEST__INIT;
	const char *found = NULL;
	size_t n = strlen(h->id), matches = 0;
	runner_status st;

	if (rctl_is_full_id(h->id))
		return RCTL_CONTINUE;
	if (runner_list(c, &req, &l, RCTL_QUICK_DEADLINE_MS, &st) < 0)
		return rctl_status_exit(&st);
	for (size_t i = 0; i < l->n_sessions; i++) {
		if (strncmp(l->sessions[i]->session_id, h->id, n) != 0)
			continue;
		found = l->sessions[i]->session_id;
		matches++;
	}
	if (matches == 0)
		return rctl_fail_exit(RUNNER_NOT_FOUND, "no session whose id starts with \"%s\"", h->id);
	if (matches > 1)
		return rctl_fail_exit(RUNNER_INVALID_ARGUMENT,
				      "\"%s\" starts the ids of %zu sessions: give more of the id", h->id, matches);
	snprintf(h->id, sizeof(h->id), "%s", found);
	return RCTL_CONTINUE;
}

int
rctl_open_session(struct rctl_globals *g, const char *cmd, int argc, char **argv, bool need_secret,
		  runner_client **c, struct rctl_handle *h)
{
	int rv;

	if ((rv = rctl_session_operand(cmd, argc, argv, h, need_secret)) != RCTL_CONTINUE)
		return rv;
	if ((rv = rctl_connect(g, c)) != 0)
		return rv;
	return rctl_resolve_session(*c, cmd, h);
}

int
rctl_start_session(runner_client *c, const struct rctl_run_opts *o,
		   Runner__V1__StartPipesResponse **resp)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	runner_status st;

	req.command = (Runner__V1__CommandSpec *) &o->spec;
	if (o->tag != NULL)
		req.tag = (char *) o->tag;
	if (o->key != NULL)
		req.idempotency_key = (char *) o->key;
	req.output_mode = o->output_mode;
	req.output_tail_bytes = o->output_tail;
	if (runner_start_pipes(c, &req, resp, RCTL_START_DEADLINE_MS, &st) < 0) {
		rctl_message_freep(resp);
		*resp = NULL;
		return rctl_status_exit(&st);
	}
	if ((*resp)->session_id[0] == '\0')
		return rctl_fail_exit(RUNNER_INTERNAL, "StartPipes reply names no session");
	return 0;
}

int
rctl_close_stdin(runner_client *c, const char *id, runner_status *st)
{
	Runner__V1__CloseStdinRequest req = RUNNER__V1__CLOSE_STDIN_REQUEST__INIT;
	Runner__V1__CloseStdinResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;

	req.session_id = (char *) id;
	return runner_close_stdin(c, &req, &resp, RCTL_QUICK_DEADLINE_MS, st);
}

int
rctl_signal(runner_client *c, const char *id, int sig, runner_status *st)
{
	Runner__V1__SignalRequest req = RUNNER__V1__SIGNAL_REQUEST__INIT;
	Runner__V1__SignalResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;

	req.session_id = (char *) id;
	req.signal = sig;
	return runner_signal(c, &req, &resp, RCTL_QUICK_DEADLINE_MS, st);
}

/* ---- start ---- */

/* attach finds the stream where runnerd puts it by default (beside the
 * session's owner in a fleet, else beside --addr); say so when this
 * runnerd put it elsewhere. */
static void
stream_addr_hint(struct rctl_globals *g, const char *id, const char *stream_addr)
{
	const char *addr = runner_session_owner(id) ? runner_session_owner(id) : rctl_addr(g);
	char derived[1024];

	if (runner_stream_address(addr, derived, sizeof(derived), NULL) < 0 ||
	    strcmp(derived, stream_addr) != 0)
		fprintf(stderr, PROG " start: the stream is at %s: attach with --stream-addr %s\n",
			stream_addr, stream_addr);
}

int
rctl_cmd_start(struct rctl_globals *g, int argc, char **argv)
{
	struct rctl_run_opts o __attribute__((cleanup(rctl_run_opts_free))) = {
		.cmd = argv[0],
		.accept = RCTL_RUNOPT_TAG | RCTL_RUNOPT_KEY | RCTL_RUNOPT_JSON | RCTL_RUNOPT_OUTPUT,
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__StartPipesResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	char *handle;
	int rv;

	if ((rv = rctl_run_opts_parse(g, &o, argc, argv)) != RCTL_CONTINUE)
		return rv;
	if ((rv = rctl_connect(g, &c)) != 0 || (rv = rctl_start_session(c, &o, &resp)) != 0)
		return rv;
	if ((handle = rctl_handle_string(resp->session_id, resp->stream_secret.data,
					 resp->stream_secret.len)) == NULL) {
		perror(PROG);
		return RCTL_EXIT_IO;
	}
	if (o.json) {
		rv = rctl_print_start_json(resp, handle);
	} else {
		if (resp->existing)
			fprintf(stderr, PROG " start: key '%s' already names session %s; nothing started\n",
				o.key, resp->session_id);
		stream_addr_hint(g, resp->session_id, resp->stream_address);
		/* The handle alone: H=$(runnerctl start ...) is the whole use. */
		printf("%s\n", handle);
		rv = RCTL_EXIT_OK;
		if (fflush(stdout) != 0 || ferror(stdout)) {
			perror(PROG ": writing output");
			rv = RCTL_EXIT_IO;
		}
	}
	free(handle);
	return rv;
}

/* ---- write ---- */

enum { OPT_OFFSET = 0x300, OPT_CLOSE, OPT_TIMEOUT, OPT_JSON };

struct write_opts {
	bool have_offset;
	bool close;
	uint64_t offset;
};

static int
write_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	struct write_opts *w = ctx;

	switch (opt) {
	case OPT_OFFSET:
		if (runner_parse_size(arg, &w->offset) < 0)
			return rctl_usage_error(cmd, "bad --offset '%s' (want a byte count)", arg);
		w->have_offset = true;
		return RCTL_CONTINUE;
	case OPT_CLOSE:
		w->close = true;
		return RCTL_CONTINUE;
	default:
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	}
}

static void
writer_freep(runner_stdin_writer **w)
{
	runner_stdin_writer_free(*w);
}

int
rctl_cmd_write(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "close", no_argument, NULL, OPT_CLOSE },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	runner_stdin_writer *in __attribute__((cleanup(writer_freep))) = NULL;
	struct write_opts w = { 0 };
	struct rctl_handle h;
	runner_status st;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", longopts, write_opt, &w)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, false, &c, &h)) != RCTL_CONTINUE)
		return rv;
	/* Without --offset, append after whatever went in before. With it,
	 * the server skips the bytes it already has: resending a whole input
	 * with --offset 0 after an interruption never duplicates any. */
	if (runner_stdin_writer_open(&in, c, h.id, w.have_offset ? w.offset : RUNNER_STDIN_APPEND,
				     &st) < 0)
		return rctl_status_exit(&st);
	switch (runner_stdin_copy(in, STDIN_FILENO, -1, &st)) {
	case RUNNER_STDIN_EOF:
		break;
	case RUNNER_STDIN_READ_FAILED:
		fprintf(stderr, PROG " write: reading stdin: %s\n", strerror(errno));
		return RCTL_EXIT_IO;
	default:
		return rctl_status_exit(&st);
	}
	if (w.close && rctl_close_stdin(c, h.id, &st) < 0)
		return rctl_status_exit(&st);
	return RCTL_EXIT_OK;
}

/* ---- close-stdin ---- */

int
rctl_cmd_close_stdin(struct rctl_globals *g, int argc, char **argv)
{
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	struct rctl_handle h;
	runner_status st;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", plain_longopts, NULL, NULL)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, false, &c, &h)) != RCTL_CONTINUE)
		return rv;
	if (rctl_close_stdin(c, h.id, &st) < 0)
		return rctl_status_exit(&st);
	return RCTL_EXIT_OK;
}

/* ---- wait ---- */

struct wait_opts {
	uint64_t timeout_ms;
	bool json;
};

static int
wait_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	struct wait_opts *w = ctx;

	switch (opt) {
	case OPT_TIMEOUT:
		if (runner_parse_duration_ms(arg, &w->timeout_ms) < 0)
			return rctl_usage_error(cmd, "bad --timeout '%s' (want e.g. 500ms, 10s, 2m)", arg);
		return RCTL_CONTINUE;
	case OPT_JSON:
		w->json = true;
		return RCTL_CONTINUE;
	default:
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	}
}

#define WAIT_STEP_MS 2000

/* A process blocked on output nobody reads would keep wait waiting: say
 * so, once. */
static void
note_if_blocked(runner_client *c, const char *id, bool *noted)
{
	Runner__V1__ListResponse *l __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__ListRequest req = RUNNER__V1__LIST_REQUEST__INIT;
	runner_status st;

	if (*noted || runner_list(c, &req, &l, RCTL_QUICK_DEADLINE_MS, &st) < 0)
		return;
	for (size_t i = 0; i < l->n_sessions; i++) {
		if (strcmp(l->sessions[i]->session_id, id) == 0 && l->sessions[i]->output_blocked) {
			fprintf(stderr, PROG " wait: %s is blocked: its output buffer is full and no reader is "
					"attached, so it waits until one attaches and reads (runnerctl attach); "
					"start --output discard or tail=N does not wait\n", id);
			*noted = true;
		}
	}
}

int
rctl_cmd_wait(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__WaitResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__WaitRequest req = RUNNER__V1__WAIT_REQUEST__INIT;
	struct wait_opts w = { 0 };
	struct rctl_handle h;
	runner_status st;
	bool noted = false;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":h", longopts, wait_opt, &w)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, false, &c, &h)) != RCTL_CONTINUE)
		return rv;
	req.session_id = h.id;
	/* In steps, to say so when the process waits for a reader. */
	for (uint64_t waited = 0, step;; waited += step) {
		step = w.timeout_ms != 0 && w.timeout_ms - waited < WAIT_STEP_MS ? w.timeout_ms - waited
										 : WAIT_STEP_MS;
		req.timeout_ms = step;
		if (runner_wait(c, &req, &resp, step, &st) == 0)
			break;
		rctl_message_freep(&resp);
		resp = NULL;
		if (st.code != RUNNER_DEADLINE_EXCEEDED || (w.timeout_ms != 0 && waited + step >= w.timeout_ms))
			return rctl_status_exit(&st);
		note_if_blocked(c, h.id, &noted);
	}
	if (resp->result == NULL)
		return rctl_fail_exit(RUNNER_INTERNAL, "Wait reply carries no result");
	if (w.json) {
		if ((rv = rctl_print_message_json(&resp->base)) != RCTL_EXIT_OK)
			return rv;
	} else {
		rctl_print_outcome(stdout, resp->result);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			perror(PROG ": writing output");
			return RCTL_EXIT_IO;
		}
	}
	return rctl_outcome_exit(resp->result, NULL, false);
}

/* ---- kill ---- */

static int
kill_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	int *sig = ctx;

	if (opt != 's')
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	if ((*sig = rctl_parse_signal(arg)) < 0)
		return rctl_usage_error(cmd, "bad signal '%s' (want e.g. TERM, KILL, INT, HUP or 9)", arg);
	return RCTL_CONTINUE;
}

int
rctl_cmd_kill(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "signal", required_argument, NULL, 's' },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	struct rctl_handle h;
	int rv, sig = SIGTERM;
	runner_status st;

	if ((rv = rctl_parse_opts(g, argc, argv, ":hs:", longopts, kill_opt, &sig)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, false, &c, &h)) != RCTL_CONTINUE)
		return rv;
	if (rctl_signal(c, h.id, sig, &st) < 0)
		return rctl_status_exit(&st);
	return RCTL_EXIT_OK;
}

/* ---- stop and rm ---- */

/* How long stop waits after SIGTERM before SIGKILL (docker stop's 10 s). */
#define STOP_GRACE_MS 10000

/* Wait up to `ms` (0: no limit) for the session to end: 0 when it did,
 * 1 when it is still running, or the exit code of a failure. */
static int
wait_end(runner_client *c, const char *id, uint64_t ms)
{
	Runner__V1__WaitResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__WaitRequest req = RUNNER__V1__WAIT_REQUEST__INIT;
	runner_status st;

	req.session_id = (char *) id;
	req.timeout_ms = ms;
	if (runner_wait(c, &req, &resp, ms, &st) == 0)
		return 0;
	return st.code == RUNNER_DEADLINE_EXCEEDED ? 1 : rctl_status_exit(&st);
}

/* SIGTERM, then SIGKILL after `grace_ms`; returns once the session ended
 * (0) or an exit code. An ended session needs nothing. */
static int
stop_session(runner_client *c, const char *id, uint64_t grace_ms)
{
	runner_status st;
	int rv;

	if (rctl_signal(c, id, SIGTERM, &st) < 0)
		return st.code == RUNNER_FAILED_PRECONDITION ? 0 : rctl_status_exit(&st);
	if ((rv = wait_end(c, id, grace_ms > 0 ? grace_ms : 1)) != 1)
		return rv;
	if (rctl_signal(c, id, SIGKILL, &st) < 0 && st.code != RUNNER_FAILED_PRECONDITION)
		return rctl_status_exit(&st);
	return wait_end(c, id, 0);
}

static int
stop_opt(void *ctx, const char *cmd, int opt, char *arg)
{
	uint64_t *grace_ms = ctx;

	if (opt != 't')
		return rctl_usage_error(cmd, "unhandled option %d", opt);
	if (runner_parse_duration_ms(arg, grace_ms) < 0)
		return rctl_usage_error(cmd, "bad --time '%s' (want e.g. 500ms, 10s)", arg);
	return RCTL_CONTINUE;
}

int
rctl_cmd_stop(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "time", required_argument, NULL, 't' },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	uint64_t grace_ms = STOP_GRACE_MS;
	struct rctl_handle h;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":ht:", longopts, stop_opt, &grace_ms)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, false, &c, &h)) != RCTL_CONTINUE)
		return rv;
	return stop_session(c, h.id, grace_ms);
}

int
rctl_cmd_rm(struct rctl_globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		RCTL_GLOBAL_LONGOPTS,
		{ 0 },
	};
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__RemoveResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__RemoveRequest req = RUNNER__V1__REMOVE_REQUEST__INIT;
	struct rctl_handle h;
	bool force = false;
	runner_status st;
	int rv;

	if ((rv = rctl_parse_opts(g, argc, argv, ":hf", longopts, rctl_flag_opt, &force)) != RCTL_CONTINUE ||
	    (rv = rctl_open_session(g, argv[0], argc, argv, false, &c, &h)) != RCTL_CONTINUE)
		return rv;
	if (force && (rv = stop_session(c, h.id, STOP_GRACE_MS)) != 0)
		return rv;
	req.session_id = h.id;
	if (runner_remove(c, &req, &resp, RCTL_QUICK_DEADLINE_MS, &st) < 0) {
		if (st.code == RUNNER_FAILED_PRECONDITION)
			return rctl_fail_exit(st.code, "session %s is still running: runnerctl stop it first, "
					      "or rm -f", h.id);
		return rctl_status_exit(&st);
	}
	return RCTL_EXIT_OK;
}
