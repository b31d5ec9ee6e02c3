/* profile_files.c — a profile's `files:` section: checked at load, and
 * resolved for each file request (profiles.h, "files"). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_file.h"
#include "config/profiles_internal.h"

/* Kernel file systems full of magic links and knobs are never file roots
 * (openat2's RESOLVE_NO_MAGICLINKS would refuse their links anyway). */
static const char *const kernel_fs[] = { "/proc", "/sys", "/dev", NULL };

static bool
on_kernel_fs(const char *path)
{
	for (const char *const *k = kernel_fs; *k; k++)
		if (path_within(path, *k))
			return true;
	return false;
}

void
profile_files_free(struct profile_files *f)
{
	for (char **p = f->read; p && *p; p++)
		free(*p);
	free(f->read);
	for (char **p = f->write; p && *p; p++)
		free(*p);
	free(f->write);
	memset(f, 0, sizeof(*f));
}

static char **
dup_list(char *const *v, unsigned n)
{
	char **out = calloc(n + 1, sizeof(char *));

	for (unsigned i = 0; out && i < n; i++) {
		if ((out[i] = strdup(v[i])) == NULL) {
			for (unsigned k = 0; k < i; k++)
				free(out[k]);
			free(out);
			return NULL;
		}
	}
	return out;
}

/* A docker profile's user as host ids: "uid" or "uid:gid" (numbers), or
 * none. File operations run on the host, which cannot look names up in
 * the image. */
static bool
numeric_user(const char *user, unsigned *uid, unsigned *gid)
{
	char *end;
	unsigned long u, g;

	errno = 0;
	u = strtoul(user, &end, 10);
	if (end == user || errno != 0 || u > 0x7fffffffUL)
		return false;
	g = u;
	if (*end == ':') {
		const char *gs = end + 1;
		g = strtoul(gs, &end, 10);
		if (end == gs || errno != 0 || g > 0x7fffffffUL)
			return false;
	}
	if (*end != '\0')
		return false;
	*uid = (unsigned) u;
	*gid = (unsigned) g;
	return true;
}

/* The deepest of `v` holding `path`, or NULL. */
static const struct files_root *
deepest(const struct files_root *v, size_t n, const char *path, bool need_write)
{
	const struct files_root *best = NULL;

	for (size_t i = 0; i < n; i++)
		if ((!need_write || v[i].writable) && path_within(path, v[i].path) &&
		    (best == NULL || strlen(v[i].path) > strlen(best->path)))
			best = &v[i];
	return best;
}

/* --- the policy's strings -------------------------------------------------- */

static const char *
own(struct files_policy *fp, char *s)
{
	char **v;

	if (s == NULL || (v = realloc(fp->owned, (fp->n_owned + 1) * sizeof(*v))) == NULL) {
		free(s);
		return NULL;
	}
	fp->owned = v;
	return fp->owned[fp->n_owned++] = s;
}

void
files_policy_free(struct files_policy *fp)
{
	for (size_t i = 0; i < fp->n_owned; i++)
		free(fp->owned[i]);
	free(fp->owned);
	free(fp->roots);
	free(fp->mounts);
	free(fp->tmpfs);
	memset(fp, 0, sizeof(*fp));
}

/* Append expanded templates to `v` as roots (host: the same path unless
 * `container`). */
