/* bench_common.c — see bench_common.h. */
#include "bench_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner_client.h"

extern char **environ;

const char *bench_prog = "bench";
volatile sig_atomic_t bench_interrupted;

/* The daemon the signal handlers stop, and what they remove. */
static volatile sig_atomic_t g_daemon_pid = -1;
static char g_tmpdir[128];
static char g_sock_path[160];
static char g_log_path[160];
static uint64_t g_deadline_ns;

/* ---------------------------------------------------------------------- */
/* Process set-up.                                                          */

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void
bench_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !bench_interrupted)
		;
}

uint64_t
bench_deadline_ns(void)
{
	return g_deadline_ns;
}

bool
bench_out_of_time(void)
{
	return bench_interrupted || bench_now_ns() > g_deadline_ns;
}

double
bench_seconds_left(void)
{
	uint64_t now = bench_now_ns();

	return now < g_deadline_ns ? (double) (g_deadline_ns - now) / 1e9 : 0;
}

/* Async-signal-safe removal of the files the daemon is known to create. */
static void
remove_tmp_files(void)
{
	if (g_sock_path[0] != '\0')
		unlink(g_sock_path);
	if (g_log_path[0] != '\0')
		unlink(g_log_path);
	if (g_tmpdir[0] != '\0')
		rmdir(g_tmpdir);
}

static void
write_str(const char *s)
{
	if (write(2, s, strlen(s)) < 0) {
		/* nothing to do */
	}
}

static void
on_signal(int sig)
{
	pid_t pid = (pid_t) g_daemon_pid;

	if (bench_interrupted) {
		/* Second signal: don't wait any longer. */
		if (pid > 0)
			kill(pid, SIGKILL);
		remove_tmp_files();
		_exit(128 + sig);
	}
	bench_interrupted = 1;
	/* The measuring code sees the flag after its current step. */
}

static void
on_alarm(int sig)
{
	pid_t pid = (pid_t) g_daemon_pid;

	(void) sig;
	write_str(bench_prog);
	write_str(": watchdog: time limit exceeded, killing runnerd\n");
	if (pid > 0)
		kill(pid, SIGKILL);
	remove_tmp_files();
	_exit(3);
}

int
bench_init(const char *prog, long max_seconds)
{
	struct sigaction sa;

	bench_prog = prog;
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			return -1;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	g_deadline_ns = bench_now_ns() + (uint64_t) max_seconds * 1000000000u;
	alarm((unsigned) (max_seconds + BENCH_WATCHDOG_EXTRA_S));
	return 0;
}

void
bench_watchdog_cancel(void)
{
	alarm(0);
}

long
bench_parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: %s: expected an integer in %ld..%ld, got '%s'\n", bench_prog, opt,
			min, max, s);
		exit(2);
	}
	return v;
}

uint64_t
bench_parse_size(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (runner_parse_size(s, &v) < 0 || v < min || v > max) {
		fprintf(stderr, "%s: %s: expected a size in %" PRIu64 "..%" PRIu64
			" (e.g. 512K, 1G), got '%s'\n", bench_prog, opt, min, max, s);
		exit(2);
	}
	return v;
}

void
bench_loadavg(char *buf, size_t len)
{
	double l[3];
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL && fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", l[0], l[1], l[2]);
	else
		snprintf(buf, len, "?");
	if (f != NULL)
		fclose(f);
}

void
bench_print_host(FILE *f)
{
	struct utsname un;
	char load[64];

	uname(&un);
	bench_loadavg(load, sizeof(load));
	fprintf(f, "host: %s %s %s, %ld CPUs online, load average %s (1/5/15 min)\n", un.sysname,
		un.release, un.machine, sysconf(_SC_NPROCESSORS_ONLN), load);
}

/* ---------------------------------------------------------------------- */
/* --quick and the targets.                                                  */

bool bench_quick;

