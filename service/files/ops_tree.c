/* ops_tree.c — ListDir, MakeDir, RemoveFile and RenameFile: on a worker, as the
 * request's user. Names are created, removed and renamed relative to
 * their parent directory's descriptor, and a tree is only ever descended
 * with RESOLVE_NO_SYMLINKS (a link is listed or removed, never entered). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/beneath.h"
#include "files/files_internal.h"

#define LIST_DEFAULT_ENTRIES 10000
#define LIST_MAX_ENTRIES 100000
#define LIST_MAX_DEPTH 64
#define LIST_MAX_BYTES (16u << 20)
#define REMOVE_MAX_DEPTH 256

/* --- directory entries -------------------------------------------------------- */

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names in directory `fd` (taken and closed), sorted. */
static int
read_names(int fd, const char *shown, char ***out, size_t *n_out, rstatus *st)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rv = 0;

	*out = NULL;
	*n_out = 0;
	if (d == NULL) {
		rv = files_errno(st, errno, shown, "opendir");
		close(fd);
		return rv;
	}
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		if ((v[n] = strdup(e->d_name)) == NULL)
			break;
		n++;
		errno = 0;
	}
	if (e != NULL || errno != 0)
		rv = files_errno(st, e != NULL ? ENOMEM : errno, shown, "readdir");
	closedir(d);
	if (rv < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rv;
	}
	if (n > 1) /* an empty directory has no array at all */
		qsort(v, n, sizeof(*v), cmp_names);
	*out = v;
	*n_out = n;
	return 0;
}

static void
free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* --- ListDir ------------------------------------------------------------------ */

struct listing {
	Runner__V1__ListDirResponse *resp;
	size_t cap, max, bytes;
	char **next;             /* the next level's directories (relative) */
	size_t n_next, cap_next;
	bool full;
};

static bool
push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (s == NULL)
		return false;
	if (*n == *cap) {
		char **nv = realloc(*v, (*cap = *cap ? 2 * *cap : 16) * sizeof(**v));
		if (nv == NULL) {
			free(s);
			return false;
		}
		*v = nv;
	}
	(*v)[(*n)++] = s;
	return true;
}