static int
add_roots(struct files_policy *fp, const struct profile *pr, char *const *values, char **tmpl,
	  bool writable, bool container, const char *field, struct files_root **v, size_t *n,
	  rstatus *st)
{
	for (char **t = tmpl; t && *t; t++) {
		struct files_root *nv;
		char *path = NULL;
		const char *p;
		int rv;

		/* A container path means nothing on the host: never resolved here. */
		if ((rv = container ? template_expand(*t, pr->params, values, pr->n_params, field, &path, st)
				    : template_pin(*t, pr->params, values, pr->n_params, field, &path, st)) < 0)
			return rv;
		if ((p = own(fp, path)) == NULL || (nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		*v = nv; /* the caller frees it, whatever follows */
		if (on_kernel_fs(p))
			return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: %s is on a kernel file system (profile %s)",
					    field, p, pr->name);
		(*v)[(*n)++] = (struct files_root){ .path = p, .host = container ? NULL : p, .writable = writable };
	}
	return 0;
}

/* A docker profile's mounts as the host sees them: docker.mounts, and the
 * filesystem paths it binds at the same place; its tmpfs mounts. */
static int
add_mounts(struct files_policy *fp, const struct profile *pr, char *const *values, rstatus *st)
{
	const struct profile_docker *d = &pr->docker;
	size_t nt = 0;
	int rv;

	for (size_t i = 0; i < d->n_mounts; i++) {
		char *one[] = { d->mount_sources[i], NULL };
		size_t before = fp->n_mounts;
		if ((rv = add_roots(fp, pr, values, one, d->mount_rw[i], false, "docker.mounts.source",
				    &fp->mounts, &fp->n_mounts, st)) < 0)
			return rv;
		if (fp->n_mounts > before) {
			fp->mounts[before].host = fp->mounts[before].path;
			fp->mounts[before].path = d->mount_targets[i];
		}
	}
	if ((rv = add_roots(fp, pr, values, pr->read_only, false, false, "filesystem.read_only", &fp->mounts,
			    &fp->n_mounts, st)) < 0 ||
	    (rv = add_roots(fp, pr, values, pr->read_write, true, false, "filesystem.read_write", &fp->mounts,
			    &fp->n_mounts, st)) < 0)
		return rv;
	for (char **t = d->tmpfs; t && *t; t++)
		nt++;
	if ((fp->tmpfs = calloc(nt + 2, sizeof(char *))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < nt; i++)
		fp->tmpfs[i] = d->tmpfs[i];
	if (pr->private_tmp)
		fp->tmpfs[nt] = "/tmp";
	return 0;
}

/* A docker root must be reachable from the host: under a bind mount (a
 * writable one for a write root), not under a tmpfs deeper than it. */
static int
check_docker_root(const struct files_policy *fp, const struct files_root *r, const char *field,
		  rstatus *st)
{
	const struct files_root *m = deepest(fp->mounts, fp->n_mounts, r->path, false);

	if (m == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: %s is not under any bind mount of profile %s: the host cannot reach it",
				    field, r->path, fp->profile);
	for (char **t = fp->tmpfs; t && *t; t++)
		if (path_within(r->path, *t) && strlen(*t) >= strlen(m->path))
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: %s is on a tmpfs of profile %s's containers: the host cannot reach it",
					    field, r->path, fp->profile);
	if (r->writable && !m->writable)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: %s is under a read-only mount (%s) of profile %s",
				    field, r->path, m->path, fp->profile);
	return 0;
}

static int
resolve(const struct profile *pr, char *const *values, struct files_policy *fp, rstatus *st)
{
	bool docker = strcmp(pr->backend->name, "docker") == 0;
	int rv;

	fp->profile = pr->name;
	fp->docker = docker;
	if ((rv = add_roots(fp, pr, values, pr->files.read, false, docker, "files.read", &fp->roots,
			    &fp->n_roots, st)) < 0 ||
	    (rv = add_roots(fp, pr, values, pr->files.write, true, docker, "files.write", &fp->roots,
			    &fp->n_roots, st)) < 0)
		return rv;
	if (!docker) {
		fp->user = pr->user;
		return 0;
	}
	if (pr->user != NULL && !numeric_user(pr->user, &fp->uid, &fp->gid))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "files: profile %s's user \"%s\" is not numeric (uid[:gid]): file operations run on the "
				    "host, which cannot look up names of the image",
				    pr->name, pr->user);
	fp->numeric_ids = pr->user != NULL;
	if ((rv = add_mounts(fp, pr, values, st)) < 0)
		return rv;
	for (size_t i = 0; i < fp->n_roots; i++)
		if ((rv = check_docker_root(fp, &fp->roots[i], fp->roots[i].writable ? "files.write" : "files.read",
					    st)) < 0)
			return rv;
	return 0;
}

int
profile_files_compile(const char *file, const struct cfg_profile *c, struct profile *pr, rstatus *st)
{
	const struct cfg_files *f = c->files;
	struct files_policy fp = { 0 };
	char *values[32];
	rstatus why;
	int rv;

	if (f == NULL)
		return 0;
	pr->files.present = true;
	if ((f->read && (pr->files.read = dup_list(f->read, f->read_count)) == NULL) ||
	    (f->write && (pr->files.write = dup_list(f->write, f->write_count)) == NULL))
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if ((rv = check_templates(file, pr, "files.read", pr->files.read, st)) < 0 ||
	    (rv = check_templates(file, pr, "files.write", pr->files.write, st)) < 0)
		return rv;
	/* The section as a request would see it, parameters at their first
	 * root: kernel file systems, docker mounts and users are checked now. */
	for (size_t i = 0; i < pr->n_params && i < 32; i++)
		values[i] = pr->params[i].roots[0];
	rv = resolve(pr, values, &fp, &why);
	files_policy_free(&fp);
	if (rv < 0)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: profile %s: %s", file, pr->name, why.message);
	return 0;
}

