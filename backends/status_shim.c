/* runnerd-status: run a program, report how it ended on a status fd (see
 * status_shim.h), then end the same way. Kept small and dependency-free:
 * it runs inside sandboxes.
 *
 *   runnerd-status FD -- PROGRAM [ARG]...
 *       PROGRAM is a path, run with our own environment.
 *
 *   runnerd-status FD --from-env [--end-sandbox] [--launched] [--scope-abstract] [--tty]
 *       Inside the sandbox: the working directory, path, argv and the exact
 *       environment come from RUNNERD_CMD_* (shim_env.h).
 *
 *   runnerd-status --launch [--join-cgroup=DIR] -- WRAPPER [ARG]...
 *       Outside, in front of the sandbox wrapper (firejail): see below.
 *
 * --end-sandbox: once the program has ended, SIGKILL every other process
 * of the sandbox (kill(-1) from inside its pid namespace: all of the
 * namespace but its init and us), as runnerd does to a direct command's
 * process group, so that nothing the command left behind keeps the
 * sandbox, and its pipes, alive. Done only when our parent is the init of
 * a pid namespace that is not the host's; firejail's own
 * --deterministic-shutdown does the same after a fixed 100 ms sleep.
 *
 * --scope-abstract: before the program starts, a Landlock domain scopes
 * abstract unix sockets (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, Linux 6.12):
 * the program and its descendants can reach only abstract sockets created
 * inside the sandbox, not the host's (a sandbox that shares the host's
 * network namespace shares its abstract sockets). If the kernel cannot,
 * the program does not run (exec failure, the errno of Landlock's refusal).
 *
 * --launch: firejail 0.9.72 sometimes gives up while it sets the sandbox
 * up ("Access error: ... invalid read-only mount", exit 1) when another
 * mount appears meanwhile (a container starting, another sandbox). The
 * launcher runs the wrapper and, if it fails that way before the command
 * started, runs it again (up to LAUNCH_ATTEMPTS times, never once a
 * signal came). To know whether the command started, and to keep the
 * wrapper's own messages of a failed attempt out of the command's stderr,
 * the wrapper gets its stderr on a pipe the launcher reads, and --launched
 * tells the shim inside that fd 4 is "started" (it writes one byte) and
 * fd 5 the command's real stderr. With --join-cgroup it first moves into
 * the cgroup DIR (the run's process limit, pids_cgroup.h).
 *
 * --tty: fds 0-2 are a terminal runnerd made outside (in raw mode: it only
 * carries bytes, and its window size). The command gets a terminal of the
 * sandbox's own, which it can name and reopen (firejail's private /dev has
 * a devpts of its own, without runnerd's), as the controlling terminal of
 * a session of its own; the shim relays between the two terminals and
 * follows the outer one's window size on SIGWINCH (pty_relay.h). The
 * command then no longer shares the shim's process group: signals the
 * shim gets are passed on to the command's.
 *
 * Every mode shares the command's process group, so every signal runnerd
 * or a client sends to the group reaches it too: it survives them all (but
 * SIGKILL) and lets the program's own fate decide, so the record says what
 * the signal did to the program. The program starts with every signal at
 * its default and none blocked, whatever the wrapper left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pty.h"
#include "pty_relay.h"
#include "shim_env.h"
#include "spawn_clean.h"

#define LAUNCH_ATTEMPTS 4
#define LAUNCH_HELD_STDERR 16384 /* a failed attempt's messages kept */
#define TRANSIENT_SETUP_ERROR "Access error:"
/* Inside, with --launched. */
#define STARTED_FD 4
#define STDERR_FD 5

/* The inode of the initial pid namespace (PROC_PID_INIT_INO). */
#define INITIAL_PID_NS "pid:[4026531836]"

extern char **environ;

static volatile sig_atomic_t signalled;

static void
note_signal(int sig)
{
	/* A new window size (runnerd's Resize) is no reason to give up. */
	if (sig != SIGWINCH)
		signalled = 1;
}

/* Survive every signal (but SIGKILL/SIGSTOP), noting that one came. */
static void
catch_signals(void)
{
	struct sigaction sa = { .sa_handler = note_signal };

	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
			sigaction(sig, &sa, NULL); /* fails harmlessly for glibc's reserved ones */
}