void
bench_target(const char *figure, const char *detail, double got, const char *cmp, double limit,
	     const char *unit)
{
	static bool headed;
	bool ratio = strcmp(unit, "x") == 0, le = strcmp(cmp, "<=") == 0;
	const char *verdict;

	if (!headed) {
		char load[64];

		bench_loadavg(load, sizeof(load));
		printf("\nTargets (issue 12), measured in this run; load average %s%s:\n", load,
		       bench_quick ? "; --quick: sizes too small to judge" : "");
		headed = true;
	}
	if (got < 0)
		verdict = "not measured";
	else if (bench_quick)
		verdict = "not judged (--quick)";
	else
		verdict = (le ? got <= limit : got >= limit) ? "reached" : "NOT reached";
	if (got < 0)
		printf("  %-44s %s: target %s %.2f%s: %s\n", figure, detail, cmp, limit, unit, verdict);
	else if (ratio)
		printf("  %-44s %s = %.2fx (target %s %.2fx): %s\n", figure, detail, got, cmp, limit, verdict);
	else
		printf("  %-44s %s = %.*f %s (target %s %.0f %s): %s\n", figure, detail, got >= 100 ? 0 : 1, got,
		       unit, cmp, limit, unit, verdict);
}

void
bench_target_p50(const char *figure, const struct bench_series *s, const struct bench_series *floor,
		 const char *cmp, double limit)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "p50 %.1f ms vs %s %.1f ms", s->lat.p50_us / 1000, floor->name,
		 floor->lat.p50_us / 1000);
	bench_target(figure, detail, s->lat.n > 0 && floor->lat.n > 0 ? s->lat.p50_us / floor->lat.p50_us : -1,
		     cmp, limit, "x");
}

/* ---------------------------------------------------------------------- */
/* A bare nng floor.                                                         */

static void *
nng_floor_serve(void *arg)
{
	struct bench_nng_floor *f = arg;

	for (;;) {
		nng_msg *m;

		if (nng_recvmsg(f->sock, &m, 0) != 0)
			return NULL;
		/* Answer with the request's message, resized. */
		if (nng_msg_realloc(m, f->reply_len) != 0 || nng_sendmsg(f->sock, m, 0) != 0)
			nng_msg_free(m);
	}
}

int
bench_nng_floor_start(struct bench_nng_floor *f, int (*open_proto)(nng_socket *), size_t req_len,
		      size_t reply_len)
{
	nng_listener l;
	int rv, port = 0;

	memset(f, 0, sizeof(*f));
	f->req_len = req_len;
	f->reply_len = reply_len;
	snprintf(f->dir, sizeof(f->dir), "/tmp/%s-floor.XXXXXX", bench_prog);
	if (mkdtemp(f->dir) == NULL) {
		fprintf(stderr, "%s: mkdtemp: %s\n", bench_prog, strerror(errno));
		return -1;
	}
	snprintf(f->ipc_url, sizeof(f->ipc_url), "ipc://%s/floor.sock", f->dir);
	if ((rv = open_proto(&f->sock)) != 0)
		goto fail;
	if ((rv = nng_socket_set_size(f->sock, NNG_OPT_RECVMAXSZ, 0)) != 0 ||
	    (rv = nng_listen(f->sock, f->ipc_url, NULL, 0)) != 0 ||
	    (rv = nng_listen(f->sock, "tcp://127.0.0.1:0", &l, 0)) != 0 ||
	    (rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0 ||
	    (rv = pthread_create(&f->th, NULL, nng_floor_serve, f)) != 0) {
		nng_close(f->sock);
		goto fail;
	}
	snprintf(f->tcp_url, sizeof(f->tcp_url), "tcp://127.0.0.1:%d", port);
	f->up = true;
	return 0;
fail:
	fprintf(stderr, "%s: nng floor: %s\n", bench_prog, nng_strerror(rv));
	rmdir(f->dir);
	return -1;
}

void
bench_nng_floor_stop(struct bench_nng_floor *f)
{
	char path[160];

	if (!f->up)
		return;
	nng_close(f->sock);
	pthread_join(f->th, NULL);
	snprintf(path, sizeof(path), "%s/floor.sock", f->dir);
	unlink(path);
	rmdir(f->dir);
	f->up = false;
}

int
bench_nng_floor_dial(nng_socket s, const char *url, char *err, size_t errlen)
{
	int rv;

	if ((rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, BENCH_RUN_DEADLINE_MS)) != 0 ||
	    (rv = nng_dial(s, url, NULL, 0)) != 0) {
		snprintf(err, errlen, "nng floor %.200s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

int
bench_nng_round_trip(const struct bench_nng_floor *f, nng_socket s, char *err, size_t errlen)
{
	nng_msg *m;
	int rv;

	if ((rv = nng_msg_alloc(&m, f->req_len)) != 0) {
		snprintf(err, errlen, "nng_msg_alloc: %s", nng_strerror(rv));
		return -1;
	}
	memset(nng_msg_body(m), 0x5a, f->req_len);
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		snprintf(err, errlen, "nng_sendmsg: %s", nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
		snprintf(err, errlen, "nng_recvmsg: %s", nng_strerror(rv));
		return -1;
	}
	rv = nng_msg_len(m) == f->reply_len ? 0 : -1;
	if (rv < 0)
		snprintf(err, errlen, "nng floor: a reply of %zu bytes, not %zu", nng_msg_len(m), f->reply_len);
	nng_msg_free(m);
	return rv;
}

/* ---------------------------------------------------------------------- */
/* The daemon under test.                                                   */

/* A free port on 127.0.0.1 whose neighbour is free too: runnerd's stream
 * listener takes port + 1. Both are held while checking, then released. */
static int
free_tcp_port(void)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), next = -1, port = -1;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0)
			return -1;
		if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
		    getsockname(fd, (struct sockaddr *) &sa, &len) == 0 && ntohs(sa.sin_port) < 65535 &&
		    (next = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
			port = ntohs(sa.sin_port);
			sa.sin_port = htons((uint16_t) (port + 1));
			if (bind(next, (struct sockaddr *) &sa, sizeof(sa)) != 0)
				port = -1;
		}
		if (next >= 0)
			close(next);
		close(fd);
		if (port > 0)
			return port;
	}
	return -1;
}

