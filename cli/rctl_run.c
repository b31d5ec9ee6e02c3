/* rctl_run.c — `runnerctl run` and `runnerctl sh`: one Run RPC, then the
 * child's output and status passed on as if runnerctl had been the child.
 * The two commands differ only in how the operands become a CommandSpec. */
#include "rctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "runnerctl"

enum {
	OPT_TIMEOUT = 0x200,
	OPT_STDIN,
	OPT_JSON,
	OPT_BACKEND,
	OPT_STDOUT_LIMIT,
	OPT_STDERR_LIMIT,
};

static const struct option run_longopts[] = {
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "stdin", required_argument, NULL, OPT_STDIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "stdout-limit", required_argument, NULL, OPT_STDOUT_LIMIT },
	{ "stderr-limit", required_argument, NULL, OPT_STDERR_LIMIT },
	RCTL_GLOBAL_LONGOPTS,
	{ 0 },
};

struct run_opts {
	const char *cmd; /* "run" or "sh", for messages */
	bool shell;
	bool json;
	const char *stdin_path;
	/* The spec under construction; pointers borrow from argv except the
	 * env names, which need their own NUL. */
	Runner__V1__CommandSpec spec;
	Runner__V1__EnvVar *env;
	Runner__V1__EnvVar **env_ptrs;
	uint8_t *stdin_data;
	size_t stdin_len;
	char **operands;
	int n_operands;
};

static void
run_opts_free(struct run_opts *o)
{
	for (size_t i = 0; i < o->spec.n_env; i++)
		free(o->env[i].name);
	free(o->env);
	free(o->env_ptrs);
	free(o->stdin_data);
}

static int
add_env(struct run_opts *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	Runner__V1__EnvVar *e = &o->env[o->spec.n_env];

	if (eq == NULL || eq == kv)
		return rctl_usage_error(o->cmd, "-e wants NAME=VALUE, not '%s'", kv);
	runner__v1__env_var__init(e);
	if ((e->name = strndup(kv, (size_t) (eq - kv))) == NULL) {
		perror(PROG);
		return RCTL_EXIT_IO;
	}
	e->value.data = (uint8_t *) eq + 1;
	e->value.len = strlen(eq + 1);
	o->env_ptrs[o->spec.n_env++] = e;
	return RCTL_CONTINUE;
}

static int
set_duration(struct run_opts *o, const char *name, const char *arg, uint64_t *out)
{
	if (parse_duration_ms(arg, out) < 0)
		return rctl_usage_error(o->cmd, "bad %s '%s' (want e.g. 500ms, 10s, 2m)", name, arg);
	return RCTL_CONTINUE;
}

static int
set_limit(struct run_opts *o, const char *name, const char *arg, uint64_t *out)
{
	/* 0 would mean "the server's cap" on the wire, the opposite of what
	 * someone typing it expects. */
	if (parse_size(arg, out) < 0 || *out == 0)
		return rctl_usage_error(o->cmd, "bad %s '%s' (want a size of at least 1, e.g. 4096, 64K)", name, arg);
	return RCTL_CONTINUE;
}

static int
run_opt(struct run_opts *o, int opt, char *arg)
{
	switch (opt) {
	case 'e':
		return add_env(o, arg);
	case 'w':
		o->spec.cwd = arg;
		return RCTL_CONTINUE;
	case OPT_TIMEOUT:
		return set_duration(o, "--timeout", arg, &o->spec.timeout_ms);
	case OPT_STDIN:
		o->stdin_path = arg;
		return RCTL_CONTINUE;
	case OPT_JSON:
		o->json = true;
		return RCTL_CONTINUE;
	case OPT_BACKEND:
		o->spec.backend = arg;
		return RCTL_CONTINUE;
	case OPT_STDOUT_LIMIT:
		return set_limit(o, "--stdout-limit", arg, &o->spec.stdout_limit);
	case OPT_STDERR_LIMIT:
		return set_limit(o, "--stderr-limit", arg, &o->spec.stderr_limit);
	default:
		return rctl_usage_error(o->cmd, "unhandled option %d", opt);
	}
}

