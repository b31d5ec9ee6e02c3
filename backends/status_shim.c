/* runnerd-status: run a program, report how it ended on a status fd (see
 * status_shim.h), then end the same way. Kept tiny and dependency-free: it
 * runs inside sandboxes.
 *
 *   runnerd-status FD -- PROGRAM [ARG]...   PROGRAM is a path, run with our
 *                                           own environment
 *   runnerd-status FD --from-env [--end-sandbox]
 *                                           working directory, path, argv
 *                                           and the exact environment come
 *                                           from RUNNERD_CMD_* (shim_env.h)
 *
 *   runnerd-status --join-cgroup=DIR -- PROGRAM [ARG]...
 *                                           move into the cgroup DIR, then
 *                                           become PROGRAM (execv): the
 *                                           firejail backend's process
 *                                           limit for root (pids_cgroup.h)
 *
 * --end-sandbox: once the program has ended, SIGKILL every other process
 * of the sandbox (kill(-1) from inside its pid namespace: all of the
 * namespace but its init and us), as runnerd does to a direct command's
 * process group, so that nothing the command left behind keeps the
 * sandbox, and its pipes, alive. Done only when our parent is the init of
 * a pid namespace that is not the host's; firejail's own
 * --deterministic-shutdown does the same after a fixed 100 ms sleep.
 *
 * The shim shares the command's process group, so every signal runnerd or
 * a client sends to the group reaches it too: it survives them all (but
 * SIGKILL) and lets the program's own fate decide, so the record says what
 * the signal did to the program. The program starts with every signal at
 * its default and none blocked, whatever the wrapper left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim_env.h"

extern char **environ;

static void
ignore_signal(int sig)
{
}

/* The inode of the initial pid namespace (PROC_PID_INIT_INO). */
#define INITIAL_PID_NS "pid:[4026531836]"

/* Are we the first child of a sandbox's own pid namespace? */
static bool
child_of_sandbox_init(void)
{
	char ns[64];
	ssize_t n;

	if (getppid() != 1 || (n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1)) <= 0)
		return false;
	ns[n] = '\0';
	return strcmp(ns, INITIAL_PID_NS) != 0;
}

static void
report(int fd, const char *word, int value)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %d\n", word, value);

	(void) !write(fd, line, (size_t) n);
}

/* --join-cgroup=DIR -- PROGRAM [ARG]...: no fork, nothing else touched. */
static int
join_and_exec(const char *dir, char **argv)
{
	char path[4096];
	int fd, e;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, "0", 1) != 1) {
		e = errno;
		fprintf(stderr, "runnerd-status: cannot join the cgroup %s: %s\n", dir, strerror(e));
		return 125;
	}
	close(fd);
	execv(argv[0], argv);
	e = errno;
	fprintf(stderr, "runnerd-status: cannot execute %s: %s\n", argv[0], strerror(e));
	return e == ENOENT ? 127 : 126;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = ignore_signal };
	struct shim_cmd cmd;
	posix_spawnattr_t attr;
	sigset_t all, none;
	bool end_sandbox = false;
	pid_t pid;
	int fd, rv, status;

	if (argc >= 4 && strncmp(argv[1], "--join-cgroup=", 14) == 0 && strcmp(argv[2], "--") == 0)
		return join_and_exec(argv[1] + 14, argv + 3);
	if ((argc == 3 || (argc == 4 && strcmp(argv[3], "--end-sandbox") == 0)) &&
	    strcmp(argv[2], "--from-env") == 0) {
		end_sandbox = argc == 4;
		if (shim_env_decode(environ, &cmd) != 0) {
			fprintf(stderr, "runnerd-status: no valid command in the environment: %s\n",
				strerror(errno));
			cmd.path = NULL;
		}
	} else if (argc >= 4 && strcmp(argv[2], "--") == 0) {
		cmd.cwd = NULL;
		cmd.path = argv[3];
		cmd.argv = argv + 3;
		cmd.envp = environ;
	} else {
		fprintf(stderr, "usage: runnerd-status FD -- PROGRAM [ARG]...\n"
				"       runnerd-status FD --from-env [--end-sandbox]\n"
				"       runnerd-status --join-cgroup=DIR -- PROGRAM [ARG]...\n");
		return 125;
	}
	fd = atoi(argv[1]);
	/* The program must not inherit the channel. */
	if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		fprintf(stderr, "runnerd-status: fd %s is not open\n", argv[1]);
		return 125;
	}
	if (cmd.path == NULL) {
		report(fd, "exec", EINVAL);
		return 126;
	}
	/* Where the program must run, or not at all. */
	if (cmd.cwd != NULL && chdir(cmd.cwd) != 0) {
		rv = errno;
		fprintf(stderr, "runnerd-status: cannot enter the working directory %s: %s\n", cmd.cwd,
			strerror(rv));
		report(fd, "exec", rv);
		return 126;
	}

	sigfillset(&all);
	sigemptyset(&none);
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
			sigaction(sig, &sa, NULL); /* fails harmlessly for glibc's reserved ones */

	if ((rv = posix_spawnattr_init(&attr)) == 0 &&
	    (rv = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0 &&
	    (rv = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (rv = posix_spawnattr_setsigmask(&attr, &none)) == 0)
		rv = posix_spawn(&pid, cmd.path, NULL, &attr, cmd.argv, cmd.envp);
	if (rv != 0) {
		report(fd, "exec", rv);
		return rv == ENOENT ? 127 : 126;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 125;
	if (end_sandbox && child_of_sandbox_init())
		kill(-1, SIGKILL);
	report(fd, "status", status);
	close(fd);
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