static int
add_entry(struct listing *l, int dirfd, const char *rel, const char *name, bool descend, rstatus *st)
{
	Runner__V1__ListDirResponse *r = l->resp;
	Runner__V1__FileInfo *fi;
	struct stat sb;
	char *path;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return 0; /* gone meanwhile */
	if (r->n_entries >= l->max || l->bytes + 2 * strlen(rel) + 2 * strlen(name) + 64 > LIST_MAX_BYTES) {
		l->full = true;
		r->truncated = true;
		return 0;
	}
	if (r->n_entries == l->cap) {
		Runner__V1__FileInfo **nv = realloc(r->entries, (l->cap = l->cap ? 2 * l->cap : 64) * sizeof(*nv));
		if (nv == NULL)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		r->entries = nv;
	}
	if ((path = files_join(rel, name)) == NULL || (fi = files_alloc(sizeof(*fi))) == NULL) {
		free(path);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	runner__v1__file_info__init(fi);
	r->entries[r->n_entries++] = fi;
	if (files_info_fill(fi, path, &sb, dirfd, name) < 0) {
		free(path);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	l->bytes += 2 * strlen(path) + 64;
	if (descend && S_ISDIR(sb.st_mode) && !push(&l->next, &l->n_next, &l->cap_next, path))
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	if (!(descend && S_ISDIR(sb.st_mode)))
		free(path);
	return 0;
}

/* List directory `rel` (relative to the listed one, "" for itself) of
 * base directory `basefd`. */
static int
list_one(struct listing *l, int basefd, const char *rel, const char *shown, bool descend, rstatus *st)
{
	Runner__V1__ListDirResponse *r = l->resp;
	char **names;
	size_t n;
	int fd, rv;
	rstatus why;

	if (rel[0] == '\0') {
		fd = dup(basefd);
	} else if (beneath_open(basefd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, BENEATH_FLAGS_STRICT, shown,
				&fd, &why) < 0) {
		/* A subdirectory we may not enter is named, not fatal. */
		char **nv = realloc(r->skipped, (r->n_skipped + 1) * sizeof(*nv));
		if (nv == NULL || (nv[r->n_skipped] = strdup(rel)) == NULL) {
			if (nv != NULL)
				r->skipped = nv;
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
		}
		r->skipped = nv;
		r->n_skipped++;
		r->truncated = true;
		return 0;
	}
	if (fd < 0)
		return files_errno(st, errno, shown, "dup");
	/* read_names closes fd; a second descriptor keeps the directory for fstatat. */
	int keep = dup(fd);
	if (keep < 0) {
		close(fd);
		return files_errno(st, errno, shown, "dup");
	}
	if ((rv = read_names(fd, shown, &names, &n, st)) < 0) {
		close(keep);
		return rv;
	}
	for (size_t i = 0; i < n && rv == 0 && !l->full; i++)
		rv = add_entry(l, keep, rel, names[i], descend, st);
	free_names(names, n);
	close(keep);
	return rv;
}

static int
list_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__ListDirRequest *req = (const Runner__V1__ListDirRequest *) j->c->request;
	struct listing l = { .max = req->max_entries ? req->max_entries : LIST_DEFAULT_ENTRIES };
	struct files_location loc;
	char **level = NULL;
	size_t n_level = 0;
	int rootfd, basefd = -1, rv;

	if (req->depth > LIST_MAX_DEPTH || req->max_entries > LIST_MAX_ENTRIES)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "depth is at most %d and max_entries at most %d",
				    LIST_MAX_DEPTH, LIST_MAX_ENTRIES);
	if ((l.resp = files_alloc(sizeof(*l.resp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__list_dir_response__init(l.resp);
	j->reply = &l.resp->base;
	if ((rv = files_job_open_root(j, req->path, false, &loc, &rootfd, st)) < 0)
		return rv;
	rv = beneath_open(rootfd, loc.rel, O_RDONLY | O_DIRECTORY, 0, 0, loc.path, &basefd, st);
	close(rootfd);
	if (rv < 0)
		return rv;
	rv = list_one(&l, basefd, "", loc.path, req->depth > 0, st);
	/* Breadth first: each level's directories after the whole level. */
	for (uint32_t depth = 1; rv == 0 && depth <= req->depth && l.n_next > 0 && !l.full; depth++) {
		free_names(level, n_level);
		level = l.next;
		n_level = l.n_next;
		l.next = NULL;
		l.n_next = l.cap_next = 0;
		for (size_t i = 0; i < n_level && rv == 0 && !l.full; i++)
			rv = list_one(&l, basefd, level[i], loc.path, depth < req->depth, st);
	}
	free_names(level, n_level);
	free_names(l.next, l.n_next);
	close(basefd);
	return rv;
}

const struct files_op files_op_list = { .name = "ListDir", .run = list_run };

/* --- MakeDir ------------------------------------------------------------------ */

/* mkdirat(parentfd, name) with exactly `perms` (no umask: runnerd's is
 * 077); *created false when it existed. */
static int
make_one(int parentfd, const char *name, unsigned perms, const char *shown, bool *created, rstatus *st)
{
	int fd, rv;

	*created = false;
	if (mkdirat(parentfd, name, 0700) != 0)
		return errno == EEXIST ? 0 : files_errno(st, errno, shown, "mkdir");
	*created = true;
	if ((rv = beneath_open(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, BENEATH_FLAGS_STRICT, shown,
			       &fd, st)) < 0)
		return rv;
	if (fchmod(fd, perms) != 0)
		rv = files_errno(st, errno, shown, "chmod");
	close(fd);
	return rv;
}

static int
mkdir_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__MakeDirRequest *req = (const Runner__V1__MakeDirRequest *) j->c->request;
	unsigned perms = req->permissions ? req->permissions & 07777 : 0755;
	Runner__V1__MakeDirResponse *resp;
	struct files_location loc;
	char prefix[PATH_MAX], name[NAME_MAX + 1];
	bool created = false;
	int rootfd, dirfd, rv;

	if ((resp = files_alloc(sizeof(*resp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__make_dir_response__init(resp);
	j->reply = &resp->base;
	if ((rv = files_job_open_root(j, req->path, true, &loc, &rootfd, st)) < 0)
		return rv;
	if (strcmp(loc.rel, ".") == 0) {
		close(rootfd);
		return req->parents ? 0 : rstatus_fail(st, RS_ALREADY_EXISTS, "%s: already exists", loc.path);
	}
	if (!req->parents) {
		if ((rv = beneath_parent(rootfd, loc.rel, loc.path, &dirfd, name, st)) == 0) {
			if ((rv = make_one(dirfd, name, perms, loc.path, &created, st)) == 0 && !created)
				rv = rstatus_fail(st, RS_ALREADY_EXISTS, "%s: already exists", loc.path);
			close(dirfd);
		}
		close(rootfd);
		resp->created = rv == 0;
		return rv;
	}
	/* mkdir -p: each component beneath the root, from the top. */
	prefix[0] = '\0';
	for (const char *p = loc.rel; rv == 0 && *p;) {
		size_t n = strcspn(p, "/");
		struct stat sb;

		snprintf(name, sizeof(name), "%.*s", (int) n, p);
		if ((rv = beneath_open(rootfd, prefix[0] ? prefix : ".", O_PATH | O_DIRECTORY, 0, 0, loc.path, &dirfd,
				       st)) < 0)
			break;
		rv = make_one(dirfd, name, perms, loc.path, &created, st);
		if (rv == 0 && !created && (fstatat(dirfd, name, &sb, 0) != 0 || !S_ISDIR(sb.st_mode)))
			rv = p[n] == '\0' ? rstatus_fail(st, RS_ALREADY_EXISTS, "%s: exists and is not a directory", loc.path)
					  : rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: %s is not a directory", loc.path, name);
		close(dirfd);
		snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "%s%s", prefix[0] ? "/" : "", name);
		p += n;
		while (*p == '/')
			p++;
	}
	close(rootfd);
	resp->created = rv == 0 && created;
	return rv;
}

const struct files_op files_op_mkdir = { .name = "MakeDir", .run = mkdir_run };

/* --- RemoveFile --------------------------------------------------------------- */

/* Empty directory `fd` (taken), never following a link: entries are
 * unlinked, subdirectories emptied and removed, depth first. */
static int
empty_tree(int fd, const char *shown, int depth, uint64_t *removed, rstatus *st)
{
	char **names;
	size_t n;
	int keep, rv;

	if (depth > REMOVE_MAX_DEPTH) {
		close(fd);
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: more than %d levels deep", shown,
				    REMOVE_MAX_DEPTH);
	}
	if ((keep = dup(fd)) < 0) {
		rv = files_errno(st, errno, shown, "dup");
		close(fd);
		return rv;
	}
	if ((rv = read_names(fd, shown, &names, &n, st)) < 0) {
		close(keep);
		return rv;
	}
	for (size_t i = 0; i < n && rv == 0; i++) {
		struct stat sb;
		int sub;

		if (fstatat(keep, names[i], &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if ((rv = beneath_open(keep, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, BENEATH_FLAGS_STRICT,
					       shown, &sub, st)) < 0 ||
			    (rv = empty_tree(sub, shown, depth + 1, removed, st)) < 0)
				break;
		}
		if (unlinkat(keep, names[i], S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0) != 0) {
			if (errno != ENOENT)
				rv = files_errno(st, errno, shown, "remove");
		} else {
			(*removed)++;
		}
	}
	free_names(names, n);
	close(keep);
	return rv;
}

static int
remove_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__RemoveFileRequest *req = (const Runner__V1__RemoveFileRequest *) j->c->request;
	Runner__V1__RemoveFileResponse *resp;
	struct files_location loc;
	char name[NAME_MAX + 1];
	struct stat sb;
	int rootfd, dirfd = -1, sub, rv;

	if ((resp = files_alloc(sizeof(*resp))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__remove_file_response__init(resp);
	j->reply = &resp->base;
	if ((rv = files_job_open_root(j, req->path, true, &loc, &rootfd, st)) < 0)
		return rv;
	rv = beneath_parent(rootfd, loc.rel, loc.path, &dirfd, name, st);
	close(rootfd);
	if (rv < 0)
		return rv;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		rv = files_errno(st, errno, loc.path, "stat");
	} else if (!S_ISDIR(sb.st_mode)) {
		if (unlinkat(dirfd, name, 0) != 0)
			rv = files_errno(st, errno, loc.path, "remove");
		else
			resp->removed = 1;
	} else {
		/* A few passes: files created while it is being emptied. */
		for (int pass = 0; pass < 3; pass++) {
			if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0) {
				resp->removed++;
				rv = 0;
				break;
			}
			int err = errno;
			rv = files_errno(st, err, loc.path, "remove");
			if (err != ENOTEMPTY && err != EEXIST)
				break;
			if (!req->recursive) {
				rv = rstatus_fail(st, RS_FAILED_PRECONDITION,
						  "%s: directory not empty (ask for a recursive remove)", loc.path);
				break;
			}
			if ((rv = beneath_open(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, BENEATH_FLAGS_STRICT,
					       loc.path, &sub, st)) < 0 ||
			    (rv = empty_tree(sub, loc.path, 1, &resp->removed, st)) < 0)
				break;
		}
	}
	close(dirfd);
	return rv;
}

const struct files_op files_op_remove = { .name = "RemoveFile", .run = remove_run };

/* --- RenameFile --------------------------------------------------------------- */

static int
rename_run(struct files_job *j, rstatus *st)
{
	const Runner__V1__RenameFileRequest *req = (const Runner__V1__RenameFileRequest *) j->c->request;
	struct files_location from, to;
	char from_name[NAME_MAX + 1], to_name[NAME_MAX + 1];
	int rootfd, from_dir = -1, to_dir = -1, rv;

	if ((j->reply = files_alloc(sizeof(Runner__V1__RenameFileResponse))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	runner__v1__rename_file_response__init((Runner__V1__RenameFileResponse *) j->reply);
	if ((rv = files_job_open_root(j, req->from, true, &from, &rootfd, st)) < 0)
		return rv;
	rv = beneath_parent(rootfd, from.rel, from.path, &from_dir, from_name, st);
	close(rootfd);
	if (rv < 0)
		return rv;
	if ((rv = files_job_open_root(j, req->to, true, &to, &rootfd, st)) == 0) {
		rv = beneath_parent(rootfd, to.rel, to.path, &to_dir, to_name, st);
		close(rootfd);
	}
	if (rv == 0 && renameat2(from_dir, from_name, to_dir, to_name, req->replace ? 0 : RENAME_NOREPLACE) != 0) {
		if (errno == EXDEV)
			rv = rstatus_fail(st, RS_FAILED_PRECONDITION, "%s -> %s: on different file systems", from.path,
					  to.path);
		else if (errno == EINVAL)
			rv = rstatus_fail(st, RS_INVALID_ARGUMENT, "%s -> %s: a directory cannot move into itself",
					  from.path, to.path);
		else if (errno == EEXIST || errno == ENOTEMPTY)
			rv = rstatus_fail(st, RS_ALREADY_EXISTS, "%s: already exists%s", to.path,
					  req->replace ? " (a directory that is not empty)" : "");
		else
			rv = files_errno(st, errno, errno == ENOENT ? from.path : to.path, "rename");
	}
	if (from_dir >= 0)
		close(from_dir);
	if (to_dir >= 0)
		close(to_dir);
	return rv;
}

const struct files_op files_op_rename = { .name = "RenameFile", .run = rename_run };
