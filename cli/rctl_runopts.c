/* rctl_runopts.c — the RUN OPTIONS: how run, sh, exec and start turn their
 * command line into a CommandSpec (plus the few options only some of them
 * take). */
#include "rctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
	OPT_TAG,
	OPT_KEY,
	OPT_PROFILE,
	OPT_PARAM,
	OPT_NO_NETWORK,
	OPT_WRITABLE,
	OPT_CPU,
	OPT_MEMORY,
	OPT_PROCESSES,
	OPT_DETACH_KEYS,
	OPT_OUTPUT,
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
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "detach-keys", required_argument, NULL, OPT_DETACH_KEYS },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "param", required_argument, NULL, OPT_PARAM },
	{ "no-network", no_argument, NULL, OPT_NO_NETWORK },
	{ "writable", required_argument, NULL, OPT_WRITABLE },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "processes", required_argument, NULL, OPT_PROCESSES },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	RCTL_GLOBAL_LONGOPTS,
	{ 0 },
};

void
rctl_run_opts_free(struct rctl_run_opts *o)
{
	for (size_t i = 0; i < o->spec.n_env; i++)
		free(o->env[i].name);
	for (size_t i = 0; i < o->spec.n_params; i++)
		free(o->params[i].key);
	free(o->env);
	free(o->env_ptrs);
	free(o->params);
	free(o->param_ptrs);
	free(o->tighten.read_write);
	free(o->workdir);
}

/* -w as runnerctl's user means it: a relative directory is one below where
 * runnerctl runs (runnerd's own working directory means nothing to them). */
static int
set_workdir(struct rctl_run_opts *o, const char *dir)
{
	char cwd[PATH_MAX];

	free(o->workdir);
	o->workdir = NULL;
	if (dir[0] == '\0')
		return rctl_usage_error(o->cmd, "-w wants a directory");
	if (dir[0] == '/') {
		o->spec.cwd = (char *) dir;
		return RCTL_CONTINUE;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		fprintf(stderr, PROG " %s: -w %s: cannot tell the current directory: %s\n", o->cmd, dir,
			strerror(errno));
		return RCTL_EXIT_IO;
	}
	if (strcmp(dir, ".") == 0 || strcmp(dir, "./") == 0)
		o->workdir = strdup(cwd);
	else if (asprintf(&o->workdir, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd,
			  strncmp(dir, "./", 2) == 0 ? dir + 2 : dir) < 0)
		o->workdir = NULL;
	if (o->workdir == NULL) {
		perror(PROG);
		return RCTL_EXIT_IO;
	}
	o->spec.cwd = o->workdir;
	return RCTL_CONTINUE;
}

static int set_limit(struct rctl_run_opts *o, const char *name, const char *arg, uint64_t *out);

static int
add_param(struct rctl_run_opts *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	Runner__V1__KeyValue *p = &o->params[o->spec.n_params];

	if (eq == NULL || eq == kv)
		return rctl_usage_error(o->cmd, "--param wants NAME=VALUE, not '%s'", kv);
	runner__v1__key_value__init(p);
	if ((p->key = strndup(kv, (size_t) (eq - kv))) == NULL) {
		perror(PROG);
		return RCTL_EXIT_IO;
	}
	p->value = (char *) eq + 1;
	o->param_ptrs[o->spec.n_params++] = p;
	return RCTL_CONTINUE;
}

/* Only tightenings: the profile decides what is granted. */
static int
add_tighten(struct rctl_run_opts *o, int opt, char *arg)
{
	Runner__V1__Restrictions *t = &o->tighten;
	uint64_t v;

	o->spec.tighten = t;
	switch (opt) {
	case OPT_NO_NETWORK:
		t->no_network = true;
		return RCTL_CONTINUE;
	case OPT_WRITABLE: {
		char **rw = realloc(t->read_write, (t->n_read_write + 1) * sizeof(*rw));
		if (rw == NULL) {
			perror(PROG);
			return RCTL_EXIT_IO;
		}
		t->read_write = rw;
		rw[t->n_read_write++] = arg;
		return RCTL_CONTINUE;
	}
	case OPT_CPU:
		if (runner_parse_duration_ms(arg, &v) < 0 || v == 0)
			return rctl_usage_error(o->cmd, "bad --cpu '%s' (want e.g. 10s)", arg);
		t->cpu_seconds = (v + 999) / 1000;
		return RCTL_CONTINUE;
	case OPT_MEMORY:
		return set_limit(o, "--memory", arg, &t->address_space_bytes);
	default:
		if (runner_parse_size(arg, &v) < 0 || v == 0)
			return rctl_usage_error(o->cmd, "bad --processes '%s'", arg);
		t->processes = v;
		return RCTL_CONTINUE;
	}
}

static int
add_env(struct rctl_run_opts *o, const char *kv)
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
set_duration(struct rctl_run_opts *o, const char *name, const char *arg, uint64_t *out)
{
	if (runner_parse_duration_ms(arg, out) < 0)
		return rctl_usage_error(o->cmd, "bad %s '%s' (want e.g. 500ms, 10s, 2m)", name, arg);
	return RCTL_CONTINUE;
}

static int
set_limit(struct rctl_run_opts *o, const char *name, const char *arg, uint64_t *out)
{
	/* 0 would mean "the server's cap" on the wire, the opposite of what
	 * someone typing it expects. */
	if (runner_parse_size(arg, out) < 0 || *out == 0)
		return rctl_usage_error(o->cmd, "bad %s '%s' (want a size of at least 1, e.g. 4096, 64K)", name, arg);
	return RCTL_CONTINUE;
}