void
bench_daemon_print_log_tail(void)
{
	char buf[4096];
	FILE *f;
	long size;
	size_t n;

	if (g_log_path[0] == '\0' || (f = fopen(g_log_path, "r")) == NULL)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long) sizeof(buf) - 1 ? size - (long) sizeof(buf) + 1 : 0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	fprintf(stderr, "---- runnerd log (tail) ----\n%s%s----------------------------\n", buf,
		n > 0 && buf[n - 1] != '\n' ? "\n" : "");
}

static pid_t
start_daemon(const struct bench_daemon_opts *o, const struct bench_daemon *d)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	char *argv[8 + BENCH_MAX_DAEMON_ARGS];
	int argc = 0, rv;
	pid_t pid;

	if (o->nargs > BENCH_MAX_DAEMON_ARGS) {
		fprintf(stderr, "%s: too many daemon arguments\n", bench_prog);
		return -1;
	}
	argv[argc++] = (char *) o->path;
	argv[argc++] = (char *) "--listen";
	argv[argc++] = (char *) d->ipc_url;
	if (o->tcp) {
		argv[argc++] = (char *) "--listen";
		argv[argc++] = (char *) d->tcp_url;
		argv[argc++] = (char *) "--insecure-tcp";
	}
	for (int i = 0; i < o->nargs; i++)
		argv[argc++] = o->args[i];
	argv[argc] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, g_log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	/* Its own process group: a terminal's ^C reaches the benchmark, which
	 * then stops the daemon in order. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	rv = posix_spawn(&pid, o->path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rv != 0) {
		fprintf(stderr, "%s: cannot start %s: %s\n", bench_prog, o->path, strerror(rv));
		return -1;
	}
	g_daemon_pid = pid;
	return pid;
}

runner_credentials bench_credentials;

int
bench_wait_healthy(const char *url, pid_t daemon, int timeout_ms, char *version, size_t vlen)
{
	runner_credentials cred = bench_credentials;
	runner_client_options o = { .connect_timeout_ms = 250, .credentials = &cred };
	uint64_t until = bench_now_ns() + (uint64_t) timeout_ms * 1000000u;
	runner_client *c = NULL;
	runner_status st;
	int status;

	if (runner_client_open(&c, url, &o, &st) < 0) {
		fprintf(stderr, "%s: %s: %s: %s\n", bench_prog, url, runner_status_code_name(st.code),
			st.message);
		return -1;
	}
	for (;;) {
		Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
		Runner__V1__HealthResponse *resp = NULL;
		int rv;

		rv = runner_health(c, &req, &resp, 1000, &st);
		if (rv == 0 && resp != NULL && strcmp(resp->status, "SERVING") == 0) {
			if (version != NULL)
				snprintf(version, vlen, "%s", resp->version);
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			runner_client_close(c);
			return 0;
		}
		if (resp != NULL)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (daemon > 0 && waitpid(daemon, &status, WNOHANG) == daemon) {
			if (daemon == (pid_t) g_daemon_pid)
				g_daemon_pid = -1;
			fprintf(stderr, "%s: runnerd exited during start-up (status 0x%x)\n", bench_prog,
				status);
			break;
		}
		if (bench_now_ns() > until || bench_interrupted) {
			fprintf(stderr, "%s: %s not healthy within %d ms (last: %s: %s)\n", bench_prog, url,
				timeout_ms, rv < 0 ? runner_status_code_name(st.code) : "OK",
				rv < 0 ? st.message : "status not SERVING");
			break;
		}
		bench_sleep_ms(50);
	}
	runner_client_close(c);
	return -1;
}

/* SIGTERM, wait, SIGKILL if needed. Returns the wait status, or -1. */
static int
stop_daemon(double *took_ms)
{
	pid_t pid = (pid_t) g_daemon_pid;
	uint64_t t0 = bench_now_ns();
	int status = -1;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		if (bench_now_ns() - t0 > (uint64_t) BENCH_STOP_WAIT_MS * 1000000u) {
			fprintf(stderr, "%s: runnerd ignored SIGTERM for %d ms; SIGKILL\n", bench_prog,
				BENCH_STOP_WAIT_MS);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		bench_sleep_ms(5);
	}
	g_daemon_pid = -1;
	if (took_ms != NULL)
		*took_ms = (double) (bench_now_ns() - t0) / 1e6;
	return status;
}

