#include "config/profiles.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_file.h"
#include "config/profiles_internal.h"
#include "units.h"

static char **
strv_dup(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(char *));

	for (size_t i = 0; out && i < n; i++)
		if ((out[i] = strdup(v[i])) == NULL)
			return out; /* caller frees; a NULL entry ends it early */
	return out;
}

static void
strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void
profile_free(struct profile *pr)
{
	free(pr->name);
	strv_free(pr->read_only);
	strv_free(pr->read_write);
	strv_free(pr->hidden);
	strv_free(pr->env_allow);
	strv_free(pr->env_set);
	free(pr->workdir);
	free(pr->user);
	strv_free(pr->unix_sockets);
	for (size_t i = 0; i < pr->n_params; i++) {
		free(pr->params[i].name);
		strv_free(pr->params[i].roots);
	}
	free(pr->params);
	free(pr->docker.image);
	strv_free(pr->docker.tmpfs);
	strv_free(pr->docker.mount_sources);
	strv_free(pr->docker.mount_targets);
	free(pr->docker.mount_rw);
	profile_files_free(&pr->files);
}

void
profiles_free(struct profiles *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		profile_free(&p->v[i]);
	free(p->v);
	free(p);
}

size_t
profiles_count(const struct profiles *p)
{
	return p->n;
}

const char *
profiles_name(const struct profiles *p, size_t i)
{
	return p->v[i].name;
}

const char *
profiles_backend(const struct profiles *p, size_t i)
{
	return p->v[i].backend->name;
}


/* What a sandbox profile (firejail, docker) gets for each rule it does not
 * state: safe unless stated. A profile loosens any of them explicitly
 * (user: root, network: allowed, read_only_root: false, private_tmp:
 * false, a limit "unlimited"). The limits are nsjail's defaults, processes
 * added. */
#define SANDBOX_USER "runnerd-sandbox"  /* firejail: a regular uid (it refuses system users) */
#define CONTAINER_USER "65534:65534"    /* docker: nobody:nogroup, in any image */
static const struct policy_limits sandbox_limits = {
	.timeout_ms = 600 * 1000,
	.cpu_seconds = 600,
	.address_space = 512ull << 20,
	.file_size = 1ull << 20,
	.open_files = 32,
	.processes = 64,
};

bool
profile_is_sandbox(const struct profile *pr)
{
	return strcmp(pr->backend->name, "exec") != 0;
}

static int
parse_opt(const char *file, const char *prof, const char *field, const char *v, bool duration,
	  uint64_t *out, rstatus *st)
{
	if (v == NULL)
		return 0;
	if ((duration ? parse_duration_ms(v, out) : parse_size(v, out)) < 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: %s: \"%s\" is not a %s", file,
				    prof, field, v, duration ? "duration (250ms, 10s, 2m)" : "size (512, 64K, 4M)");
	return 0;
}

enum limit_kind { LIMIT_DURATION, LIMIT_SIZE, LIMIT_COUNT };

/* A resource limit: not stated (the default), "unlimited" (0), or a
 * positive value of its kind. */
static int
parse_limit(const char *file, const char *prof, const char *field, const char *v, enum limit_kind kind,
	    uint64_t dflt, uint64_t *out, rstatus *st)
{
	static const char *const expected[] = { "duration (250ms, 10s, 2m)", "size (512, 64K, 4M)",
						"count (a positive integer)" };
	char *end;
	int rv = 0;

	*out = dflt;
	if (v == NULL)
		return 0;
	if (strcmp(v, "unlimited") == 0) {
		*out = 0;
		return 0;
	}
	if (kind == LIMIT_DURATION)
		rv = parse_duration_ms(v, out);
	else if (kind == LIMIT_SIZE)
		rv = parse_size(v, out);
	else if (v[0] < '0' || v[0] > '9' || (errno = 0, *out = strtoull(v, &end, 10), errno != 0 || *end != '\0'))
		rv = -1;
	if (rv < 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: %s: \"%s\" is not a %s or unlimited",
				    file, prof, field, v, expected[kind]);
	if (*out == 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: %s: 0; write unlimited for no limit", file, prof, field);
	return 0;
}

static int
parse_cpus(const char *v, uint64_t *milli)
{
	uint64_t whole = 0, frac = 0, scale = 100;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((whole = whole * 10 + (uint64_t) (*p - '0')) > 1024)
			return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) {
			if (scale == 0)
				return -1; /* more than three decimals */
			frac += (uint64_t) (*p - '0') * scale;
		}
	}
	if (*p != '\0' || whole * 1000 + frac == 0)
		return -1;
	*milli = whole * 1000 + frac;
	return 0;
}