/* keep, discard, tail (the whole session buffer) or tail=N. */
static int
set_output(struct rctl_run_opts *o, const char *arg)
{
	if (strcmp(arg, "keep") == 0) {
		o->output_mode = RUNNER__V1__OUTPUT_MODE__OUTPUT_KEEP;
	} else if (strcmp(arg, "discard") == 0) {
		o->output_mode = RUNNER__V1__OUTPUT_MODE__OUTPUT_DISCARD;
	} else if (strcmp(arg, "tail") == 0 || strncmp(arg, "tail=", 5) == 0) {
		o->output_mode = RUNNER__V1__OUTPUT_MODE__OUTPUT_TAIL;
		if (arg[4] == '=' && (runner_parse_size(arg + 5, &o->output_tail) < 0 || o->output_tail == 0))
			return rctl_usage_error(o->cmd, "bad --output '%s' (want tail=N, N a size such as 64K)", arg);
	} else {
		return rctl_usage_error(o->cmd, "bad --output '%s' (want keep, discard or tail=N)", arg);
	}
	return RCTL_CONTINUE;
}

/* The RCTL_RUNOPT_* bit an option needs, 0 for the common ones. */
static unsigned
option_bit(int opt)
{
	switch (opt) {
	case OPT_STDIN:
		return RCTL_RUNOPT_STDIN;
	case OPT_JSON:
		return RCTL_RUNOPT_JSON;
	case OPT_TAG:
		return RCTL_RUNOPT_TAG;
	case OPT_KEY:
		return RCTL_RUNOPT_KEY;
	case 'i':
		return RCTL_RUNOPT_INTERACTIVE;
	case 't':
	case OPT_DETACH_KEYS:
		return RCTL_RUNOPT_TTY;
	case OPT_OUTPUT:
		return RCTL_RUNOPT_OUTPUT;
	default:
		return 0;
	}
}

static const char *
option_name(int opt)
{
	for (const struct option *lo = run_longopts; lo->name != NULL; lo++)
		if (lo->val == opt)
			return lo->name;
	return "?";
}

static int
run_opt(struct rctl_run_opts *o, int opt, char *arg)
{
	unsigned bit = option_bit(opt);

	if (opt == 't' && !(o->accept & bit))
		return rctl_usage_error(o->cmd, "-t: %s gives the command pipes, not a terminal; use "
					"runnerctl exec -it for one", o->cmd);
	if (bit != 0 && !(o->accept & bit))
		return rctl_usage_error(o->cmd, "option --%s does not apply to %s", option_name(opt), o->cmd);
	switch (opt) {
	case 'e':
		return add_env(o, arg);
	case 'w':
		return set_workdir(o, arg);
	case 'i':
		o->interactive = true;
		return RCTL_CONTINUE;
	case 't':
		o->tty = true;
		return RCTL_CONTINUE;
	case OPT_DETACH_KEYS:
		o->detach_keys = arg;
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
	case OPT_TAG:
		o->tag = arg;
		return RCTL_CONTINUE;
	case OPT_KEY:
		o->key = arg;
		return RCTL_CONTINUE;
	case OPT_PROFILE:
		o->spec.profile = arg;
		return RCTL_CONTINUE;
	case OPT_PARAM:
		return add_param(o, arg);
	case OPT_OUTPUT:
		return set_output(o, arg);
	case OPT_NO_NETWORK:
	case OPT_WRITABLE:
	case OPT_CPU:
	case OPT_MEMORY:
	case OPT_PROCESSES:
		return add_tighten(o, opt, arg);
	default:
		return rctl_usage_error(o->cmd, "unhandled option %d", opt);
	}
}

static int
set_command(struct rctl_run_opts *o)
{
	if (!o->shell) {
		if (o->n_operands == 0)
			return rctl_usage_error(o->cmd, "no command given (%s [OPTIONS] -- CMD [ARG...])", o->cmd);
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

int
rctl_run_opts_parse(struct rctl_globals *g, struct rctl_run_opts *o, int argc, char **argv)
{
	int opt, rv;

	runner__v1__command_spec__init(&o->spec);
	/* There cannot be more -e than words on the command line. */
	o->env = calloc((size_t) argc, sizeof(*o->env));
	o->env_ptrs = calloc((size_t) argc, sizeof(*o->env_ptrs));
	o->params = calloc((size_t) argc, sizeof(*o->params));
	o->param_ptrs = calloc((size_t) argc, sizeof(*o->param_ptrs));
	runner__v1__restrictions__init(&o->tighten);
	if (o->env == NULL || o->env_ptrs == NULL || o->params == NULL || o->param_ptrs == NULL) {
		perror(PROG);
		return RCTL_EXIT_IO;
	}
	o->spec.env = o->env_ptrs;
	o->spec.params = o->param_ptrs;

	opterr = 0;
	/* Options anywhere before "--", which ends them: the child's own
	 * options go after it. */
	while ((opt = getopt_long(argc, argv, ":e:w:ith", run_longopts, NULL)) != -1) {
		if ((rv = rctl_common_opt(g, o->cmd, opt, argc, argv)) == RCTL_NOT_MINE)
			rv = run_opt(o, opt, optarg);
		if (rv != RCTL_CONTINUE)
			return rv;
	}
	o->operands = argv + optind;
	o->n_operands = argc - optind;
	return set_command(o);
}
