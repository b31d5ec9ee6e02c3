#include "spawn_child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static const char *
env_lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static int
check_executable(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return -errno;
	if (S_ISDIR(sb.st_mode))
		return -EACCES;
	if (access(path, X_OK) != 0)
		return -errno;
	return 0;
}

/* `part` of `len` bytes (len < 0: all of it) as the child will see it: an
 * absolute path as it is, a relative one under the child's cwd. */
static int
child_path(char *out, size_t outlen, const char *cwd, const char *part, int len, const char *name)
{
	int n;

	if (len < 0)
		len = (int) strlen(part);
	if (part[0] == '/' || cwd == NULL)
		n = snprintf(out, outlen, "%.*s%s%s", len, part, len && name ? "/" : "", name ? name : "");
	else
		n = snprintf(out, outlen, "%s/%.*s%s%s", cwd, len, part, len && name ? "/" : "",
			     name ? name : "");
	return n < (int) outlen ? 0 : -ENAMETOOLONG;
}

int
spawn_resolve(const char *name, char *const *envp, const char *cwd, char *out, size_t outlen)
{
	const char *path, *p;
	int best = -ENOENT, rv;

	if (strchr(name, '/') != NULL) {
		if ((rv = child_path(out, outlen, cwd, name, -1, NULL)) < 0)
			return rv;
		return check_executable(out);
	}
	if ((path = env_lookup(envp, "PATH")) == NULL)
		path = DEFAULT_PATH;
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int len = (int) (end - p);

		/* An empty PATH element means the current directory, as execvp does. */
		if (child_path(out, outlen, cwd, len ? p : ".", len ? len : 1, name) == 0) {
			if ((rv = check_executable(out)) == 0)
				return 0;
			/* Remember that something was there but not runnable. */
			if (rv == -EACCES)
				best = rv;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	return best;
}

int
spawn_pipe(int fds[2], int parent_end, rstatus *st)
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, errno, "pipe2");
	if (fcntl(fds[parent_end], F_SETFL, O_NONBLOCK) != 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return rstatus_fail_errno(st, RS_INTERNAL, e, "fcntl(O_NONBLOCK)");
	}
	return 0;
}

static int
add_stdio(posix_spawn_file_actions_t *fa, int fd, int target, int flags)
{
	if (fd < 0)
		return posix_spawn_file_actions_addopen(fa, target, "/dev/null", flags, 0);
	return posix_spawn_file_actions_adddup2(fa, fd, target);
}

int
spawn_child(const struct spawn_request *req, pid_t *pid, int *exec_errno, rstatus *st)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	char path[PATH_MAX];
	int rv;

	*exec_errno = 0;
	/* posix_spawn folds a chdir failure into the exec errno; check first so
	 * the report names the right culprit. */
	if (req->cwd != NULL) {
		struct stat sb;
		int e = stat(req->cwd, &sb) != 0 ? errno : !S_ISDIR(sb.st_mode) ? ENOTDIR : 0;
		/* A missing working directory is the request's problem, not an
		 * outcome of the program: it is an error status, not EXEC_FAILED. */
		if (e != 0)
			return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, e, "cwd %s", req->cwd);
	}
	/* Relative names resolve where the child will run, not where we do. */
	if ((rv = spawn_resolve(req->argv[0], req->envp, req->cwd, path, sizeof(path))) < 0) {
		*exec_errno = -rv;
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "execve %s", req->argv[0]);
	}

	sigfillset(&all);
	sigemptyset(&none);
	if ((rv = posix_spawnattr_init(&attr)) != 0)
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, rv, "posix_spawnattr_init");
	if ((rv = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&attr);
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, rv, "posix_spawn_file_actions_init");
	}
	/* The daemon blocks and handles signals; none of that may leak. */
	if ((rv = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
							  POSIX_SPAWN_SETSIGMASK)) != 0 ||
	    (rv = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (rv = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rv = add_stdio(&fa, req->stdin_fd, 0, O_RDONLY)) != 0 ||
	    (rv = add_stdio(&fa, req->stdout_fd, 1, O_WRONLY)) != 0 ||
	    (rv = add_stdio(&fa, req->stderr_fd, 2, O_WRONLY)) != 0 ||
	    /* Everything of ours is O_CLOEXEC already; this also catches fds that
	     * libraries opened without it. */
	    (req->status_fd >= 0 && (rv = posix_spawn_file_actions_adddup2(&fa, req->status_fd, 3)) != 0) ||
	    (rv = posix_spawn_file_actions_addclosefrom_np(&fa, req->status_fd >= 0 ? 4 : 3)) != 0 ||
	    (req->cwd != NULL && (rv = posix_spawn_file_actions_addchdir_np(&fa, req->cwd)) != 0)) {
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
		return rstatus_fail_errno(st, RS_INTERNAL, rv, "posix_spawn setup");
	}
	rv = posix_spawn(pid, path, &fa, &attr, req->argv, req->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rv == 0)
		return 0;
	if (rv == EAGAIN || rv == ENOMEM)
		return rstatus_fail_errno(st, RS_RESOURCE_EXHAUSTED, rv, "posix_spawn %s", path);
	*exec_errno = rv;
	return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, rv, "execve %s", path);
}
