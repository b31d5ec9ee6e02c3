/* rctl_run.c — `runnerctl run` and `runnerctl sh`: one Run RPC, then the
 * child's output and status passed on as if runnerctl had been the child;
 * with -i, a session as exec -i runs it. The two commands differ only in
 * how the operands become a CommandSpec. */
#include "rctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "runnerctl"

/* A Run: the shared options plus the bytes for the child's stdin. */
struct run_cmd {
	struct rctl_run_opts o;
	uint8_t *stdin_data;
	size_t stdin_len;
};

static void
run_cmd_free(struct run_cmd *r)
{
	rctl_run_opts_free(&r->o);
	free(r->stdin_data);
}

static int
load_stdin(struct run_cmd *r)
{
	const struct rctl_run_opts *o = &r->o;
	int rv;

	if (o->stdin_path == NULL)
		return RCTL_CONTINUE;
	rv = rctl_read_input(o->stdin_path, RUNNER_DEFAULT_MAX_REQUEST, &r->stdin_data, &r->stdin_len);
	if (rv < 0) {
		fprintf(stderr, PROG ": cannot read --stdin %s: %s\n", o->stdin_path, strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (rv > 0) {
		/* Read no further than the request could carry anyway. */
		return rctl_fail_exit(RUNNER_RESOURCE_EXHAUSTED,
				      "--stdin %s holds more than the %u-byte request limit; -i or exec "
				      "--stdin FILE stream input of any size", o->stdin_path,
				      RUNNER_DEFAULT_MAX_REQUEST);
	}
	return RCTL_CONTINUE;
}

static void
truncation_note(const char *name, const ProtobufCBinaryData *got, uint64_t total)
{
	fprintf(stderr, PROG ": %s truncated: returned %zu of %llu bytes\n", name, got->len,
		(unsigned long long) total);
}

/* Pass the result on; returns the exit code. */
static int
report_result(const struct rctl_run_opts *o, const Runner__V1__RunResult *r)
{
	if (o->json)
		return rctl_outcome_exit(r, o, false);
	if (!rctl_write_all(STDOUT_FILENO, r->stdout.data, r->stdout.len) ||
	    !rctl_write_all(STDERR_FILENO, r->stderr.data, r->stderr.len)) {
		fprintf(stderr, PROG ": writing output: %s\n", strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (r->stdout_truncated)
		truncation_note("stdout", &r->stdout, r->stdout_total);
	if (r->stderr_truncated)
		truncation_note("stderr", &r->stderr, r->stderr_total);
	return rctl_outcome_exit(r, o, true);
}

static int
call_run(struct rctl_globals *g, const struct run_cmd *r)
{
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__RunResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	runner_status st;
	int rv, code;

	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	req.command = (Runner__V1__CommandSpec *) &r->o.spec;
	req.stdin.data = r->stdin_data;
	req.stdin.len = r->stdin_len;
	/* No envelope deadline: the spec's timeout (or the server's) bounds
	 * the run, and the server kills the child when it expires. */
	rv = runner_run(c, &req, &resp, 0, &st);
	if (resp == NULL || resp->result == NULL) {
		if (rv == 0)
			return rctl_fail_exit(RUNNER_INTERNAL, "Run reply carries no result");
		if (st.code == RUNNER_RESOURCE_EXHAUSTED && r->stdin_len > 0)
			return rctl_fail_exit(st.code, "%s (with --stdin %s: -i or exec --stdin FILE stream input "
					      "of any size)", st.message, r->o.stdin_path);
		return rctl_status_exit(&st);
	}
	/* An error may still come with a partial result (DEADLINE_EXCEEDED):
	 * pass on what ran, then the error decides the exit code. */
	if (r->o.json && (code = rctl_print_message_json(&resp->base)) != RCTL_EXIT_OK)
		return code;
	code = report_result(&r->o, resp->result);
	return rv < 0 ? rctl_status_exit(&st) : code;
}

static int
run_main(struct rctl_globals *g, int argc, char **argv, bool shell)
{
	struct run_cmd r __attribute__((cleanup(run_cmd_free))) = {
		.o = { .cmd = argv[0], .shell = shell,
		       .accept = RCTL_RUNOPT_STDIN | RCTL_RUNOPT_JSON | RCTL_RUNOPT_INTERACTIVE },
	};
	int rv;

	if ((rv = rctl_run_opts_parse(g, &r.o, argc, argv)) != RCTL_CONTINUE)
		return rv;
	if (r.o.interactive) {
		/* Input as it comes means output as it comes: a session. */
		if (r.o.json)
			return rctl_usage_error(r.o.cmd, "-i streams the output; --json wants it whole "
						"(use --stdin FILE with --json)");
		if (r.o.stdin_path != NULL)
			return rctl_usage_error(r.o.cmd, "-i reads runnerctl's stdin; it cannot go with --stdin");
		return rctl_exec_session(g, &r.o);
	}
	if ((rv = load_stdin(&r)) != RCTL_CONTINUE)
		return rv;
	return call_run(g, &r);
}

int
rctl_cmd_run(struct rctl_globals *g, int argc, char **argv)
{
	return run_main(g, argc, argv, false);
}

int
rctl_cmd_sh(struct rctl_globals *g, int argc, char **argv)
{
	return run_main(g, argc, argv, true);
}
