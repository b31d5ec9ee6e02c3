/* openat2 beneath a root: see beneath.h. */
#include "files/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

/* openat2 fails with EAGAIN when a rename raced a ".." in the walk; the
 * kernel asks to try again. */
#define EAGAIN_RETRIES 8

static int
openat2_retry(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode, .resolve = resolve };
	int fd;

	for (int i = 0;; i++) {
		fd = (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN || i >= EAGAIN_RETRIES)
			return fd;
	}
}

int
files_errno(rstatus *st, int err, const char *shown, const char *what)
{
	switch (err) {
	case ENOENT:
		return rstatus_fail(st, RS_NOT_FOUND, "%s: no such file or directory", shown);
	case EACCES:
	case EPERM:
		return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: %s: permission denied (as uid %d)", shown,
				    what, setfsuid((uid_t) -1));
	case EROFS:
		return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: read-only file system", shown);
	case EXDEV:
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "%s: refused: the path leads out of its root (\"..\", an absolute symlink, or a "
				    "symlink pointing outside)",
				    shown);
	case ELOOP:
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "%s: refused: a magic link (/proc/PID/root, /proc/PID/fd/N), a symlink where none "
				    "may be, or too many symlinks",
				    shown);
	case EEXIST:
		return rstatus_fail(st, RS_ALREADY_EXISTS, "%s: already exists", shown);
	case ENOTDIR:
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: not a directory", shown);
	case EISDIR:
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: is a directory", shown);
	case ENOTEMPTY:
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: directory not empty", shown);
	case EBUSY:
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s: busy (a mount point?)", shown);
	case ENOSPC:
	case EDQUOT:
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, err, "%s: %s", shown, what);
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, err, "%s: %s", shown, what);
	case EFBIG:
		return rstatus_fail_errno(st, RS_OUT_OF_RANGE, err, "%s: %s", shown, what);
	case ENAMETOOLONG:
	case EINVAL:
		return rstatus_fail_errno(st, RS_INVALID_ARGUMENT, err, "%s: %s", shown, what);
	case EAGAIN:
		return rstatus_fail(st, RS_UNAVAILABLE, "%s: renamed under the request again and again; retry",
				    shown);
	default:
		return rstatus_fail_errno(st, RS_INTERNAL, err, "%s: %s", shown, what);
	}
}

int
beneath_root(const char *host, const char *shown, int *fd, rstatus *st)
{
	if ((*fd = openat2_retry(AT_FDCWD, host, O_PATH | O_DIRECTORY, 0,
				 RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)) >= 0)
		return 0;
	if (errno == ENOENT)
		return rstatus_fail(st, RS_NOT_FOUND, "%s: its root does not exist", shown);
	if (errno == ELOOP)
		return rstatus_fail(st, RS_PERMISSION_DENIED,
				    "%s: refused: its root's path now holds a symlink (swapped since it was checked)",
				    shown);
	return files_errno(st, errno, shown, "open root");
}

int
beneath_open(int dirfd, const char *rel, int flags, unsigned mode, int strict, const char *shown, int *fd,
	     rstatus *st)
{
	uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (strict ? RESOLVE_NO_SYMLINKS : 0);

	if ((*fd = openat2_retry(dirfd, rel, (uint64_t) flags, mode, resolve)) >= 0)
		return 0;
	return files_errno(st, errno, shown, "open");
}

int
beneath_parent(int rootfd, const char *rel, const char *shown, int *dirfd, char name[NAME_MAX + 1],
	       rstatus *st)
{
	const char *slash = strrchr(rel, '/');
	char parent[PATH_MAX];
	size_t n;

	*dirfd = -1;
	if (strcmp(rel, ".") == 0)
		return rstatus_fail(st, RS_PERMISSION_DENIED, "%s: is a root of the profile (or a mount)", shown);
	n = strlen(slash ? slash + 1 : rel);
	if (n > NAME_MAX)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: name too long", shown);
	memcpy(name, slash ? slash + 1 : rel, n + 1);
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int) (slash - rel), rel);
	return beneath_open(rootfd, parent, O_PATH | O_DIRECTORY, 0, 0, shown, dirfd, st);
}