/* Remove `dir` and everything under it (the daemon's state directory may
 * hold backends' subdirectories); symlinks are removed, never followed. */
static void
remove_tree(const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	char p[PATH_MAX];

	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			if (unlinkat(dirfd(d), e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM) &&
			    depth > 0)
				remove_tree(p, depth - 1);
		}
		closedir(d);
	}
	if (rmdir(dir) != 0 && errno != ENOENT)
		fprintf(stderr, "%s: cannot remove %s: %s\n", bench_prog, dir, strerror(errno));
}

static void
cleanup_tmpdir(void)
{
	if (g_tmpdir[0] != '\0')
		remove_tree(g_tmpdir, 16);
	g_tmpdir[0] = g_sock_path[0] = g_log_path[0] = '\0';
}

int
bench_daemon_launch(const struct bench_daemon_opts *o, struct bench_daemon *d)
{
	const char *tmp = getenv("TMPDIR");

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	if (o->path == NULL || o->path[0] == '\0') {
		fprintf(stderr, "%s: no runnerd binary compiled in: use --runnerd PATH\n", bench_prog);
		return -1;
	}
	if (access(o->path, X_OK) != 0) {
		fprintf(stderr, "%s: %s: %s\n", bench_prog, o->path, strerror(errno));
		return -1;
	}
	if ((pid_t) g_daemon_pid > 0) {
		fprintf(stderr, "%s: a daemon is already running\n", bench_prog);
		return -1;
	}
	snprintf(g_tmpdir, sizeof(g_tmpdir), "%s/runnerd-bench.XXXXXX",
		 tmp && tmp[0] && strlen(tmp) < 64 ? tmp : "/tmp");
	if (mkdtemp(g_tmpdir) == NULL) {
		fprintf(stderr, "%s: mkdtemp %s: %s\n", bench_prog, g_tmpdir, strerror(errno));
		g_tmpdir[0] = '\0';
		return -1;
	}
	snprintf(d->tmpdir, sizeof(d->tmpdir), "%s", g_tmpdir);
	snprintf(g_sock_path, sizeof(g_sock_path), "%s/runnerd.sock", g_tmpdir);
	snprintf(g_log_path, sizeof(g_log_path), "%s/runnerd.log", g_tmpdir);
	snprintf(d->ipc_url, sizeof(d->ipc_url), "ipc://%s", g_sock_path);
	if (o->tcp) {
		int port = free_tcp_port();

		if (port < 0) {
			fprintf(stderr, "%s: no free tcp port on 127.0.0.1\n", bench_prog);
			cleanup_tmpdir();
			return -1;
		}
		snprintf(d->tcp_url, sizeof(d->tcp_url), "tcp://127.0.0.1:%d", port);
	}
	if ((d->pid = start_daemon(o, d)) < 0) {
		cleanup_tmpdir();
		return -1;
	}
	if (bench_wait_healthy(d->ipc_url, d->pid, BENCH_HEALTH_WAIT_MS, d->version,
			       sizeof(d->version)) < 0 ||
	    (o->tcp && bench_wait_healthy(d->tcp_url, d->pid, BENCH_HEALTH_WAIT_MS, NULL, 0) < 0)) {
		stop_daemon(NULL);
		bench_daemon_print_log_tail();
		cleanup_tmpdir();
		d->pid = -1;
		return -1;
	}
	return 0;
}