int
profiles_resolve_files(const struct profiles *p, const Runner__V1__FileScope *scope,
		       struct files_policy *out, rstatus *st)
{
	const struct profile *pr;
	char *values[32] = { 0 };
	int rv;

	memset(out, 0, sizeof(*out));
	if ((pr = profile_find(p, scope ? scope->profile : NULL, "scope.profile", st)) == NULL)
		return -RS_NOT_FOUND;
	if (!pr->files.present)
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "profile %s allows no file operations (it has no files: section)", pr->name);
	rv = params_resolve(pr, scope ? scope->params : NULL, scope ? scope->n_params : 0, values, st);
	for (size_t k = 0; k < pr->n_params; k++)
		if (values[k] != NULL && own(out, values[k]) == NULL && rv == 0)
			rv = rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if (rv == 0)
		rv = resolve(pr, values, out, st);
	if (rv < 0)
		files_policy_free(out);
	return rv;
}

/* Normalize an absolute request path into `out`: no empty or "." parts, no
 * trailing slash; ".." refused. */
static int
normalize(const char *path, char *out, size_t size, rstatus *st)
{
	size_t len = 0;

	if (path == NULL || path[0] != '/')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "path \"%.200s\" is not absolute", path ? path : "");
	for (const char *p = path; *p;) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return rstatus_fail(st, RS_PERMISSION_DENIED,
					    "path \"%.200s\": \"..\" is not allowed (it could leave the root)", path);
		if (len + 1 + n >= size)
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "path \"%.200s...\" is too long", path);
		out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
		p += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

/* `path` below `prefix` (which holds it): "." for the prefix itself. */
static const char *
below(const char *path, const char *prefix)
{
	size_t n = strcmp(prefix, "/") == 0 ? 0 : strlen(prefix);

	return path[n] == '\0' ? "." : path + n + 1;
}

int
files_policy_locate(const struct files_policy *fp, const char *path, bool need_write,
		    struct files_location *out, rstatus *st)
{
	const struct files_root *r, *m;
	int rv, n;

	if ((rv = normalize(path, out->path, sizeof(out->path), st)) < 0)
		return rv;
	if ((r = deepest(fp->roots, fp->n_roots, out->path, need_write)) == NULL)
		return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: outside the %s roots of profile %s", out->path,
				    need_write ? "writable" : "file", fp->profile);
	out->root_is_mount = false;
	if (!fp->docker) {
		n = snprintf(out->host, sizeof(out->host), "%s", r->host);
		out->rel = below(out->path, r->path);
		return n < 0 || (size_t) n >= sizeof(out->host)
			       ? rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: root path too long", out->path)
			       : 0;
	}
	/* A container path: through the deepest mount holding it. */
	if ((m = deepest(fp->mounts, fp->n_mounts, out->path, false)) == NULL)
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "%s: not under any bind mount of profile %s: the host cannot reach it", out->path,
				    fp->profile);
	for (char **t = fp->tmpfs; t && *t; t++)
		if (path_within(out->path, *t) && strlen(*t) >= strlen(m->path))
			return rstatus_fail(st, RS_PERMISSION_DENIED,
					    "%s: on a tmpfs of profile %s's containers: the host cannot reach it",
					    out->path, fp->profile);
	if (need_write && !m->writable)
		return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: under a read-only mount (%s) of profile %s",
				    out->path, m->path, fp->profile);
	if (strlen(m->path) >= strlen(r->path)) {
		/* A mount at or below the root: resolve beneath the mount. */
		n = snprintf(out->host, sizeof(out->host), "%s", m->host);
		out->rel = below(out->path, m->path);
		out->root_is_mount = true;
	} else {
		const char *inside = below(r->path, m->path);
		n = snprintf(out->host, sizeof(out->host), "%s/%s", m->host, inside);
		out->rel = below(out->path, r->path);
	}
	if (n < 0 || (size_t) n >= sizeof(out->host))
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: host path too long", out->path);
	return 0;
}