static int
parse_run_opts(struct rctl_globals *g, struct run_opts *o, int argc, char **argv)
{
	int opt, rv;

	/* There cannot be more -e than words on the command line. */
	o->env = calloc((size_t) argc, sizeof(*o->env));
	o->env_ptrs = calloc((size_t) argc, sizeof(*o->env_ptrs));
	if (o->env == NULL || o->env_ptrs == NULL) {
		perror(PROG);
		return RCTL_EXIT_IO;
	}
	o->spec.env = o->env_ptrs;

	opterr = 0;
	/* '+': the first operand ends the options, so the child's own options
	 * need no "--" (though "--" is the safe habit). */
	while ((opt = getopt_long(argc, argv, "+:e:w:h", run_longopts, NULL)) != -1) {
		if ((rv = rctl_common_opt(g, o->cmd, opt, argc, argv)) == RCTL_NOT_MINE)
			rv = run_opt(o, opt, optarg);
		if (rv != RCTL_CONTINUE)
			return rv;
	}
	o->operands = argv + optind;
	o->n_operands = argc - optind;
	return RCTL_CONTINUE;
}

static int
set_command(struct run_opts *o)
{
	if (!o->shell) {
		if (o->n_operands == 0)
			return rctl_usage_error(o->cmd, "no command given (run [OPTIONS] -- CMD [ARG...])");
		o->spec.argv = o->operands;
		o->spec.n_argv = (size_t) o->n_operands;
		return RCTL_CONTINUE;
	}
	if (o->n_operands != 1)
		return rctl_usage_error(o->cmd, "want exactly one command line (quote it), got %d words",
					o->n_operands);
	if (o->operands[0][0] == '\0')
		return rctl_usage_error(o->cmd, "empty command line");
	o->spec.shell = o->operands[0];
	return RCTL_CONTINUE;
}