int
bench_daemon_kill(struct bench_daemon *d)
{
	int status = -1;

	if (d->pid <= 0 || d->pid != (pid_t) g_daemon_pid)
		return -1;
	kill(d->pid, SIGKILL);
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		;
	g_daemon_pid = -1;
	d->pid = -1;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

int
bench_daemon_restart(const struct bench_daemon_opts *o, struct bench_daemon *d)
{
	if (d->pid > 0 || g_tmpdir[0] == '\0')
		return -1;
	if ((d->pid = start_daemon(o, d)) < 0)
		return -1;
	if (bench_wait_healthy(d->ipc_url, d->pid, BENCH_HEALTH_WAIT_MS, NULL, 0) < 0 ||
	    (o->tcp && bench_wait_healthy(d->tcp_url, d->pid, BENCH_HEALTH_WAIT_MS, NULL, 0) < 0)) {
		bench_daemon_print_log_tail();
		return -1;
	}
	return 0;
}

int
bench_daemon_shutdown(struct bench_daemon *d, double *took_ms)
{
	int status, rv = 0;

	if (d->pid <= 0 || d->pid != (pid_t) g_daemon_pid)
		return -1;
	status = stop_daemon(took_ms);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: runnerd did not exit cleanly on SIGTERM (status 0x%x)\n", bench_prog,
			status);
		bench_daemon_print_log_tail();
		rv = -1;
	}
	cleanup_tmpdir();
	d->pid = -1;
	return rv;
}

/* A "Name:   value kB" line of /proc/PID/status. */
long
bench_proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

long
bench_proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

double
bench_proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, stime = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields 14 and 15
	 * (utime, stime) counted from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (int field = 2; field < 14 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu %llu", &ut, &stime) != 2)
		return -1;
	return (double) (ut + stime) / (double) sysconf(_SC_CLK_TCK);
}

/* ---------------------------------------------------------------------- */
/* Numbers.                                                                 */

int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

double
bench_percentile_us(const uint64_t *v, long n, double q)
{
	long k;

	if (n == 0)
		return 0;
	k = (long) (q * (double) n + 0.999999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double) v[k - 1] / 1000.0;
}

void
bench_lat_summarize(uint64_t *v, long n, struct bench_lat *out)
{
	double sum_us = 0;

	qsort(v, (size_t) n, sizeof(*v), bench_cmp_u64);
	for (long i = 0; i < n; i++)
		sum_us += (double) v[i] / 1000.0;
	out->n = n;
	out->p50_us = bench_percentile_us(v, n, 0.50);
	out->p99_us = bench_percentile_us(v, n, 0.99);
	out->max_us = n ? (double) v[n - 1] / 1000.0 : 0;
	out->mean_us = n ? sum_us / (double) n : 0;
}