static int
compile_limits(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	static const struct cfg_limits none = { 0 };
	const struct cfg_limits *l = c->limits ? c->limits : &none;
	const struct policy_limits *d = &sandbox_limits, zero = { 0 };
	uint64_t cpu_ms = 0;
	int rv;

	if (!profile_is_sandbox(pr))
		d = &zero;
	if ((rv = parse_limit(file, c->name, "limits.timeout", l->timeout, LIMIT_DURATION, d->timeout_ms,
			      &pr->limits.timeout_ms, st)) < 0 ||
	    (rv = parse_limit(file, c->name, "limits.cpu", l->cpu, LIMIT_DURATION, d->cpu_seconds * 1000, &cpu_ms,
			      st)) < 0 ||
	    (rv = parse_limit(file, c->name, "limits.address_space", l->address_space, LIMIT_SIZE,
			      d->address_space, &pr->limits.address_space, st)) < 0 ||
	    (rv = parse_limit(file, c->name, "limits.file_size", l->file_size, LIMIT_SIZE, d->file_size,
			      &pr->limits.file_size, st)) < 0 ||
	    (rv = parse_limit(file, c->name, "limits.open_files", l->open_files, LIMIT_COUNT, d->open_files,
			      &pr->limits.open_files, st)) < 0 ||
	    (rv = parse_limit(file, c->name, "limits.processes", l->processes, LIMIT_COUNT, d->processes,
			      &pr->limits.processes, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.stdout", l->stdout_cap, false, &pr->limits.stdout_limit, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.stderr", l->stderr_cap, false, &pr->limits.stderr_limit, st)) < 0 ||
	    (rv = parse_limit(file, c->name, "limits.memory", l->memory, LIMIT_SIZE, 0, &pr->limits.memory, st)) < 0)
		return rv;
	if (l->cpus != NULL && parse_cpus(l->cpus, &pr->limits.cpus_milli) < 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: limits.cpus: \"%s\" is not a number of CPUs (0.5, 2)", file,
				    c->name, l->cpus);
	/* RLIMIT_CPU counts whole seconds; round up so "500ms" still limits. */
	pr->limits.cpu_seconds = (cpu_ms + 999) / 1000;
	return 0;
}

