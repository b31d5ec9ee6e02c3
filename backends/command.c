#include "command.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole environment a child gets besides what the request adds; the
 * daemon's own environment never leaks into children. */
static const char *const base_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/",
	"LANG=C.UTF-8",
	"TERM=dumb",
};
#define BASE_ENV_COUNT (sizeof(base_env) / sizeof(base_env[0]))

/* Names that let a caller inject code or alter libc/loader behaviour in
 * the child (and, for setuid helpers such as firejail, in privileged code). */
static const char *const refused_prefixes[] = { "LD_", "GCONV_", "MALLOC_", "GLIBC_" };
static const char *const refused_names[] = {
	"GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "HOSTALIASES", "RES_OPTIONS",
	"LOCALDOMAIN", "TMPDIR_UNSAFE", "BASH_ENV", "ENV", "IFS", "SHELLOPTS", "PS4",
};

int
command_check_env_name(const char *name, size_t len, rstatus *st)
{
	if (len == 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "env: empty variable name");
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '=' || name[i] == '\0')
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "env: variable name %.64s contains '%s'", name,
					    name[i] == '=' ? "=" : "NUL");
	}
	for (size_t i = 0; i < sizeof(refused_prefixes) / sizeof(refused_prefixes[0]); i++)
		if (strncmp(name, refused_prefixes[i], strlen(refused_prefixes[i])) == 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "env: %.64s is refused (%s* variables alter the loader or libc)",
					    name, refused_prefixes[i]);
	for (size_t i = 0; i < sizeof(refused_names) / sizeof(refused_names[0]); i++)
		if (strcmp(name, refused_names[i]) == 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "env: %.64s is refused (it alters how programs start)", name);
	return 0;
}

void
command_free(struct command *cmd)
{
	if (cmd == NULL)
		return;
	for (char **p = cmd->argv; p && *p; p++)
		free(*p);
	for (char **p = cmd->envp; p && *p; p++)
		free(*p);
	free(cmd->argv);
	free(cmd->envp);
	free(cmd->cwd);
	free(cmd->backend);
	memset(cmd, 0, sizeof(*cmd));
}