void
bench_fmt_ratio(char *buf, size_t len, double num, double den)
{
	if (den > 0 && num > 0)
		snprintf(buf, len, "%.2fx", num / den);
	else
		snprintf(buf, len, "-");
}

/* ---------------------------------------------------------------------- */
/* Errors.                                                                  */

void
bench_errs_init(struct bench_errs *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
}

void
bench_errs_destroy(struct bench_errs *e)
{
	pthread_mutex_destroy(&e->mu);
}

long
bench_errs_add(struct bench_errs *e, const char *msg)
{
	long total;
	int i;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < e->n; i++) {
		if (strcmp(e->slot[i].msg, msg) == 0) {
			e->slot[i].count++;
			break;
		}
	}
	if (i == e->n) {
		if (e->n < BENCH_MAX_ERRS) {
			snprintf(e->slot[i].msg, sizeof(e->slot[i].msg), "%s", msg);
			e->slot[i].count = 1;
			e->n++;
		} else {
			e->other++;
		}
	}
	total = ++e->total;
	pthread_mutex_unlock(&e->mu);
	return total;
}

void
bench_errs_print(const struct bench_errs *e, FILE *f, const char *indent)
{
	for (int j = 0; j < e->n; j++)
		fprintf(f, "%s%6ld x %s\n", indent, e->slot[j].count, e->slot[j].msg);
	if (e->other > 0)
		fprintf(f, "%s%6ld x (other messages)\n", indent, e->other);
}

/* ---------------------------------------------------------------------- */
/* Tables.                                                                  */

struct bench_table {
	int ncols;
	char **heads;
	char *align;
	char **cells;  /* row-major, nrows * ncols */
	char **notes;  /* per row, may be NULL */
	int nrows, cap, cur; /* cur: cells filled in the row being built */
};

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "%s: out of memory\n", bench_prog);
		exit(2);
	}
	return q;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory\n", bench_prog);
		exit(2);
	}
	return p;
}

bench_table *
bench_table_new(int ncols, const char *const *heads, const char *align)
{
	bench_table *t = xrealloc(NULL, sizeof(*t));

	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->heads = xrealloc(NULL, sizeof(char *) * (size_t) ncols);
	t->align = xrealloc(NULL, (size_t) ncols);
	for (int i = 0; i < ncols; i++) {
		t->heads[i] = xstrdup(heads[i]);
		t->align[i] = align != NULL && align[i] == 'l' ? 'l' : 'r';
	}
	return t;
}

static void
ensure_row(bench_table *t)
{
	if (t->nrows < t->cap)
		return;
	t->cap = t->cap ? t->cap * 2 : 16;
	t->cells = xrealloc(t->cells, sizeof(char *) * (size_t) t->cap * (size_t) t->ncols);
	t->notes = xrealloc(t->notes, sizeof(char *) * (size_t) t->cap);
}

void
bench_table_cell(bench_table *t, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (t->cur == t->ncols)
		return; /* too many cells: ignored */
	ensure_row(t);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->cells[t->nrows * t->ncols + t->cur++] = xstrdup(buf);
}

void
bench_table_end_row(bench_table *t, const char *note)
{
	ensure_row(t);
	while (t->cur < t->ncols)
		t->cells[t->nrows * t->ncols + t->cur++] = xstrdup("");
	t->notes[t->nrows] = note != NULL && note[0] != '\0' ? xstrdup(note) : NULL;
	t->nrows++;
	t->cur = 0;
}

static void
print_cell(FILE *f, const char *s, int width, char align, bool last)
{
	if (align == 'l' && last)
		fputs(s, f);
	else if (align == 'l')
		fprintf(f, "%-*s", width, s);
	else
		fprintf(f, "%*s", width, s);
}

