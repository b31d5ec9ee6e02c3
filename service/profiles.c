#include "profiles.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "units.h"

/* ---- the file's shape (libcyaml schema) ---------------------------------- */

struct cfg_kv {
	char *name;
	char *value;
};

struct cfg_param {
	char *name;
	char **roots;
	unsigned roots_count;
};

struct cfg_fs {
	char **read_only;
	unsigned read_only_count;
	char **read_write;
	unsigned read_write_count;
	char **hidden;
	unsigned hidden_count;
	bool private_tmp;
	bool hide_home;
	bool read_only_root;
};

struct cfg_limits {
	char *timeout;
	char *cpu;
	char *address_space;
	unsigned processes;
	char *file_size;
	unsigned open_files;
	char *stdout_cap;
	char *stderr_cap;
};

struct cfg_env {
	char **allow;
	unsigned allow_count;
	struct cfg_kv *set;
	unsigned set_count;
};

struct cfg_profile {
	char *name;
	char *backend;
	char *network;
	struct cfg_fs *filesystem;
	struct cfg_limits *limits;
	struct cfg_env *env;
	char *workdir;
	char *user;
	struct cfg_param *params;
	unsigned params_count;
};

struct cfg_root {
	char *default_profile;
	struct cfg_profile *profiles;
	unsigned profiles_count;
};

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 4096),
};

static const cyaml_schema_field_t kv_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct cfg_kv, name, 1, 256),
	CYAML_FIELD_STRING_PTR("value", CYAML_FLAG_POINTER, struct cfg_kv, value, 0, 4096),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t kv_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_kv, kv_fields),
};

static const cyaml_schema_field_t param_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct cfg_param, name, 1, 64),
	CYAML_FIELD_SEQUENCE("roots", CYAML_FLAG_POINTER, struct cfg_param, roots, &string_entry, 1, 64),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t param_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_param, param_fields),
};

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)

static const cyaml_schema_field_t fs_fields[] = {
	CYAML_FIELD_SEQUENCE("read_only", OPT, struct cfg_fs, read_only, &string_entry, 0, 256),
	CYAML_FIELD_SEQUENCE("read_write", OPT, struct cfg_fs, read_write, &string_entry, 0, 256),
	CYAML_FIELD_SEQUENCE("hidden", OPT, struct cfg_fs, hidden, &string_entry, 0, 256),
	CYAML_FIELD_BOOL("private_tmp", CYAML_FLAG_OPTIONAL, struct cfg_fs, private_tmp),
	CYAML_FIELD_BOOL("hide_home", CYAML_FLAG_OPTIONAL, struct cfg_fs, hide_home),
	CYAML_FIELD_BOOL("read_only_root", CYAML_FLAG_OPTIONAL, struct cfg_fs, read_only_root),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t limits_fields[] = {
	CYAML_FIELD_STRING_PTR("timeout", OPT, struct cfg_limits, timeout, 1, 32),
	CYAML_FIELD_STRING_PTR("cpu", OPT, struct cfg_limits, cpu, 1, 32),
	CYAML_FIELD_STRING_PTR("address_space", OPT, struct cfg_limits, address_space, 1, 32),
	CYAML_FIELD_UINT("processes", CYAML_FLAG_OPTIONAL, struct cfg_limits, processes),
	CYAML_FIELD_STRING_PTR("file_size", OPT, struct cfg_limits, file_size, 1, 32),
	CYAML_FIELD_UINT("open_files", CYAML_FLAG_OPTIONAL, struct cfg_limits, open_files),
	CYAML_FIELD_STRING_PTR("stdout", OPT, struct cfg_limits, stdout_cap, 1, 32),
	CYAML_FIELD_STRING_PTR("stderr", OPT, struct cfg_limits, stderr_cap, 1, 32),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t env_fields[] = {
	CYAML_FIELD_SEQUENCE("allow", OPT, struct cfg_env, allow, &string_entry, 0, 256),
	CYAML_FIELD_SEQUENCE("set", OPT, struct cfg_env, set, &kv_entry, 0, 256),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t profile_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct cfg_profile, name, 1, 64),
	CYAML_FIELD_STRING_PTR("backend", OPT, struct cfg_profile, backend, 1, 32),
	CYAML_FIELD_STRING_PTR("network", OPT, struct cfg_profile, network, 1, 16),
	CYAML_FIELD_MAPPING_PTR("filesystem", OPT, struct cfg_profile, filesystem, fs_fields),
	CYAML_FIELD_MAPPING_PTR("limits", OPT, struct cfg_profile, limits, limits_fields),
	CYAML_FIELD_MAPPING_PTR("env", OPT, struct cfg_profile, env, env_fields),
	CYAML_FIELD_STRING_PTR("workdir", OPT, struct cfg_profile, workdir, 1, 4096),
	CYAML_FIELD_STRING_PTR("user", OPT, struct cfg_profile, user, 1, 64),
	CYAML_FIELD_SEQUENCE("params", OPT, struct cfg_profile, params, &param_entry, 0, 32),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t profile_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct cfg_profile, profile_fields),
};

