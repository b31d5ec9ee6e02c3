/* command.h — a validated, C-ready form of a runner.v1.CommandSpec.
 *
 * Everything that reaches a child goes through command_from_spec first, so
 * the rules live in one place: exactly one of argv/shell, no loader-hijacking
 * environment names, a clean base environment, limits clamped to the
 * server's. Backends consume a struct command and never see the request.
 */
#ifndef RUNNER_COMMAND_H
#define RUNNER_COMMAND_H

#include <stdint.h>

#include "runner/v1/runner.pb-c.h"
#include "status.h"

/* The server-side ceilings and defaults a request is clamped to. */
struct command_limits {
	uint64_t output_limit;       /* per-stream cap, bytes */
	uint64_t default_timeout_ms; /* 0: none */
	uint64_t max_timeout_ms;     /* 0: unbounded */
	const char *default_cwd;     /* NULL: "/" */
};

struct command {
	char **argv;   /* NULL-terminated; argv[0] as given (not yet resolved) */
	char **envp;   /* NULL-terminated NAME=VALUE list, base + request */
	char *cwd;
	char *backend;       /* backend name; "exec" when the request named none */
	uint64_t timeout_ms; /* 0: none */
	uint64_t stdout_limit;
	uint64_t stderr_limit;
	/* On a terminal (CommandSpec.terminal): its window, both > 0; 0 x 0
	 * on pipes. Its TERM is in envp. */
	unsigned tty_rows, tty_cols;
	uint64_t pty_limit;  /* with a terminal: the cap of RunResult.pty */
};

/* Validate `spec` and fill `cmd` (all strings copied). INVALID_ARGUMENT
 * names the offending field. On failure `cmd` is left empty. */
int command_from_spec(const Runner__V1__CommandSpec *spec, const struct command_limits *lim,
		      struct command *cmd, rstatus *st);

/* Free what command_from_spec allocated; accepts a zeroed or half-built one. */
void command_free(struct command *cmd);

/* Is `name` an environment name a request may set? Returns 0 or fills st. */
int command_check_env_name(const char *name, size_t len, rstatus *st);

#endif