/* End the way `status` says a child ended. */
static int
end_like(int status)
{
	sigset_t none;

	if (WIFSIGNALED(status)) {
		sigemptyset(&none);
		signal(WTERMSIG(status), SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t) w;
	}
}

/* --- outside: --launch ------------------------------------------------------ */

static int
join_cgroup(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, "0", 1) != 1) {
		fprintf(stderr, "runnerd-status: cannot join the cgroup %s: %s\n", dir, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* One run of the wrapper. *started: the command started in it. */
static int
launch_once(char **argv, int real_err, bool *started, char *held, size_t *nheld, int *status)
{
	posix_spawn_file_actions_t fa;
	int start[2], errp[2], rv;
	pid_t pid;

	*started = false;
	*nheld = 0;
	if (pipe2(start, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	posix_spawn_file_actions_adddup2(&fa, start[1], STARTED_FD);
	posix_spawn_file_actions_adddup2(&fa, real_err, STDERR_FD);
	rv = spawn_clean(&pid, argv[0], false, &fa, 0, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(start[1]);
	close(errp[1]);
	if (rv != 0) {
		close(start[0]);
		close(errp[0]);
		dprintf(real_err, "runnerd-status: cannot execute %s: %s\n", argv[0], strerror(rv));
		errno = rv;
		return -1;
	}
	/* Until both are over: the start byte (or the wrapper gone), and the
	 * wrapper's stderr (held while the command has not started, passed on
	 * after). */
	struct pollfd pfd[2] = { { .fd = start[0], .events = POLLIN }, { .fd = errp[0], .events = POLLIN } };
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		char buf[4096];
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].fd >= 0 && pfd[0].revents) {
			n = read(pfd[0].fd, buf, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 1 && !*started) {
				*started = true;
				write_all(real_err, held, *nheld);
				*nheld = 0;
			}
			close(pfd[0].fd);
			pfd[0].fd = -1;
		}
		if (pfd[1].fd >= 0 && pfd[1].revents) {
			n = read(pfd[1].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[1].fd);
				pfd[1].fd = -1;
			} else if (*started) {
				write_all(real_err, buf, (size_t) n);
			} else {
				size_t room = LAUNCH_HELD_STDERR - *nheld;
				memcpy(held + *nheld, buf, (size_t) n < room ? (size_t) n : room);
				*nheld += (size_t) n < room ? (size_t) n : room;
			}
		}
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
launch(const char *cgroup, char **argv)
{
	static char held[LAUNCH_HELD_STDERR + 1];
	int real_err, status = 0;
	size_t nheld = 0;
	bool started = false;

	if (cgroup != NULL && join_cgroup(cgroup) < 0)
		return 125;
	catch_signals();
	if ((real_err = fcntl(2, F_DUPFD_CLOEXEC, 10)) < 0)
		return 125;
	for (int attempt = 1;; attempt++) {
		if (launch_once(argv, real_err, &started, held, &nheld, &status) < 0)
			return 125;
		held[nheld] = '\0';
		/* Started (the wrapper's status is the command's), or failed for
		 * good: done. Only firejail's racy mount check is worth a retry,
		 * and never once runnerd or a client has sent a signal. */
		if (started || signalled || attempt == LAUNCH_ATTEMPTS || !WIFEXITED(status) ||
		    WEXITSTATUS(status) == 0 || strstr(held, TRANSIENT_SETUP_ERROR) == NULL)
			break;
		struct timespec ts = { 0, 20000000L * attempt };
		nanosleep(&ts, NULL);
	}
	write_all(real_err, held, nheld);
	return end_like(status);
}

/* --- inside ----------------------------------------------------------------- */

/* Landlock's ruleset attributes as of ABI 6 (Debian 12's headers stop at
 * ABI 1). */
struct landlock_scope_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)

/* Scope abstract unix sockets to this process's descendants: 0 or errno. */
static int
scope_abstract_sockets(void)
{
	struct landlock_scope_attr attr = { .scoped = SCOPE_ABSTRACT_UNIX_SOCKET };
	long fd;
	int rv = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return errno;
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0)) < 0)
		return errno;
	if (syscall(SYS_landlock_restrict_self, (int) fd, 0) != 0)
		rv = errno;
	close((int) fd);
	return rv;
}

/* --- inside, --tty ------------------------------------------------------------ */

