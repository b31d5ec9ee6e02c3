/* runnerd-docker-init: PID 1 of every docker-backend container.
 *
 *   runnerd-docker-init STATUS_FILE [--allow-unix] [--tty] [LIMIT=N]... -- PROGRAM [ARG]...
 *
 * LIMIT is one of cpu (seconds), as, fsize (bytes), nofile: set as both the
 * soft and the hard rlimit before PROGRAM starts (docker's --ulimit knows
 * no RLIMIT_AS; lowering a limit needs no capability).
 *
 * Unless --allow-unix, PROGRAM and everything it starts can create no unix
 * socket: a seccomp filter, stacked on docker's own profile, fails
 * socket(AF_UNIX, ...) with EAFNOSUPPORT (socketpair() still works: it
 * reaches nothing outside) and io_uring_setup/enter/register with ENOSYS
 * (IORING_OP_SOCKET creates sockets without socket()). A container has its
 * own network namespace, so the host's abstract sockets are out of reach
 * anyway; this keeps filesystem sockets a bind mount happens to show out
 * of reach too. docker's --security-opt seccomp= would replace docker's
 * default profile rather than add to it. The filter needs no_new_privs,
 * which docker already set (--security-opt=no-new-privileges); if it
 * cannot be installed, PROGRAM does not run ("exec E").
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
 * --tty: PROGRAM runs on a terminal of the container's own (its /dev/pts),
 * as the leader of a session whose controlling terminal it is; the init
 * relays what arrives on its stdin to the terminal and what the terminal
 * shows to its stdout (pty_relay.h), forwards signals to PROGRAM's group as
 * above, and on SIGWINCH sets the window size it reads from
 * /.runnerd/tty/size ("ROWS COLS", docker.c's write_window; also read at
 * start). The end of stdin does not end the terminal.
 *
 * Pool mode (runnerd-docker-init STATUS_FILE [--allow-unix] --pool): the container is
 * started ahead of any request. The init writes POOL_READY to stdout, then
 * reads from stdin a 4-byte big-endian length and that many bytes of
 * NUL-terminated tokens: "C" cwd, "L" LIMIT=N, "E" NAME=VALUE (added to
 * the environment), "T" (on a terminal, as --tty), "A" argv element, in
 * order. It reads exactly that
 * much; the rest of stdin is the command's. Then it runs as above. EOF
 * (or SIGTERM) before a header: exit 0 without a record.
 *
 * The record is the command's own report about itself: a command that
 * writes to /.runnerd/status can only misstate how it ended, which it
 * controls anyway. OOM counts come from the kernel's cgroup files, which
 * the container sees read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "docker_init_parse.h"
#include "pty.h"
#include "pty_relay.h"

extern char **environ;

#define POOL_READY "RNRDRDY\n"   /* must match docker.c */
#define WINDOW_FILE "/.runnerd/tty/size" /* docker.c mounts its directory */

static void
noop(int sig)
{
}