void
bench_table_print(const bench_table *t, FILE *f)
{
	int *w = xrealloc(NULL, sizeof(int) * (size_t) t->ncols);

	for (int c = 0; c < t->ncols; c++) {
		w[c] = (int) strlen(t->heads[c]);
		for (int r = 0; r < t->nrows; r++) {
			int len = (int) strlen(t->cells[r * t->ncols + c]);
			if (len > w[c])
				w[c] = len;
		}
	}
	for (int c = 0; c < t->ncols; c++) {
		if (c > 0)
			fputc(' ', f);
		print_cell(f, t->heads[c], w[c], t->align[c], c == t->ncols - 1);
	}
	fputc('\n', f);
	for (int c = 0; c < t->ncols; c++) {
		if (c > 0)
			fputc(' ', f);
		for (int i = 0; i < w[c]; i++)
			fputc('-', f);
	}
	fputc('\n', f);
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			if (c > 0)
				fputc(' ', f);
			print_cell(f, t->cells[r * t->ncols + c], w[c], t->align[c],
				   c == t->ncols - 1 && t->notes[r] == NULL);
		}
		if (t->notes[r] != NULL)
			fprintf(f, "  %s", t->notes[r]);
		fputc('\n', f);
	}
	free(w);
}

void
bench_table_free(bench_table *t)
{
	if (t == NULL)
		return;
	for (int c = 0; c < t->ncols; c++)
		free(t->heads[c]);
	for (int r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++)
			free(t->cells[r * t->ncols + c]);
		free(t->notes[r]);
	}
	/* A row being built but not ended. */
	for (int c = 0; c < t->cur; c++)
		free(t->cells[t->nrows * t->ncols + c]);
	free(t->heads);
	free(t->align);
	free(t->cells);
	free(t->notes);
	free(t);
}

/* ---- series of calls, interleaved -------------------------------------------- */

void
bench_measure_all(struct bench_series *s, int ns, long runs, long warm, bench_one_fn *fn, void **arg)
{
	for (int k = 0; k < ns; k++)
		s[k].ns = calloc((size_t) runs, sizeof(uint64_t));
	for (long i = 0; i < warm && !bench_out_of_time(); i++)
		for (int k = 0; k < ns; k++)
			(void) fn[k](arg[k]);
	for (long i = 0; i < runs && !bench_out_of_time(); i++)
		for (int k = 0; k < ns; k++) {
			uint64_t t0 = bench_now_ns();
			if (fn[k](arg[k]) != 0) {
				s[k].fail++;
				continue;
			}
			s[k].ns[s[k].n++] = bench_now_ns() - t0;
		}
	for (int k = 0; k < ns; k++)
		bench_lat_summarize(s[k].ns, s[k].n, &s[k].lat);
}

void
bench_series_cells(bench_table *t, const struct bench_series *s)
{
	bench_table_cell(t, "%s", s->name);
	bench_table_cell(t, "%ld", s->n);
	bench_table_cell(t, "%ld", s->fail);
	bench_table_cell(t, "%.1f", s->lat.p50_us / 1000);
	bench_table_cell(t, "%.1f", s->lat.p99_us / 1000);
	bench_table_cell(t, "%.1f", s->lat.mean_us / 1000);
}

int
bench_one_run(void *p)
{
	struct bench_run_arg *a = p;
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__RunResponse *resp = NULL;
	runner_status st;
	int rv;

	spec.argv = a->argv;
	spec.n_argv = 1;
	spec.profile = (char *) a->profile;
	req.command = &spec;
	rv = runner_run(a->cl, &req, &resp, BENCH_RUN_DEADLINE_MS, &st);
	if (rv == 0 && (resp->result == NULL || resp->result->reason != RUNNER__V1__TERMINATION__EXITED ||
			resp->result->exit_code != 0)) {
		snprintf(st.message, sizeof(st.message), "reason %d exit %d: %.*s",
			 resp->result ? (int) resp->result->reason : -1, resp->result ? resp->result->exit_code : -1,
			 resp->result ? (int) resp->result->stderr.len : 0,
			 resp->result ? (const char *) resp->result->stderr.data : "");
		rv = -1;
	}
	if (rv != 0)
		bench_errs_add(a->errs, st.message);
	if (resp)
		runner__v1__run_response__free_unpacked(resp, NULL);
	return rv == 0 ? 0 : -1;
}