static int
compile_params(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	if ((pr->params = calloc(c->params_count + 1, sizeof(*pr->params))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (unsigned i = 0; i < c->params_count; i++) {
		struct param_decl *d = &pr->params[i];

		pr->n_params++;
		if ((d->name = strdup(c->params[i].name)) == NULL ||
		    (d->roots = calloc(c->params[i].roots_count + 1, sizeof(char *))) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		for (unsigned k = 0; k < c->params[i].roots_count; k++) {
			char real[PATH_MAX];
			if (realpath(c->params[i].roots[k], real) == NULL)
				return rstatus_fail_errno(st, RS_INVALID_ARGUMENT, errno,
							  "%s: profile %s: params.%s.roots: %s", file,
							  c->name, d->name, c->params[i].roots[k]);
			if ((d->roots[d->n_roots++] = strdup(real)) == NULL)
				return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	return 0;
}

static int
compile_env(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	const struct cfg_env *e = c->env;
	int rv;

	if (e == NULL)
		return 0;
	if (e->allow != NULL && (pr->env_allow = strv_dup(e->allow, e->allow_count)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if ((pr->env_set = calloc(e->set_count + 1, sizeof(char *))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (unsigned i = 0; i < e->set_count; i++) {
		const char *name = e->set[i].name, *value = e->set[i].value ? e->set[i].value : "";
		rstatus why;
		if ((rv = command_check_env_name(name, strlen(name), &why)) < 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: env.set: %s", file,
					    c->name, why.message);
		if (asprintf(&pr->env_set[i], "%s=%s", name, value) < 0)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

/* Paths of a profile: absolute, plain, and only known parameters. */
int
check_templates(const char *file, const struct profile *pr, const char *field, char **v,
		rstatus *st)
{
	for (char **p = v; p && *p; p++) {
		char *dummy = NULL, *values[32];
		int rv;

		for (size_t i = 0; i < pr->n_params && i < 32; i++)
			values[i] = pr->params[i].roots[0];
		if ((*p)[0] != '/' && strncmp(*p, "{{", 2) != 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: %s: %s is not absolute",
					    file, pr->name, field, *p);
		rstatus why;
		if ((rv = template_expand(*p, pr->params, values, pr->n_params, field, &dummy, &why)) < 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: %s", file, pr->name,
					    why.message);
		if (!path_is_plain(dummy) || path_has_dotdot(dummy)) {
			free(dummy);
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: profile %s: %s: %s has special characters or \"..\"", file,
					    pr->name, field, *p);
		}
		free(dummy);
	}
	return 0;
}

/* A path inside a container: absolute, plain, no "..", not "/" itself and
 * not under /.runnerd (where the docker backend mounts its own helper). */
static int
check_container_path(const char *file, const char *prof, const char *field, const char *path,
		     rstatus *st)
{
	if (path[0] != '/' || !path_is_plain(path) || path_has_dotdot(path) || strcmp(path, "/") == 0 ||
	    path_within(path, "/.runnerd"))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: %s: \"%s\" is not an absolute plain path other than / "
				    "(no special characters, no \"..\", not under /.runnerd)",
				    file, prof, field, path);
	return 0;
}

/* "1", "0.5", "1.25": thousandths of a CPU. */

/* An image reference: name[:tag][@digest], in the characters docker allows;
 * never an option (it reaches docker as an argument of its own). */
static bool
image_ref_ok(const char *v)
{
	if (v[0] == '\0' || v[0] == '-' || strlen(v) > 255)
		return false;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("._-:/@", *p) != NULL))
			return false;
	return true;
}

/* The `docker:` mapping: only for the docker backend, which needs it. */
static int
compile_docker(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	const struct cfg_docker *dk = c->docker;
	struct profile_docker *d = &pr->docker;
	int rv;

	if (strcmp(pr->backend->name, "docker") != 0) {
		if (dk != NULL)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: profile %s: docker: only for backend docker", file, c->name);
		return 0;
	}
	if (dk == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: docker.image: required by backend docker",
				    file, c->name);
	if (!image_ref_ok(dk->image))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: docker.image: \"%s\" is not an image reference", file,
				    c->name, dk->image);
	if ((d->image = strdup(dk->image)) == NULL ||
	    (dk->tmpfs && (d->tmpfs = strv_dup(dk->tmpfs, dk->tmpfs_count)) == NULL) ||
	    (d->mount_sources = calloc(dk->mounts_count + 1, sizeof(char *))) == NULL ||
	    (d->mount_targets = calloc(dk->mounts_count + 1, sizeof(char *))) == NULL ||
	    (d->mount_rw = calloc(dk->mounts_count + 1, sizeof(bool))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (char **t = d->tmpfs; t && *t; t++)
		if ((rv = check_container_path(file, c->name, "docker.tmpfs", *t, st)) < 0)
			return rv;
	for (unsigned i = 0; i < dk->mounts_count; i++) {
		const struct cfg_mount *m = &dk->mounts[i];
		d->n_mounts++;
		if ((d->mount_sources[i] = strdup(m->source)) == NULL ||
		    (d->mount_targets[i] = strdup(m->target)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		d->mount_rw[i] = m->rw;
		if ((rv = check_container_path(file, c->name, "docker.mounts.target", m->target, st)) < 0)
			return rv;
	}
	if ((rv = check_templates(file, pr, "docker.mounts.source", d->mount_sources, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "docker.memory", dk->memory, false, &d->memory, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "docker.tmpfs_size", dk->tmpfs_size, false, &d->tmpfs_size, st)) < 0)
		return rv;
	/* docker refuses less (at run time, for every request). */
	if (dk->memory != NULL && d->memory < (6u << 20))
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: docker.memory: at least 6M",
				    file, c->name);
	if (dk->cpus != NULL && parse_cpus(dk->cpus, &d->cpus_milli) < 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: docker.cpus: \"%s\" is not a number of CPUs (0.5, 2)",
				    file, c->name, dk->cpus);
	d->pids = dk->pids;
	if (dk->pool > 64)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: docker.pool: at most 64", file, c->name);
	d->pool = dk->pool;
	return 0;
}

/* A user inside an image: a name or uid[:gid] the image resolves, never an
 * option. (Other backends look the user up on the host.) */
static bool
container_user_ok(const char *v)
{
	if (v[0] == '\0' || v[0] == '-' || v[0] == ':')
		return false;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("._-:", *p) != NULL))
			return false;
	return true;
}

/* The user commands run as: the profile's, else for a sandbox a
 * dedicated unprivileged one. */
static int
compile_user(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	const char *user = c->user;

	if (user == NULL && profile_is_sandbox(pr)) {
		user = strcmp(pr->backend->name, "docker") == 0 ? CONTAINER_USER : SANDBOX_USER;
		if (strcmp(user, SANDBOX_USER) == 0 && getpwnam(user) == NULL)
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "%s: profile %s: user: not set, and the default sandbox user " SANDBOX_USER
					    " does not exist; create it (a regular uid, as firejail refuses system "
					    "users; no home, no login): useradd --no-create-home --home-dir /nonexistent "
					    "--shell /usr/sbin/nologin --user-group " SANDBOX_USER
					    " (deploy/install-deps.sh does), or name a user (user: root runs commands as root)",
					    file, c->name);
	}
	if (user != NULL && (pr->user = strdup(user)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

/* unix_sockets: absolute, plain paths, no templates; only sandboxes can
 * keep the other sockets out (exec reaches them all anyway). */
static int
compile_unix_sockets(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	if (c->unix_sockets == NULL || c->unix_sockets_count == 0)
		return 0;
	if (!profile_is_sandbox(pr))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: unix_sockets: only for sandboxes (firejail, docker): exec commands "
				    "reach every socket runnerd's user can", file, c->name);
	for (unsigned i = 0; i < c->unix_sockets_count; i++) {
		const char *u = c->unix_sockets[i];
		if (u[0] != '/' || !path_is_plain(u) || path_has_dotdot(u) || strcmp(u, "/") == 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: profile %s: unix_sockets: \"%s\" is not an absolute plain path (no "
					    "templates, special characters or \"..\")", file, c->name, u);
	}
	if ((pr->unix_sockets = strv_dup(c->unix_sockets, c->unix_sockets_count)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

/* The profile as its backend would see it, parameters at their first
 * root, to ask the backend whether it can enforce it. */
static int
check_with_backend(const char *file, const struct profile *pr, rstatus *st)
{
	struct policy_mount mounts[64]; /* the schema allows 64 */
	struct policy pol = {
		.profile = pr->name,
		.backend = pr->backend->name,
		.network = pr->network,
		.read_only = pr->read_only,
		.read_write = pr->read_write,
		.hidden = pr->hidden,
		.restrict_writes = pr->restrict_writes,
		.private_tmp = pr->private_tmp,
		.hide_home = pr->hide_home,
		.limits = pr->limits,
		.user = pr->user,
		.unix_sockets = pr->unix_sockets,
		.workdir = pr->workdir,
		.docker = {
			.image = pr->docker.image,
			.tmpfs = pr->docker.tmpfs,
			.tmpfs_size = pr->docker.tmpfs_size,
			.mounts = mounts,
			.n_mounts = pr->docker.n_mounts,
			.memory = pr->docker.memory,
			.cpus_milli = pr->docker.cpus_milli,
			.pids = pr->docker.pids,
			.pool = pr->docker.pool,
		},
	};
	rstatus why;

	/* Mount sources as written (templates are checked once expanded). */
	for (size_t i = 0; i < pr->docker.n_mounts && i < 64; i++)
		mounts[i] = (struct policy_mount){ pr->docker.mount_sources[i], pr->docker.mount_targets[i],
						   pr->docker.mount_rw[i] };
	if (pr->backend->check(&pol, &why) < 0)
		return rstatus_fail(st, why.code, "%s: %s", file, why.message);
	return 0;
}

static int
compile_profile(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	const char *backend = c->backend ? c->backend : "exec";
	int rv;

	if ((pr->name = strdup(c->name)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if ((pr->backend = backend_find(backend)) == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: backend: no backend \"%s\"", file,
				    c->name, backend);
	/* Sandboxes: no network unless stated (exec cannot cut it). */
	if (c->network == NULL)
		pr->network = !profile_is_sandbox(pr);
	else if (strcmp(c->network, "allowed") == 0)
		pr->network = true;
	else if (strcmp(c->network, "none") != 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: network: \"%s\" (expected none or allowed)", file, c->name,
				    c->network);
	{
		static const struct cfg_fs none = { 0 };
		const struct cfg_fs *f = c->filesystem ? c->filesystem : &none;
		bool read_only_root = f->read_only_root ? *f->read_only_root : profile_is_sandbox(pr);
		if ((f->read_only && (pr->read_only = strv_dup(f->read_only, f->read_only_count)) == NULL) ||
		    (f->read_write && (pr->read_write = strv_dup(f->read_write, f->read_write_count)) == NULL) ||
		    (f->hidden && (pr->hidden = strv_dup(f->hidden, f->hidden_count)) == NULL))
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		pr->private_tmp = f->private_tmp ? *f->private_tmp : profile_is_sandbox(pr);
		pr->hide_home = f->hide_home;
		pr->restrict_writes = read_only_root || f->read_write_count > 0;
	}
	if ((rv = compile_user(file, c, pr, st)) < 0 || (rv = compile_unix_sockets(file, c, pr, st)) < 0)
		return rv;
	if (c->workdir && (pr->workdir = strdup(c->workdir)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if (pr->user != NULL && strcmp(pr->backend->name, "docker") == 0) {
		if (!container_user_ok(pr->user))
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: profile %s: user: \"%s\" is not a user name or uid[:gid]", file,
					    c->name, pr->user);
	} else if (pr->user != NULL && getpwnam(pr->user) == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: user: no user \"%s\"", file,
				    c->name, pr->user);
	if ((rv = compile_limits(file, c, pr, st)) < 0 || (rv = compile_params(file, c, pr, st)) < 0 ||
	    (rv = compile_env(file, c, pr, st)) < 0 ||
	    (rv = check_templates(file, pr, "filesystem.read_only", pr->read_only, st)) < 0 ||
	    (rv = check_templates(file, pr, "filesystem.read_write", pr->read_write, st)) < 0 ||
	    (rv = check_templates(file, pr, "filesystem.hidden", pr->hidden, st)) < 0 ||
	    (rv = compile_docker(file, c, pr, st)) < 0 ||
	    (rv = profile_files_compile(file, c, pr, st)) < 0)
		return rv;
	if (pr->workdir != NULL) {
		char *one[] = { pr->workdir, NULL };
		if ((rv = check_templates(file, pr, "workdir", one, st)) < 0)
			return rv;
	}
	return check_with_backend(file, pr, st);
}

static int
builtin_default(struct profiles *p, rstatus *st)
{
	if ((p->v = calloc(1, sizeof(*p->v))) == NULL || (p->v[0].name = strdup("default")) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	p->v[0].backend = backend_find("exec");
	p->v[0].network = true;
	p->n = 1;
	return 0;
}

int
profiles_compile(struct profiles **out, const char *path, const struct cfg_root *root,
		 const struct command_limits *server, rstatus *st)
{
	struct profiles *p;
	int rv = 0;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	p->server = *server;
	if (root == NULL) {
		if ((rv = builtin_default(p, st)) < 0) {
			profiles_free(p);
			return rv;
		}
		*out = p;
		return 0;
	}
	if ((p->v = calloc(root->profiles_count, sizeof(*p->v))) == NULL)
		rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (unsigned i = 0; rv == 0 && i < root->profiles_count; i++) {
		for (unsigned k = 0; rv == 0 && k < i; k++)
			if (strcmp(root->profiles[k].name, root->profiles[i].name) == 0)
				rv = rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: defined twice",
						  path, root->profiles[i].name);
		p->n++;
		if (rv == 0)
			rv = compile_profile(path, &root->profiles[i], &p->v[i], st);
	}
	if (rv == 0) {
		const char *def = root->default_profile ? root->default_profile : "default";
		for (p->default_index = 0; p->default_index < p->n; p->default_index++)
			if (strcmp(p->v[p->default_index].name, def) == 0)
				break;
		if (p->default_index == p->n && root->default_profile != NULL)
			rv = rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: default_profile: no profile \"%s\"",
					  path, def);
		else if (p->default_index == p->n)
			p->default_index = 0; /* no "default": the first one */
	}
	if (rv < 0) {
		profiles_free(p);
		return rv;
	}
	*out = p;
	return 0;
}

int
profiles_load(struct profiles **out, const char *path, const struct command_limits *server,
	      rstatus *st)
{
	struct cfg_root *root = NULL;
	int rv;

	*out = NULL;
	if (path != NULL && (rv = config_file_load(path, &root, st)) < 0)
		return rv;
	rv = profiles_compile(out, path, root, server, st);
	config_file_free(root);
	return rv;
}