static void
pool_quit(int sig)
{
	_exit(0);
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

/* "NAME=N": set it; 0, or an errno. */
static int
apply_limit(const char *arg)
{
	unsigned long long v;
	struct rlimit rl;
	int resource, rv;

	if ((rv = init_limit_parse(arg, &resource, &v)) != 0)
		return rv;
	rl.rlim_cur = rl.rlim_max = (rlim_t) v;
	return setrlimit(resource, &rl) == 0 ? 0 : errno;
}

/* --- no unix sockets ---------------------------------------------------- */

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define COMPAT_ARCH AUDIT_ARCH_I386 /* i386 binaries: their own numbers */
#define X32_BIT 0x40000000u         /* x32 binaries: killed (none exist in images) */
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#else
#error "runnerd-docker-init: add this architecture's AUDIT_ARCH and system call numbers"
#endif

/* The low 32 bits of the first argument: socket()'s int family, all the
 * kernel reads of it. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LO (offsetof(struct seccomp_data, args[0]) + 4)
#endif

#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
/* Jump to instruction `t` if A == k, else to `f` (absolute indexes; BPF
 * jumps are relative and forward only). */
#define JEQ(here, k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t) - (here) - 1, (f) - (here) - 1)

enum {
	/* native */
	N_ARCH, N_IS_NATIVE, N_NR,
#ifdef X32_BIT
	N_X32,
#endif
	N_URING1, N_URING2, N_URING3, N_SOCKET, N_FAMILY, N_UNIX,
#ifdef COMPAT_ARCH
	/* i386 on x86_64 */
	C_IS_COMPAT, C_NR, C_URING1, C_URING2, C_URING3, C_SOCKETCALL, C_CALL, C_CALL_SOCKET, C_SOCKET,
	C_FAMILY, C_UNIX,
#endif
	ALLOW, DENY_FAMILY, NO_SYS, KILL, N_INSNS
};

#ifdef COMPAT_ARCH
#define NOT_NATIVE C_IS_COMPAT
#else
#define NOT_NATIVE KILL
#endif

static int
deny_unix_sockets(void)
{
	struct sock_filter insns[N_INSNS] = {
		[N_ARCH] = LD(offsetof(struct seccomp_data, arch)),
		[N_IS_NATIVE] = JEQ(N_IS_NATIVE, NATIVE_ARCH, N_NR, NOT_NATIVE),
		[N_NR] = LD(offsetof(struct seccomp_data, nr)),
#ifdef X32_BIT
		[N_X32] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, KILL - N_X32 - 1, 0),
#endif
		[N_URING1] = JEQ(N_URING1, SYS_io_uring_setup, NO_SYS, N_URING2),
		[N_URING2] = JEQ(N_URING2, SYS_io_uring_enter, NO_SYS, N_URING3),
		[N_URING3] = JEQ(N_URING3, SYS_io_uring_register, NO_SYS, N_SOCKET),
		[N_SOCKET] = JEQ(N_SOCKET, SYS_socket, N_FAMILY, ALLOW),
		[N_FAMILY] = LD(ARG0_LO),
		[N_UNIX] = JEQ(N_UNIX, AF_UNIX, DENY_FAMILY, ALLOW),
#ifdef COMPAT_ARCH
		/* i386: socket 359, socketcall 102 (whose family sits in memory
		 * a filter cannot read: SYS_SOCKET through it fails), io_uring
		 * 425-427. */
		[C_IS_COMPAT] = JEQ(C_IS_COMPAT, COMPAT_ARCH, C_NR, KILL),
		[C_NR] = LD(offsetof(struct seccomp_data, nr)),
		[C_URING1] = JEQ(C_URING1, 425, NO_SYS, C_URING2),
		[C_URING2] = JEQ(C_URING2, 426, NO_SYS, C_URING3),
		[C_URING3] = JEQ(C_URING3, 427, NO_SYS, C_SOCKETCALL),
		[C_SOCKETCALL] = JEQ(C_SOCKETCALL, 102, C_CALL, C_SOCKET),
		[C_CALL] = LD(ARG0_LO),
		[C_CALL_SOCKET] = JEQ(C_CALL_SOCKET, 1 /* SYS_SOCKET */, NO_SYS, ALLOW),
		[C_SOCKET] = JEQ(C_SOCKET, 359, C_FAMILY, ALLOW),
		[C_FAMILY] = LD(ARG0_LO),
		[C_UNIX] = JEQ(C_UNIX, AF_UNIX, DENY_FAMILY, ALLOW),
#endif
		[ALLOW] = RET(SECCOMP_RET_ALLOW),
		[DENY_FAMILY] = RET(SECCOMP_RET_ERRNO | EAFNOSUPPORT),
		[NO_SYS] = RET(SECCOMP_RET_ERRNO | ENOSYS),
		[KILL] = RET(SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = N_INSNS, .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		return errno;
	return 0;
}

/* Read exactly len bytes from fd 0 (never more: what follows is the
 * command's stdin). */
static int
read_exact(void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(0, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* mkdir -p, as docker does for --workdir. */
static void
make_dirs(char *path)
{
	for (char *s = path + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			(void) mkdir(path, 0755);
			*s = '/';
		}
	(void) mkdir(path, 0755);
}

/* Pool mode: announce readiness on stdout, then take the request's header
 * from stdin (see the top of this file) and apply its environment and
 * working directory. Fills req (pointers into a buffer that lives until
 * exit); returns 0, -1 at EOF (runnerd let the pooled container go), or an
 * errno for a header that cannot be applied. */
static int
pool_header(struct pool_request *req)
{
	unsigned char prefix[4];
	uint32_t len;
	char *buf;
	int rv;

	put(1, POOL_READY);
	if (read_exact(prefix, 4) < 0 || (len = pool_header_length(prefix)) == 0 ||
	    (buf = malloc(len + 1)) == NULL || read_exact(buf, len) < 0)
		return -1;
	buf[len] = '\0';
	if ((rv = pool_header_parse(buf, len, req)) != 0)
		return rv;
	for (char **e = req->env; *e; e++)
		if (putenv(*e) != 0)
			return ENOMEM;
	if (req->cwd != NULL && req->cwd[0] == '/' && chdir(req->cwd) != 0) {
		if (errno != ENOENT)
			return errno;
		make_dirs(req->cwd);
		if (chdir(req->cwd) != 0)
			return errno;
	}
	return 0;
}

/* The window size runnerd asks for (WINDOW_FILE): 0, or -1 when there is
 * none to read. */
static int
window_from_file(unsigned *rows, unsigned *cols)
{
	FILE *f = fopen(WINDOW_FILE, "re");
	bool ok = f != NULL && fscanf(f, "%u %u", rows, cols) == 2 && *rows > 0 && *cols > 0;

	if (f != NULL)
		fclose(f);
	return ok ? 0 : -1;
}

/* --tty: start PROGRAM on a terminal of the container's own; the relay
 * (r->master, r->pid) is then the caller's to run. 0, or an errno. */
static int
start_on_terminal(char **args, struct pty_relay *r)
{
	unsigned rows = 24, cols = 80;
	int slave, rv;

	(void) window_from_file(&rows, &cols);
	if ((rv = pty_open(rows, cols, &r->master, &slave)) < 0) {
		fprintf(stderr, "runnerd-docker-init: cannot open a terminal: %s\n", strerror(-rv));
		return -rv;
	}
	rv = pty_relay_spawn(&r->pid, args[0], true, args, environ, slave);
	close(slave);
	if (rv != 0)
		close(r->master);
	r->in = 0;
	r->out = 1;
	r->reap_all = true;
	r->window = window_from_file;
	return rv;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = noop };
	posix_spawnattr_t attr;
	sigset_t all, none;
	char line[160];
	long oom_before, oom_after;
	int fd, rv, status = 0, first = 2, sep, n_limits;
	char **limits, **args;
	struct pool_request req;
	bool allow_unix = argc > 2 && strcmp(argv[2], "--allow-unix") == 0, pool, tty;
	struct pty_relay relay = { 0 };
	pid_t pid;

	if (allow_unix)
		first = 3;
	pool = argc == first + 1 && strcmp(argv[first], "--pool") == 0;
	if ((tty = argc > first && strcmp(argv[first], "--tty") == 0))
		first++;
	for (sep = first; sep < argc && strcmp(argv[sep], "--") != 0;)
		sep++;
	if (argc < 2 || (!pool && sep + 1 >= argc)) {
		fprintf(stderr, "usage: runnerd-docker-init STATUS_FILE [--allow-unix] [--tty] [LIMIT=N]... -- PROGRAM [ARG]...\n"
				"       runnerd-docker-init STATUS_FILE [--allow-unix] --pool\n");
		return 125;
	}
	if ((fd = open(argv[1], O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) {
		fprintf(stderr, "runnerd-docker-init: %s: %s\n", argv[1], strerror(errno));
		return 125;
	}
	limits = argv + first;
	n_limits = sep - first;
	args = argv + sep + 1;

	/* Signals wait in the mask for sigwaitinfo; the handlers only make
	 * them deliverable to a namespace's init at all. */
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* fails harmlessly for glibc's reserved ones */

	rv = 0;
	if (pool) {
		/* Before the header: a signal (shutdown) ends a pooled container
		 * whose init waits in read(). */
		sigset_t term;
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGINT);
		sigaddset(&term, SIGHUP);
		/* A namespace's init ignores default-action signals. */
		signal(SIGTERM, pool_quit);
		signal(SIGINT, pool_quit);
		signal(SIGHUP, pool_quit);
		sigprocmask(SIG_UNBLOCK, &term, NULL);
		if ((rv = pool_header(&req)) < 0)
			return 0; /* no request: nothing to report */
		if (rv == 0) {
			limits = req.limits;
			for (n_limits = 0; limits[n_limits] != NULL; n_limits++)
				;
			args = req.argv;
			tty = req.tty;
		}
		sigprocmask(SIG_BLOCK, &term, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				sigaction(sig, &sa, NULL);
	}
	oom_before = oom_kills();
	for (int i = 0; i < n_limits && rv == 0; i++)
		rv = apply_limit(limits[i]);
	if (rv == 0 && !allow_unix)
		rv = deny_unix_sockets();
	if (rv == 0 && tty)
		rv = start_on_terminal(args, &relay);
	else if (rv == 0 && (rv = posix_spawnattr_init(&attr)) == 0 &&
	    (rv = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
							  POSIX_SPAWN_SETPGROUP)) == 0 &&
	    (rv = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (rv = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rv = posix_spawnattr_setpgroup(&attr, 0)) == 0)
		rv = posix_spawnp(&pid, args[0], NULL, &attr, args, environ);
	if (rv != 0) {
		snprintf(line, sizeof(line), "exec %d\n", rv);
		put(fd, line); /* runnerd reports it; stderr stays the command's */
		return rv == ENOENT ? 127 : 126;
	}

	if (tty) {
		if ((rv = pty_relay_run(&relay)) < 0)
			return 125;
		goto done;
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