/* The size of the terminal runnerd made (our fds 0-2). */
static int
outer_window(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	if (ioctl(0, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
		return -1;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}

/* An open file description of our own for `fd`'s file: the relay makes it
 * non-blocking, which must not reach the launcher's and firejail's. */
static int
reopen(int fd, int flags)
{
	char path[32];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return (nfd = open(path, flags | O_NOCTTY | O_CLOEXEC)) >= 0 ? nfd : fd;
}

/* Run the command on a terminal of the sandbox's own, relayed to ours.
 * 0 with *status, or an errno (it never ran). */
static int
run_on_terminal(const struct shim_cmd *cmd, int *status)
{
	struct pty_relay r = { .window = outer_window };
	unsigned rows = 24, cols = 80;
	int slave, rv;
	sigset_t all;

	(void) outer_window(&rows, &cols);
	if ((rv = pty_open(rows, cols, &r.master, &slave)) < 0) {
		fprintf(stderr, "runnerd-status: cannot open a terminal in the sandbox: %s\n", strerror(-rv));
		return -rv;
	}
	/* Signals come through the relay's signalfd from now on. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	rv = pty_relay_spawn(&r.pid, cmd->path, false, cmd->argv, cmd->envp, slave);
	close(slave);
	if (rv != 0) {
		close(r.master);
		return rv;
	}
	r.in = reopen(0, O_RDONLY);
	r.out = reopen(1, O_WRONLY);
	*status = pty_relay_run(&r);
	close(r.master);
	return *status < 0 ? errno : 0;
}

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

int
main(int argc, char **argv)
{
	struct shim_cmd cmd;
	bool from_env = false, end_sandbox = false, launched = false, scope_abstract = false, tty = false;
	pid_t pid;
	int fd, rv, status;

	if (argc >= 4 && strcmp(argv[1], "--launch") == 0) {
		const char *cgroup = NULL;
		int i = 2;
		if (strncmp(argv[i], "--join-cgroup=", 14) == 0)
			cgroup = argv[i++] + 14;
		if (i + 1 < argc && strcmp(argv[i], "--") == 0)
			return launch(cgroup, argv + i + 1);
	} else if (argc >= 3 && strcmp(argv[2], "--from-env") == 0) {
		from_env = true;
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--end-sandbox") == 0)
				end_sandbox = true;
			else if (strcmp(argv[i], "--launched") == 0)
				launched = true;
			else if (strcmp(argv[i], "--scope-abstract") == 0)
				scope_abstract = true;
			else if (strcmp(argv[i], "--tty") == 0)
				tty = true;
			else
				from_env = false;
		}
	}
	if (from_env) {
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
				"       runnerd-status FD --from-env [--end-sandbox] [--launched] [--scope-abstract] [--tty]\n"
				"       runnerd-status --launch [--join-cgroup=DIR] -- WRAPPER [ARG]...\n");
		return 125;
	}
	fd = atoi(argv[1]);
	/* The program must not inherit the channel. */
	if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		fprintf(stderr, "runnerd-status: fd %s is not open\n", argv[1]);
		return 125;
	}
	/* The launcher outside learns the sandbox is up; the command gets its
	 * real stderr (the wrapper's is the launcher's pipe). */
	if (launched) {
		(void) !write(STARTED_FD, "", 1);
		close(STARTED_FD);
		if (dup2(STDERR_FD, 2) == 2)
			close(STDERR_FD);
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

	if (scope_abstract && (rv = scope_abstract_sockets()) != 0) {
		fprintf(stderr, "runnerd-status: cannot scope abstract unix sockets (Landlock): %s\n",
			strerror(rv));
		report(fd, "exec", rv);
		return 126;
	}

	if (tty) {
		rv = run_on_terminal(&cmd, &status);
	} else {
		catch_signals();
		if ((rv = spawn_clean(&pid, cmd.path, false, NULL, 0, cmd.argv, cmd.envp)) == 0)
			while (waitpid(pid, &status, 0) < 0)
				if (errno != EINTR)
					return 125;
	}
	if (rv != 0) {
		report(fd, "exec", rv);
		return rv == ENOENT ? 127 : 126;
	}
	if (end_sandbox && child_of_sandbox_init())
		kill(-1, SIGKILL);
	report(fd, "status", status);
	close(fd);
	return end_like(status);
}