static const cyaml_schema_field_t root_fields[] = {
	CYAML_FIELD_STRING_PTR("default_profile", OPT, struct cfg_root, default_profile, 1, 64),
	CYAML_FIELD_SEQUENCE("profiles", CYAML_FLAG_POINTER, struct cfg_root, profiles, &profile_entry, 1, 1024),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t root_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct cfg_root, root_fields),
};

/* ---- compiled profiles --------------------------------------------------- */

struct param_decl {
	char *name;
	char **roots; /* resolved */
	size_t n_roots;
};

struct profile {
	char *name;
	const struct backend_ops *backend;
	bool network;
	char **read_only, **read_write, **hidden; /* templates, NULL-terminated */
	bool private_tmp, hide_home;
	bool restrict_writes; /* read_only_root, or any read_write path */
	struct policy_limits limits;
	char **env_allow; /* NULL: any name command.c accepts */
	char **env_set;   /* NAME=VALUE */
	char *workdir;    /* template */
	char *user;
	struct param_decl *params;
	size_t n_params;
};

struct profiles {
	struct profile *v;
	size_t n;
	size_t default_index;
	struct command_limits server;
};

/* Collects libcyaml's error lines (they carry line and column numbers). */
struct cyaml_errors {
	char text[1024];
	size_t len;
};

static void
collect_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cyaml_errors *e = ctx;
	int n;

	if (level < CYAML_LOG_ERROR || e->len >= sizeof(e->text) - 1)
		return;
	n = vsnprintf(e->text + e->len, sizeof(e->text) - e->len, fmt, args);
	if (n > 0)
		e->len += (size_t) n < sizeof(e->text) - e->len ? (size_t) n : sizeof(e->text) - 1 - e->len;
	/* One line per message. */
	for (size_t i = 0; i < e->len; i++)
		if (e->text[i] == '\n')
			e->text[i] = ' ';
}

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
	for (size_t i = 0; i < pr->n_params; i++) {
		free(pr->params[i].name);
		strv_free(pr->params[i].roots);
	}
	free(pr->params);
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

/* ---- paths and templates ------------------------------------------------- */

/* Characters that never belong in a path handed to a sandbox: control
 * characters end a profile line, and firejail reads '$' macros, globs,
 * quotes and commas in its arguments. */
static bool
path_is_plain(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;
		if (c < 0x20 || c == 0x7f || strchr("$*?[]\"\\,;`'{}", c) != NULL)
			return false;
	}
	return true;
}

