/* spawn_child.h — the one place in runnerd that creates child processes:
 * jobs (service/run/job.c), the docker warm pool's containers, docker's
 * background `docker rm` runs, and every synchronous tool run of a backend
 * (spawn_sync.h, built on it) all start here. Only the helpers that run
 * inside sandboxes and containers (status_shim.c, docker_init.c) are
 * separate programs with spawns of their own.
 *
 * Children are started with posix_spawn (vfork semantics: nothing of the
 * multi-threaded daemon runs in the child between fork and exec), in a new
 * session so that their whole tree forms one process group, with every
 * signal disposition reset to default and an empty signal mask, with only
 * fds 0-2 open, and with exactly the environment given. An exec failure is
 * reported as an errno, never inferred from an exit status.
 *
 * Nothing here waits: a child is reaped by runnerd's reaper
 * (service/core/reaper.h), unless spawn_run_sync started it, which reaps
 * its own (spawn_sync.h says how the two stay out of each other's way).
 */
#ifndef RUNNER_SPAWN_CHILD_H
#define RUNNER_SPAWN_CHILD_H

#include <sys/types.h>

#include "status.h"

struct spawn_request {
	char *const *argv;  /* argv[0] is resolved against envp's PATH */
	char *const *envp;
	const char *cwd;    /* NULL: inherit */
	int stdin_fd;       /* child's fd 0; -1: /dev/null */
	int stdout_fd;      /* child's fd 1; -1: /dev/null */
	int stderr_fd;      /* child's fd 2; -1: /dev/null */
	int status_fd;      /* child's fd 3 (a status side channel, see
			     * status_shim.c); -1: none, only 0-2 are open */
};

/* Start the child. Returns 0 and sets *pid, or a negative value; when the
 * program could not be executed (not found, not executable) the errno is
 * in *exec_errno and st says what failed. Other failures leave *exec_errno
 * 0: FAILED_PRECONDITION for a cwd that is not a directory,
 * RESOURCE_EXHAUSTED / INTERNAL for no memory, no pids and the like. */
int spawn_child(const struct spawn_request *req, pid_t *pid, int *exec_errno, rstatus *st);

/* Resolve `name` as the child will: against the PATH found in `envp` (the
 * child's, not ours), with relative names and PATH entries taken under
 * `cwd` (the child's working directory; NULL: ours). Returns 0 with the
 * path in `out`, or -errno (ENOENT: nowhere; EACCES: found but not
 * executable). */
int spawn_resolve(const char *name, char *const *envp, const char *cwd, char *out, size_t outlen);

/* Create a pipe whose both ends are O_CLOEXEC and whose parent end
 * (`parent_end`: 0 read end, 1 write end) is non-blocking. */
int spawn_pipe(int fds[2], int parent_end, rstatus *st);

#endif