static int
load_stdin(struct run_opts *o)
{
	rstatus st;
	int rv;

	if (o->stdin_path == NULL)
		return RCTL_CONTINUE;
	rv = rctl_read_input(o->stdin_path, RUNNER_DEFAULT_MAX_REQUEST, &o->stdin_data, &o->stdin_len);
	if (rv < 0) {
		fprintf(stderr, PROG ": cannot read --stdin %s: %s\n", o->stdin_path, strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (rv > 0) {
		/* Read no further than the request could carry anyway. */
		rstatus_fail(&st, RS_RESOURCE_EXHAUSTED, "--stdin %s holds more than the %u-byte request limit",
			     o->stdin_path, RUNNER_DEFAULT_MAX_REQUEST);
		return rctl_status_exit(&st);
	}
	return RCTL_CONTINUE;
}

/* Prints the stderr note for how the child ended (unless --json, whose
 * object says it all) and returns the matching exit code. */
static int
outcome_exit(const struct run_opts *o, const Runner__V1__RunResult *r)
{
	char sig[32], wall[32];
	bool notes = !o->json;

	switch (r->reason) {
	case RUNNER__V1__TERMINATION__EXITED:
		return r->exit_code & 0xff;
	case RUNNER__V1__TERMINATION__TIMEOUT:
		rctl_format_duration(r->wall_time_us, wall, sizeof(wall));
		if (notes && r->signal > 0)
			fprintf(stderr, PROG ": timed out after %s (killed by %s)\n", wall,
				rctl_signal_name(r->signal, sig, sizeof(sig)));
		else if (notes)
			fprintf(stderr, PROG ": timed out after %s\n", wall);
		return RCTL_EXIT_TIMEOUT;
	case RUNNER__V1__TERMINATION__EXEC_FAILED:
		if (notes)
			fprintf(stderr, PROG ": cannot run %s: %s\n", o->shell ? "/bin/sh" : o->spec.argv[0],
				r->exec_error && r->exec_error[0] ? r->exec_error : strerror(r->exec_errno));
		return r->exec_errno == ENOENT ? RCTL_EXIT_NOT_FOUND : RCTL_EXIT_CANNOT_EXEC;
	case RUNNER__V1__TERMINATION__SIGNALED:
		if (r->signal <= 0)
			break;
		/* Like a shell, stay quiet about the deaths a pipeline expects. */
		if (notes && r->signal != SIGPIPE && r->signal != SIGINT)
			fprintf(stderr, PROG ": killed by %s\n", rctl_signal_name(r->signal, sig, sizeof(sig)));
		return RCTL_EXIT_SIGNAL_BASE + r->signal;
	case RUNNER__V1__TERMINATION__KILLED:
		if (r->signal <= 0)
			break;
		if (notes)
			fprintf(stderr, PROG ": stopped by runnerd with %s\n",
				rctl_signal_name(r->signal, sig, sizeof(sig)));
		return RCTL_EXIT_SIGNAL_BASE + r->signal;
	default:
		break;
	}
	/* Not an outcome the contract allows: say so even under --json. */
	fprintf(stderr, PROG ": INTERNAL: runnerd reported reason %d with signal %d\n", r->reason, r->signal);
	return RCTL_EXIT_CALL_FAILED;
}

static void
truncation_note(const char *name, const ProtobufCBinaryData *got, uint64_t total)
{
	fprintf(stderr, PROG ": %s truncated: returned %zu of %llu bytes\n", name, got->len,
		(unsigned long long) total);
}

/* Pass the result on; returns the exit code. */
static int
report_result(const struct run_opts *o, const Runner__V1__RunResult *r)
{
	if (o->json) {
		if (!rctl_print_result_json(r)) {
			fprintf(stderr, PROG ": writing output: %s\n", strerror(errno));
			return RCTL_EXIT_IO;
		}
		return outcome_exit(o, r);
	}
	if (!rctl_write_all(STDOUT_FILENO, r->stdout.data, r->stdout.len) ||
	    !rctl_write_all(STDERR_FILENO, r->stderr.data, r->stderr.len)) {
		fprintf(stderr, PROG ": writing output: %s\n", strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (r->stdout_truncated)
		truncation_note("stdout", &r->stdout, r->stdout_total);
	if (r->stderr_truncated)
		truncation_note("stderr", &r->stderr, r->stderr_total);
	return outcome_exit(o, r);
}

static int
call_run(struct rctl_globals *g, struct run_opts *o)
{
	runner_client *c __attribute__((cleanup(rctl_client_closep))) = NULL;
	Runner__V1__RunResponse *resp __attribute__((cleanup(rctl_message_freep))) = NULL;
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	rstatus st;
	int rv, code;

	if ((rv = rctl_connect(g, &c)) != 0)
		return rv;
	req.command = &o->spec;
	req.stdin.data = o->stdin_data;
	req.stdin.len = o->stdin_len;
	/* No envelope deadline: the spec's timeout (or the server's) bounds
	 * the run, and the server kills the child when it expires. */
	rv = runner_client_run(c, &req, &resp, 0, &st);
	if (resp == NULL || resp->result == NULL) {
		if (rv == 0)
			rstatus_fail(&st, RS_INTERNAL, "Run reply carries no result");
		return rctl_status_exit(&st);
	}
	/* An error may still come with a partial result (DEADLINE_EXCEEDED):
	 * pass on what ran, then the error decides the exit code. */
	code = report_result(o, resp->result);
	return rv < 0 ? rctl_status_exit(&st) : code;
}

static int
run_main(struct rctl_globals *g, int argc, char **argv, bool shell)
{
	struct run_opts o __attribute__((cleanup(run_opts_free))) = {
		.cmd = argv[0],
		.shell = shell,
		.spec = RUNNER__V1__COMMAND_SPEC__INIT,
	};
	int rv;

	if ((rv = parse_run_opts(g, &o, argc, argv)) != RCTL_CONTINUE)
		return rv;
	if ((rv = set_command(&o)) != RCTL_CONTINUE)
		return rv;
	if ((rv = load_stdin(&o)) != RCTL_CONTINUE)
		return rv;
	return call_run(g, &o);
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
