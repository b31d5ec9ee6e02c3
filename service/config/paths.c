/* paths.c — paths that reach sandboxes: plain characters only, no "..",
 * templates expanded from validated parameter values. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/profiles_internal.h"

/* Characters that never belong in a path handed to a sandbox: control
 * characters end a profile line, and firejail reads '$' macros, globs,
 * quotes and commas in its arguments. */
bool
path_is_plain(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;
		if (c < 0x20 || c == 0x7f || strchr("$*?[]\"\\,;`'{}", c) != NULL)
			return false;
	}
	return true;
}

bool
path_has_dotdot(const char *s)
{
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

bool
path_within(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/';
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Replace every {{name}} with its value; unknown names are an error. */
int
template_expand(const char *tmpl, const struct param_decl *decls, char *const *values, size_t n,
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

int
template_pin(const char *tmpl, const struct param_decl *decls, char *const *values, size_t n,
	     const char *field, char **out, rstatus *st)
{
	char real[PATH_MAX], *pinned;
	int rv;

	if ((rv = template_expand(tmpl, decls, values, n, field, out, st)) < 0)
		return rv;
	if (realpath(*out, real) == NULL)
		return 0;
	if ((pinned = strdup(real)) == NULL) {
		free(*out);
		*out = NULL;
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	free(*out);
	*out = pinned;
	return 0;
}

int
params_resolve(const struct profile *pr, Runner__V1__KeyValue *const *kv, size_t n, char **values,
	       rstatus *st)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;
		for (k = 0; k < pr->n_params; k++)
			if (strcmp(kv[i]->key, pr->params[k].name) == 0)
				break;
		if (k == pr->n_params)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "params.%.64s: profile %s has no such parameter",
					    kv[i]->key, pr->name);
	}
	for (size_t k = 0; k < pr->n_params; k++) {
		const char *value = NULL;
		int rv;
		for (size_t i = 0; i < n; i++)
			if (strcmp(kv[i]->key, pr->params[k].name) == 0)
				value = kv[i]->value;
		if (value == NULL)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "params.%s: required by profile %s",
					    pr->params[k].name, pr->name);
		if ((rv = param_value_check(&pr->params[k], value, &values[k], st)) < 0)
			return rv;
	}
	return 0;
}

/* A template parameter's value: plain, absolute, no "..", and inside one
 * of its roots once symlinks are resolved. Returns the resolved path. */
int
param_value_check(const struct param_decl *d, const char *value, char **out, rstatus *st)
{
	char real[PATH_MAX];

	if (value[0] != '/' || !path_is_plain(value) || path_has_dotdot(value))
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