static int
build_argv(const Runner__V1__CommandSpec *spec, struct command *cmd, rstatus *st)
{
	bool has_shell = spec->shell != NULL && spec->shell[0] != '\0';

	if (spec->n_argv > 0 && has_shell)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command: set argv or shell, not both");
	if (spec->n_argv == 0 && !has_shell)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command: argv is empty and no shell command given");
	if (spec->n_argv > 0 && spec->argv[0][0] == '\0')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command: argv[0] is empty");

	size_t n = has_shell ? 3 : spec->n_argv;
	if ((cmd->argv = calloc(n + 1, sizeof(char *))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s = has_shell ? (i == 0 ? "/bin/sh" : i == 1 ? "-c" : spec->shell)
					  : spec->argv[i];
		if ((cmd->argv[i] = strdup(s)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

/* Request variables replace base ones of the same name. */
static int
build_env(const Runner__V1__CommandSpec *spec, struct command *cmd, rstatus *st)
{
	size_t n = 0;
	int rv;

	if ((cmd->envp = calloc(BASE_ENV_COUNT + spec->n_env + 1, sizeof(char *))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < spec->n_env; i++) {
		const Runner__V1__EnvVar *v = spec->env[i];
		const char *name = v->name ? v->name : "";
		size_t nlen = strlen(name);

		if ((rv = command_check_env_name(name, nlen, st)) < 0)
			return rv;
		/* An empty value's data is NULL, which memchr may not be given. */
		if (v->value.len > 0 && memchr(v->value.data, '\0', v->value.len) != NULL)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "env: value of %.64s contains NUL", name);
		/* A later duplicate wins, as in a shell. */
		for (size_t j = 0; j < n; j++) {
			if (strncmp(cmd->envp[j], name, nlen) == 0 && cmd->envp[j][nlen] == '=') {
				free(cmd->envp[j]);
				cmd->envp[j] = cmd->envp[--n];
				cmd->envp[n] = NULL;
				break;
			}
		}
		if ((cmd->envp[n] = malloc(nlen + 1 + v->value.len + 1)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		memcpy(cmd->envp[n], name, nlen);
		cmd->envp[n][nlen] = '=';
		if (v->value.len > 0)
			memcpy(cmd->envp[n] + nlen + 1, v->value.data, v->value.len);
		cmd->envp[n][nlen + 1 + v->value.len] = '\0';
		n++;
	}
	for (size_t i = 0; i < BASE_ENV_COUNT; i++) {
		size_t nlen = strcspn(base_env[i], "=") + 1;
		bool overridden = false;

		for (size_t j = 0; j < n && !overridden; j++)
			overridden = strncmp(cmd->envp[j], base_env[i], nlen) == 0;
		if (!overridden && (cmd->envp[n++] = strdup(base_env[i])) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

/* A terminal's TERM: a terminfo name, nothing a program could misread. */
static bool
term_name_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 64)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
		      strchr("-_.+", *t) != NULL))
			return false;
	return true;
}

/* The terminal's window (defaults 24 x 80) and TERM: the terminal's own,
 * else the request's env TERM, else "xterm" (the base "dumb" would turn
 * off what a terminal is asked for). */
static int
build_terminal(const Runner__V1__CommandSpec *spec, struct command *cmd, rstatus *st)
{
	const Runner__V1__Terminal *t = spec->terminal;
	const char *term = t->term != NULL && t->term[0] != '\0' ? t->term : NULL;
	bool request_term = false;
	char **e, *value;

	if (t->rows > 65535 || t->cols > 65535)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "terminal: %ux%u is larger than 65535x65535",
				    (unsigned) t->rows, (unsigned) t->cols);
	if (term != NULL && !term_name_ok(term))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "terminal.term: want 1-64 letters, digits or -_.+, not \"%.64s\"", term);
	cmd->tty_rows = t->rows ? t->rows : 24;
	cmd->tty_cols = t->cols ? t->cols : 80;
	for (size_t i = 0; i < spec->n_env; i++)
		request_term |= spec->env[i]->name != NULL && strcmp(spec->env[i]->name, "TERM") == 0;
	if (term == NULL && request_term)
		return 0;
	if (asprintf(&value, "TERM=%s", term ? term : "xterm") < 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (e = cmd->envp; *e && strncmp(*e, "TERM=", 5) != 0; e++)
		;
	free(*e); /* build_env always sets TERM: *e is never the terminating NULL */
	*e = value;
	return 0;
}

static uint64_t
clamp_limit(uint64_t requested, uint64_t server)
{
	return (requested == 0 || requested > server) ? server : requested;
}

int
command_from_spec(const Runner__V1__CommandSpec *spec, const struct command_limits *lim,
		  struct command *cmd, rstatus *st)
{
	int rv;

	memset(cmd, 0, sizeof(*cmd));
	if (spec == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command: missing");
	if ((rv = build_argv(spec, cmd, st)) < 0 || (rv = build_env(spec, cmd, st)) < 0) {
		command_free(cmd);
		return rv;
	}
	const char *cwd = (spec->cwd && spec->cwd[0]) ? spec->cwd
						      : (lim->default_cwd ? lim->default_cwd : "/");
	if ((cmd->cwd = strdup(cwd)) == NULL) {
		command_free(cmd);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	cmd->backend = strdup((spec->backend && spec->backend[0]) ? spec->backend : "exec");
	if (cmd->backend == NULL) {
		command_free(cmd);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	cmd->timeout_ms = spec->timeout_ms ? spec->timeout_ms : lim->default_timeout_ms;
	if (lim->max_timeout_ms && (cmd->timeout_ms == 0 || cmd->timeout_ms > lim->max_timeout_ms))
		cmd->timeout_ms = lim->max_timeout_ms;
	cmd->stdout_limit = clamp_limit(spec->stdout_limit, lim->output_limit);
	cmd->stderr_limit = clamp_limit(spec->stderr_limit, lim->output_limit);
	if (spec->terminal != NULL) {
		if ((rv = build_terminal(spec, cmd, st)) < 0) {
			command_free(cmd);
			return rv;
		}
		cmd->pty_limit = spec->pty_limit ? clamp_limit(spec->pty_limit, lim->output_limit)
						 : cmd->stdout_limit;
	}
	return 0;
}
