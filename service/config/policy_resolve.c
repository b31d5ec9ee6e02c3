/* policy_resolve.c — a request under its profile: parameters validated
 * and expanded, tightenings checked (never a loosening), the effective
 * command and policy produced, owned by the request alone. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/profiles_internal.h"

void
resolved_free(struct resolved *r)
{
	command_free(&r->cmd);
	for (size_t i = 0; i < r->n_owned; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->policy.read_only);
	free(r->policy.read_write);
	free(r->policy.hidden);
	free(r->policy.docker.mounts);
	memset(r, 0, sizeof(*r));
}

const struct profile *
profile_find(const struct profiles *p, const char *name, const char *field, rstatus *st)
{
	if (name == NULL || name[0] == '\0')
		return &p->v[p->default_index];
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return &p->v[i];
	rstatus_fail(st, RS_NOT_FOUND, "%s: no profile \"%.64s\"", field, name);
	return NULL;
}

static char *
own(struct resolved *r, char *s)
{
	char **v;

	if (s == NULL || (v = realloc(r->owned, (r->n_owned + 1) * sizeof(*v))) == NULL) {
		free(s);
		return NULL;
	}
	r->owned = v;
	return r->owned[r->n_owned++] = s;
}

static int
deny(rstatus *st, const char *field, const char *profile, const char *why)
{
	return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: %s (profile %s)", field, why, profile);
}

/* Expand a template list into resolved paths owned by `r`. */
static int
expand_list(struct resolved *r, const struct profile *pr, char *const *values, char **tmpl,
	    const char *field, char ***out, rstatus *st)
{
	size_t n = 0;

	for (char **p = tmpl; p && *p; p++)
		n++;
	if ((*out = calloc(n + 1, sizeof(char *))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char *path = NULL;
		int rv;
		if ((rv = template_pin(tmpl[i], pr->params, values, pr->n_params, field, &path, st)) < 0)
			return rv;
		if (((*out)[i] = own(r, path)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

static int
resolve_params(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
	       char **values, rstatus *st)
{
	int rv = params_resolve(pr, spec->params, spec->n_params, values, st);

	/* r owns the values from here, those resolved before a failure too. */
	for (size_t k = 0; k < pr->n_params && values[k] != NULL; k++)
		if (own(r, values[k]) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return rv;
}

/* A requested value may not exceed the profile's; 0 means "as the profile". */
static int
tighten(uint64_t *effective, uint64_t profile_value, uint64_t requested, const char *field,
	const char *profile, rstatus *st)
{
	if (requested == 0) {
		*effective = profile_value;
		return 0;
	}
	if (profile_value != 0 && requested > profile_value)
		return deny(st, field, profile, "asks for more than the profile grants");
	*effective = requested;
	return 0;
}

/* A terminal's output (RunResult.pty) is capped like stdout: by default at
 * the stdout cap in force, never above the profile's limits.stdout. */
static int
resolve_pty_limit(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
		  rstatus *st)
{
	uint64_t asked;

	if (r->cmd.tty_rows == 0)
		return 0;
	if (spec->pty_limit == 0) {
		r->cmd.pty_limit = r->cmd.stdout_limit;
		return 0;
	}
	return tighten(&asked, pr->limits.stdout_limit, spec->pty_limit, "command.pty_limit", pr->name, st);
}

static int
resolve_limits(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
	       rstatus *st)
{
	const Runner__V1__Restrictions *t = spec->tighten;
	Runner__V1__Restrictions none = RUNNER__V1__RESTRICTIONS__INIT;
	struct policy_limits *l = &r->policy.limits;
	int rv;

	if (t == NULL)
		t = &none;
	if ((rv = tighten(&l->timeout_ms, pr->limits.timeout_ms, spec->timeout_ms, "command.timeout_ms", pr->name, st)) < 0 ||
	    (rv = tighten(&l->stdout_limit, pr->limits.stdout_limit, spec->stdout_limit, "command.stdout_limit", pr->name, st)) < 0 ||
	    (rv = tighten(&l->stderr_limit, pr->limits.stderr_limit, spec->stderr_limit, "command.stderr_limit", pr->name, st)) < 0 ||
	    (rv = tighten(&l->cpu_seconds, pr->limits.cpu_seconds, t->cpu_seconds, "tighten.cpu_seconds", pr->name, st)) < 0 ||
	    (rv = tighten(&l->address_space, pr->limits.address_space, t->address_space_bytes, "tighten.address_space_bytes", pr->name, st)) < 0 ||
	    (rv = tighten(&l->processes, pr->limits.processes, t->processes, "tighten.processes", pr->name, st)) < 0 ||
	    (rv = tighten(&l->file_size, pr->limits.file_size, t->file_size_bytes, "tighten.file_size_bytes", pr->name, st)) < 0 ||
	    (rv = tighten(&l->open_files, pr->limits.open_files, t->open_files, "tighten.open_files", pr->name, st)) < 0 ||
	    (rv = tighten(&l->memory, pr->limits.memory, t->memory_bytes, "tighten.memory_bytes", pr->name, st)) < 0 ||
	    (rv = tighten(&l->cpus_milli, pr->limits.cpus_milli, t->cpus_milli, "tighten.cpus_milli", pr->name, st)) < 0)
		return rv;
	/* The command layer applied the server's ceilings; the profile's own
	 * limits come on top. */
	if (l->timeout_ms && (r->cmd.timeout_ms == 0 || l->timeout_ms < r->cmd.timeout_ms))
		r->cmd.timeout_ms = l->timeout_ms;
	if (l->stdout_limit && l->stdout_limit < r->cmd.stdout_limit)
		r->cmd.stdout_limit = l->stdout_limit;
	if (l->stderr_limit && l->stderr_limit < r->cmd.stderr_limit)
		r->cmd.stderr_limit = l->stderr_limit;
	l->timeout_ms = r->cmd.timeout_ms;
	l->stdout_limit = r->cmd.stdout_limit;
	l->stderr_limit = r->cmd.stderr_limit;
	return resolve_pty_limit(pr, spec, r, st);
}

/* Writable paths: the profile's, or the subset the request keeps. */
static int
resolve_writable(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
		 char **profile_rw, rstatus *st)
{
	const Runner__V1__Restrictions *t = spec->tighten;
	char real[PATH_MAX];

	r->policy.read_write = profile_rw;
	r->policy.restrict_writes = pr->restrict_writes;
	if (t == NULL || t->n_read_write == 0)
		return 0;
	if ((r->policy.read_write = calloc(t->n_read_write + 1, sizeof(char *))) == NULL) {
		r->policy.read_write = profile_rw;
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	r->policy.restrict_writes = true;
	for (size_t i = 0; i < t->n_read_write; i++) {
		bool ok = false;
		if (realpath(t->read_write[i], real) != NULL)
			for (char **p = profile_rw; p && *p && !ok; p++)
				ok = path_within(real, *p);
		if (!ok) {
			free(profile_rw);
			return deny(st, "tighten.read_write", pr->name, "not inside a path the profile makes writable");
		}
		if ((r->policy.read_write[i] = own(r, strdup(real))) == NULL) {
			free(profile_rw);
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	free(profile_rw);
	return 0;
}

static int
resolve_env(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
	    rstatus *st)
{
	size_t n = 0, extra = 0;
	char **envp;

	for (size_t i = 0; pr->env_allow && i < spec->n_env; i++) {
		bool ok = false;
		for (char **a = pr->env_allow; *a && !ok; a++)
			ok = strcmp(*a, spec->env[i]->name) == 0;
		if (!ok) {
			char field[128];
			snprintf(field, sizeof(field), "command.env.%.64s", spec->env[i]->name);
			return deny(st, field, pr->name, "not in the profile's env.allow");
		}
	}
	for (char **e = pr->env_set; e && *e; e++)
		extra++;
	if (extra == 0)
		return 0;
	for (char **e = r->cmd.envp; *e; e++)
		n++;
	if ((envp = realloc(r->cmd.envp, (n + extra + 1) * sizeof(char *))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	r->cmd.envp = envp;
	/* Fixed values win over the request's and the base's. */
	for (char **e = pr->env_set; *e; e++) {
		size_t nlen = strcspn(*e, "=") + 1;
		for (size_t i = 0; i < n; i++) {
			if (strncmp(envp[i], *e, nlen) == 0) {
				free(envp[i]);
				envp[i] = envp[--n];
				break;
			}
		}
		if ((envp[n] = strdup(*e)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		envp[++n] = NULL;
	}
	return 0;
}

static int
resolve_cwd(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
	    char *workdir, rstatus *st)
{
	char real[PATH_MAX];

	if (workdir == NULL)
		return 0;
	r->policy.workdir = workdir;
	if (spec->cwd == NULL || spec->cwd[0] == '\0') {
		free(r->cmd.cwd);
		if ((r->cmd.cwd = strdup(workdir)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		return 0;
	}
	/* Inside a container the path is the container's: compared as text. */
	if (strcmp(pr->backend->name, "docker") == 0) {
		if (spec->cwd[0] != '/' || path_has_dotdot(spec->cwd) || !path_within(spec->cwd, workdir))
			return deny(st, "command.cwd", pr->name, "outside the profile's workdir");
		return 0;
	}
	if (realpath(spec->cwd, real) == NULL || !path_within(real, workdir))
		return deny(st, "command.cwd", pr->name, "outside the profile's workdir");
	return 0;
}

/* The docker mapping: fixed values, and bind mounts whose sources are
 * expanded, pinned to what they resolve to now, and must exist. */
static int
resolve_docker(struct resolved *r, const struct profile *pr, char *const *values, rstatus *st)
{
	const struct profile_docker *d = &pr->docker;
	struct stat sb;
	char **src = NULL;
	int rv;

	r->policy.docker = (struct policy_docker){
		.image = d->image,
		.tmpfs = d->tmpfs,
		.tmpfs_size = d->tmpfs_size,
		.memory = d->memory,
		.cpus_milli = d->cpus_milli,
		.pids = d->pids,
		.pool = d->pool,
	};
	if (d->n_mounts == 0)
		return 0;
	if ((rv = expand_list(r, pr, values, d->mount_sources, "docker.mounts.source", &src, st)) < 0) {
		free(src);
		return rv;
	}
	if ((r->policy.docker.mounts = calloc(d->n_mounts, sizeof(struct policy_mount))) == NULL) {
		free(src);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < d->n_mounts; i++) {
		if (stat(src[i], &sb) != 0) {
			rv = rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno,
						"docker.mounts.source: %s (profile %s)", src[i], pr->name);
			free(src);
			return rv;
		}
		r->policy.docker.mounts[i] = (struct policy_mount){
			.source = src[i], /* owned by r */
			.target = d->mount_targets[i],
			.rw = d->mount_rw[i],
		};
		r->policy.docker.n_mounts++;
	}
	free(src);
	return 0;
}

int
profiles_resolve(const struct profiles *p, const Runner__V1__CommandSpec *spec,
		 struct resolved *r, rstatus *st)
{
	const struct profile *pr = NULL;
	char *values[32] = { 0 }, **rw = NULL, *workdir = NULL;
	int rv;

	memset(r, 0, sizeof(*r));
	if (spec == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command: missing");
	if ((pr = profile_find(p, spec->profile, "command.profile", st)) == NULL)
		return -RS_NOT_FOUND;
	if (spec->backend && spec->backend[0] && strcmp(spec->backend, pr->backend->name) != 0)
		return deny(st, "command.backend", pr->name, "the profile fixes the backend");
	if ((rv = command_from_spec(spec, &p->server, &r->cmd, st)) < 0)
		return rv;
	free(r->cmd.backend);
	if ((r->cmd.backend = strdup(pr->backend->name)) == NULL) {
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	r->policy.profile = pr->name;
	r->policy.backend = pr->backend->name;
	r->policy.network = pr->network && !(spec->tighten && spec->tighten->no_network);
	r->policy.private_tmp = pr->private_tmp;
	r->policy.hide_home = pr->hide_home;
	r->policy.user = pr->user;
	r->policy.unix_sockets = pr->unix_sockets;
	if ((rv = resolve_params(pr, spec, r, values, st)) < 0 ||
	    (rv = expand_list(r, pr, values, pr->read_only, "filesystem.read_only", &r->policy.read_only, st)) < 0 ||
	    (rv = expand_list(r, pr, values, pr->hidden, "filesystem.hidden", &r->policy.hidden, st)) < 0 ||
	    (rv = expand_list(r, pr, values, pr->read_write, "filesystem.read_write", &rw, st)) < 0)
		goto fail;
	rv = resolve_writable(pr, spec, r, rw, st);
	rw = NULL; /* resolve_writable took it, whatever happened */
	if (rv < 0)
		goto fail;
	if (pr->workdir != NULL) {
		char *wd[] = { pr->workdir, NULL }, **out = NULL;
		if ((rv = expand_list(r, pr, values, wd, "workdir", &out, st)) < 0) {
			free(out);
			goto fail;
		}
		workdir = out[0];
		free(out);
	}
	if ((rv = resolve_docker(r, pr, values, st)) < 0)
		goto fail;
	if ((rv = resolve_limits(pr, spec, r, st)) < 0 || (rv = resolve_env(pr, spec, r, st)) < 0 ||
	    (rv = resolve_cwd(pr, spec, r, workdir, st)) < 0)
		goto fail;
	/* The profile passed its backend's check at load; a tightening may ask
	 * for what the backend cannot do (no network on exec): refused, as at
	 * load, never silently dropped. */
	if ((rv = pr->backend->check(&r->policy, st)) < 0)
		goto fail;
	return 0;
fail:
	free(rw);
	resolved_free(r);
	return rv;
}
