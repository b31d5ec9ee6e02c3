/* runnerd-docker-init: PID 1 of every docker-backend container.
 *
 *   runnerd-docker-init STATUS_FILE [LIMIT=N]... -- PROGRAM [ARG]...
 *
 * LIMIT is one of cpu (seconds), as, fsize (bytes), nofile: set as both the
 * soft and the hard rlimit before PROGRAM starts (docker's --ulimit knows
 * no RLIMIT_AS; lowering a limit needs no capability).
 *
 * The docker backend bind-mounts this program (statically linked: images
 * need no libc of ours) read-only at /.runnerd/init and a per-run host file
 * at /.runnerd/status, and makes it the entrypoint. It
 *
 * - opens STATUS_FILE before anything else runs (close-on-exec: the
 *   program never inherits it);
 * - starts PROGRAM (resolved against the container's PATH) in a process
 *   group of its own, every signal at its default and none blocked;
 * - forwards every signal it gets to that group: `docker run` proxies the
 *   signals runnerd sends it to PID 1, and a PID 1 without a handler would
 *   drop them all, so this is how Signal, SIGTERM at a timeout and
 *   shutdown reach the command;
 * - reaps every process (it is the container's init), and when PROGRAM
 *   ends writes the record runnerd reads after `docker run` exits:
 *
 *     status W          the raw wait status (WIFEXITED/WIFSIGNALED apply)
 *     rusage U S M      user and system CPU microseconds, peak RSS KiB of
 *                       the processes it reaped
 *     oom N             OOM kills the container's memory cgroup counted
 *                       while PROGRAM ran (only when the counter is
 *                       readable: cgroup v1 memory.oom_control or v2
 *                       memory.events)
 *   or
 *     exec E            PROGRAM could not be executed: errno E
 *
 * - then exits: with PROGRAM's code, or 128+N for signal N (a namespace's
 *   init cannot die of its own signals). Everything else in the container
 *   dies with it, as the exec backend kills what a command leaves in its
 *   group.
 *
 * The record is the command's own report about itself: a command that
 * writes to /.runnerd/status can only misstate how it ended, which it
 * controls anyway. OOM counts come from the kernel's cgroup files, which
 * the container sees read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void
noop(int sig)
{
}

/* The memory cgroup's OOM-kill counter, or -1 when it cannot be read. */
static long
oom_kills(void)
{
	static const char *const files[] = {
		"/sys/fs/cgroup/memory.events",              /* v2, cgroup namespace */
		"/sys/fs/cgroup/memory/memory.oom_control",  /* v1 */
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		ssize_t n;
		char *p;

		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (p = buf; (p = strstr(p, "oom_kill")) != NULL; p += 8)
			if ((p == buf || p[-1] == '\n') && p[8] == ' ')
				return strtol(p + 9, NULL, 10);
	}
	return -1;
}

static void
put(int fd, const char *line)
{
	size_t len = strlen(line);

	while (len > 0) {
		ssize_t n = write(fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t) n;
	}
}

static const struct {
	const char *name;
	int resource;
} limit_names[] = {
	{ "cpu", RLIMIT_CPU },
	{ "as", RLIMIT_AS },
	{ "fsize", RLIMIT_FSIZE },
	{ "nofile", RLIMIT_NOFILE },
};

/* "NAME=N": set it; 0, or an errno. */
static int
apply_limit(const char *arg)
{
	const char *eq = strchr(arg, '=');
	unsigned long long v;
	char *end;

	if (eq == NULL)
		return EINVAL;
	errno = 0;
	v = strtoull(eq + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == eq + 1)
		return EINVAL;
	for (size_t i = 0; i < sizeof(limit_names) / sizeof(limit_names[0]); i++)
		if (strlen(limit_names[i].name) == (size_t) (eq - arg) &&
		    strncmp(arg, limit_names[i].name, (size_t) (eq - arg)) == 0) {
			struct rlimit rl = { .rlim_cur = (rlim_t) v, .rlim_max = (rlim_t) v };
			return setrlimit(limit_names[i].resource, &rl) == 0 ? 0 : errno;
		}
	return EINVAL;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = noop };
	posix_spawnattr_t attr;
	sigset_t all, none;
	char line[160];
	long oom_before, oom_after;
	int fd, rv, status = 0, sep = 2;
	pid_t pid;

	while (sep < argc && strcmp(argv[sep], "--") != 0)
		sep++;
	if (argc < 2 || sep + 1 >= argc) {
		fprintf(stderr, "usage: runnerd-docker-init STATUS_FILE [LIMIT=N]... -- PROGRAM [ARG]...\n");
		return 125;
	}
	if ((fd = open(argv[1], O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) {
		fprintf(stderr, "runnerd-docker-init: %s: %s\n", argv[1], strerror(errno));
		return 125;
	}

	/* Signals wait in the mask for sigwaitinfo; the handlers only make
	 * them deliverable to a namespace's init at all. */
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* fails harmlessly for glibc's reserved ones */

	oom_before = oom_kills();
	rv = 0;
	for (int i = 2; i < sep && rv == 0; i++)
		rv = apply_limit(argv[i]);
	if (rv == 0 && (rv = posix_spawnattr_init(&attr)) == 0 &&
	    (rv = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
							  POSIX_SPAWN_SETPGROUP)) == 0 &&
	    (rv = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (rv = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rv = posix_spawnattr_setpgroup(&attr, 0)) == 0)
		rv = posix_spawnp(&pid, argv[sep + 1], NULL, &attr, argv + sep + 1, environ);
	if (rv != 0) {
		snprintf(line, sizeof(line), "exec %d\n", rv);
		put(fd, line); /* runnerd reports it; stderr stays the command's */
		return rv == ENOENT ? 127 : 126;
	}

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		pid_t got;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			if (kill(-pid, sig) != 0)
				kill(pid, sig);
			continue;
		}
		while ((got = waitpid(-1, &rv, WNOHANG)) > 0)
			if (got == pid)
				goto done;
	}
done:
	status = rv;
	{
		struct rusage ru;
		getrusage(RUSAGE_CHILDREN, &ru);
		snprintf(line, sizeof(line), "status %d\nrusage %llu %llu %ld\n", status,
			 (unsigned long long) ru.ru_utime.tv_sec * 1000000ull + (unsigned long long) ru.ru_utime.tv_usec,
			 (unsigned long long) ru.ru_stime.tv_sec * 1000000ull + (unsigned long long) ru.ru_stime.tv_usec,
			 ru.ru_maxrss);
		put(fd, line);
	}
	oom_after = oom_kills();
	if (oom_before >= 0 && oom_after >= 0) {
		snprintf(line, sizeof(line), "oom %ld\n", oom_after - oom_before);
		put(fd, line);
	}
	close(fd);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