static bool
has_dotdot(const char *s)
{
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static bool
path_within(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/';
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Replace every {{name}} with its value; unknown names are an error. */
static int
expand(const char *tmpl, const struct param_decl *decls, char *const *values, size_t n,
       const char *field, char **out, rstatus *st)
{
	char buf[PATH_MAX];
	size_t len = 0;

	for (const char *p = tmpl; *p;) {
		const char *open = strstr(p, "{{"), *close;
		size_t lit = open ? (size_t) (open - p) : strlen(p);

		if (len + lit >= sizeof(buf))
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: path too long", field);
		memcpy(buf + len, p, lit);
		len += lit;
		if (open == NULL)
			break;
		if ((close = strstr(open, "}}")) == NULL)
			return rstatus_fail(st, RS_INTERNAL, "%s: unterminated {{ in %s", field, tmpl);
		size_t i;
		for (i = 0; i < n; i++)
			if (strlen(decls[i].name) == (size_t) (close - open - 2) &&
			    strncmp(open + 2, decls[i].name, (size_t) (close - open - 2)) == 0)
				break;
		if (i == n)
			return rstatus_fail(st, RS_INTERNAL, "%s: no parameter %.*s", field,
					    (int) (close - open - 2), open + 2);
		if (len + strlen(values[i]) >= sizeof(buf))
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: path too long", field);
		memcpy(buf + len, values[i], strlen(values[i]));
		len += strlen(values[i]);
		p = close + 2;
	}
	buf[len] = '\0';
	if ((*out = strdup(buf)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

/* A template parameter's value: plain, absolute, no "..", and inside one
 * of its roots once symlinks are resolved. Returns the resolved path. */
static int
check_param_value(const struct param_decl *d, const char *value, char **out, rstatus *st)
{
	char real[PATH_MAX];

	if (value[0] != '/' || !path_is_plain(value) || has_dotdot(value))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "params.%s: must be an absolute path without \"..\", control or special characters",
				    d->name);
	if (realpath(value, real) == NULL)
		return rstatus_fail_errno(st, RS_INVALID_ARGUMENT, errno, "params.%s", d->name);
	for (size_t i = 0; i < d->n_roots; i++) {
		if (path_within(real, d->roots[i])) {
			if ((*out = strdup(real)) == NULL)
				return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
			return 0;
		}
	}
	return rstatus_fail(st, RS_INVALID_ARGUMENT, "params.%s: resolves outside the roots the profile allows",
			    d->name);
}

/* ---- loading ------------------------------------------------------------- */

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

static int
compile_limits(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	const struct cfg_limits *l = c->limits;
	uint64_t cpu_ms = 0;
	int rv;

	if (l == NULL)
		return 0;
	if ((rv = parse_opt(file, c->name, "limits.timeout", l->timeout, true, &pr->limits.timeout_ms, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.cpu", l->cpu, true, &cpu_ms, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.address_space", l->address_space, false,
			    &pr->limits.address_space, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.file_size", l->file_size, false, &pr->limits.file_size, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.stdout", l->stdout_cap, false, &pr->limits.stdout_limit, st)) < 0 ||
	    (rv = parse_opt(file, c->name, "limits.stderr", l->stderr_cap, false, &pr->limits.stderr_limit, st)) < 0)
		return rv;
	/* RLIMIT_CPU counts whole seconds; round up so "500ms" still limits. */
	pr->limits.cpu_seconds = (cpu_ms + 999) / 1000;
	pr->limits.processes = l->processes;
	pr->limits.open_files = l->open_files;
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
static int
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
		if ((rv = expand(*p, pr->params, values, pr->n_params, field, &dummy, &why)) < 0)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: %s", file, pr->name,
					    why.message);
		if (!path_is_plain(dummy) || has_dotdot(dummy)) {
			free(dummy);
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: profile %s: %s: %s has special characters or \"..\"", file,
					    pr->name, field, *p);
		}
		free(dummy);
	}
	return 0;
}

/* The profile as its backend would see it, parameters at their first
 * root, to ask the backend whether it can enforce it. */
static int
check_with_backend(const char *file, const struct profile *pr, rstatus *st)
{
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
		.workdir = pr->workdir,
	};
	rstatus why;

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
	if (c->network == NULL || strcmp(c->network, "allowed") == 0)
		pr->network = true;
	else if (strcmp(c->network, "none") != 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: profile %s: network: \"%s\" (expected none or allowed)", file, c->name,
				    c->network);
	if (c->filesystem != NULL) {
		const struct cfg_fs *f = c->filesystem;
		if ((f->read_only && (pr->read_only = strv_dup(f->read_only, f->read_only_count)) == NULL) ||
		    (f->read_write && (pr->read_write = strv_dup(f->read_write, f->read_write_count)) == NULL) ||
		    (f->hidden && (pr->hidden = strv_dup(f->hidden, f->hidden_count)) == NULL))
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		pr->private_tmp = f->private_tmp;
		pr->hide_home = f->hide_home;
		pr->restrict_writes = f->read_only_root || f->read_write_count > 0;
	}
	if ((c->workdir && (pr->workdir = strdup(c->workdir)) == NULL) ||
	    (c->user && (pr->user = strdup(c->user)) == NULL))
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if (pr->user != NULL && getpwnam(pr->user) == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: user: no user \"%s\"", file,
				    c->name, pr->user);
	if ((rv = compile_limits(file, c, pr, st)) < 0 || (rv = compile_params(file, c, pr, st)) < 0 ||
	    (rv = compile_env(file, c, pr, st)) < 0 ||
	    (rv = check_templates(file, pr, "filesystem.read_only", pr->read_only, st)) < 0 ||
	    (rv = check_templates(file, pr, "filesystem.read_write", pr->read_write, st)) < 0 ||
	    (rv = check_templates(file, pr, "filesystem.hidden", pr->hidden, st)) < 0)
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
profiles_load(struct profiles **out, const char *path, const struct command_limits *server,
	      rstatus *st)
{
	struct cyaml_errors errs = { .len = 0 };
	cyaml_config_t config = {
		.log_fn = collect_cyaml_log,
		.log_ctx = &errs,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_DEFAULT,
	};
	struct cfg_root *root = NULL;
	struct profiles *p;
	cyaml_err_t err;
	int rv = 0;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	p->server = *server;
	if (path == NULL) {
		if ((rv = builtin_default(p, st)) < 0) {
			profiles_free(p);
			return rv;
		}
		*out = p;
		return 0;
	}
	if ((err = cyaml_load_file(path, &config, &root_schema, (cyaml_data_t **) &root, NULL)) != CYAML_OK) {
		profiles_free(p);
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: %s%s%s", path, cyaml_strerror(err),
				    errs.len ? ": " : "", errs.text);
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
	cyaml_free(&config, &root_schema, root, 0);
	if (rv < 0) {
		profiles_free(p);
		return rv;
	}
	*out = p;
	return 0;
}

/* ---- resolving a request ------------------------------------------------- */

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
	memset(r, 0, sizeof(*r));
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
		char *path = NULL, real[PATH_MAX];
		int rv;
		if ((rv = expand(tmpl[i], pr->params, values, pr->n_params, field, &path, st)) < 0)
			return rv;
		/* Existing paths are pinned to what they resolve to now. */
		if (realpath(path, real) != NULL) {
			free(path);
			path = strdup(real);
		}
		if (((*out)[i] = own(r, path)) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

static int
resolve_params(const struct profile *pr, const Runner__V1__CommandSpec *spec, struct resolved *r,
	       char **values, rstatus *st)
{
	for (size_t i = 0; i < spec->n_params; i++) {
		size_t k;
		for (k = 0; k < pr->n_params; k++)
			if (strcmp(spec->params[i]->key, pr->params[k].name) == 0)
				break;
		if (k == pr->n_params)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "params.%.64s: profile %s has no such parameter",
					    spec->params[i]->key, pr->name);
	}
	for (size_t k = 0; k < pr->n_params; k++) {
		const char *value = NULL;
		int rv;
		for (size_t i = 0; i < spec->n_params; i++)
			if (strcmp(spec->params[i]->key, pr->params[k].name) == 0)
				value = spec->params[i]->value;
		if (value == NULL)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "params.%s: required by profile %s",
					    pr->params[k].name, pr->name);
		if ((rv = check_param_value(&pr->params[k], value, &values[k], st)) < 0)
			return rv;
		if (own(r, values[k]) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
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
	    (rv = tighten(&l->open_files, pr->limits.open_files, t->open_files, "tighten.open_files", pr->name, st)) < 0)
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
	return 0;
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
	if (realpath(spec->cwd, real) == NULL || !path_within(real, workdir))
		return deny(st, "command.cwd", pr->name, "outside the profile's workdir");
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
	if (spec->profile == NULL || spec->profile[0] == '\0') {
		pr = &p->v[p->default_index];
	} else {
		for (size_t i = 0; i < p->n && pr == NULL; i++)
			if (strcmp(p->v[i].name, spec->profile) == 0)
				pr = &p->v[i];
		if (pr == NULL)
			return rstatus_fail(st, RS_NOT_FOUND, "command.profile: no profile \"%.64s\"", spec->profile);
	}
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
	if ((rv = resolve_limits(pr, spec, r, st)) < 0 || (rv = resolve_env(pr, spec, r, st)) < 0 ||
	    (rv = resolve_cwd(pr, spec, r, workdir, st)) < 0)
		goto fail;
	return 0;
fail:
	free(rw);
	resolved_free(r);
	return rv;
}
