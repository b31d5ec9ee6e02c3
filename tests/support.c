/* support.c — runnerd as a child process of a test; see support.h. */
#include "support.h"

#include "netchurn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RUNNERD_PATH
#error "RUNNERD_PATH must name the runnerd binary under test"
#endif

#define BASE_ENV "RUNNERD_TEST_BASE"
#define STOP_TIMEOUT_MS 10000
#define MAX_ARGS 64
#define MAX_ENV 512
#define TCP_START_ATTEMPTS 3

extern char **environ;

rd_daemon rd_fx;

int64_t
rd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

const char *
rd_sanitizer_build(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return "address";
#elif defined(__SANITIZE_THREAD__)
	return "thread";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return "address";
#elif __has_feature(thread_sanitizer)
	return "thread";
#endif
#endif
	return "";
}

bool
rd_rss_judged(const char *test)
{
	if (rd_sanitizer_build()[0] == '\0')
		return true;
	fprintf(stderr, "%s: %s sanitizer build: RSS figures printed, not checked (its allocator and shadow "
			"memory are not what runs in production)\n", test, rd_sanitizer_build());
	return false;
}

void
rd_note_first(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

void
rd_sleep_ms(int ms)
{
	sleep_ms(ms);
}

long
rd_status_kb(pid_t pid, const char *name)
{
	char path[64], line[256];
	size_t n = strlen(name);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	while (kb < 0 && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &kb) != 1)
			kb = -1;
	fclose(f);
	ck_assert_msg(kb >= 0, "no %s in %s", name, path);
	return kb;
}

long
rd_vmrss_kb(pid_t pid)
{
	return rd_status_kb(pid, "VmRSS");
}

long
rd_raise_nofile(long want)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && (long) rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long) rl.rlim_max >= want
				      ? (rlim_t) want
				      : rl.rlim_max;
		ck_assert_msg(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit NOFILE: %s", strerror(errno));
	}
	return rl.rlim_cur == RLIM_INFINITY ? want : (long) rl.rlim_cur;
}

void
rd_mkdtemp(char out[256])
{
	const char *base = getenv(BASE_ENV);

	snprintf(out, 256, "%s/d-XXXXXX", base != NULL ? base : "/tmp");
	ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
rd_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_msg(write(fd, data, len) == (ssize_t) len, "write %s", path);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

int
rd_check_config(const char *text, char *out, size_t outlen)
{
	char dir[256], path[300];
	int p[2], status;
	pid_t pid;

	rd_mkdtemp(dir);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	rd_write_file(path, text, strlen(text), 0600);
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		dup2(p[1], 2);
		execl(RUNNERD_PATH, "runnerd", "--check-config", path, (char *) NULL);
		_exit(127);
	}
	close(p[1]);
	/* All of it: one line per profile may take more than one read. */
	size_t got = 0;
	ssize_t n;
	char sink[1024];
	while ((n = read(p[0], got < outlen - 1 ? out + got : sink,
			 got < outlen - 1 ? outlen - 1 - got : sizeof(sink))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (got < outlen - 1)
			got += (size_t) n;
	}
	out[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *
rd_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t) n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t) n, f), n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t) n;
	return buf;
}

bool
rd_pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}

int
rd_free_tcp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

struct rd_sockaddr
rd_sockaddr_of(const char *url)
{
	struct rd_sockaddr a = { 0 };

	ck_assert_msg(netchurn_addr(url, &a.ss, &a.len) == 0, "url %s: not ipc:// nor tcp://127.0.0.1:", url);
	return a;
}

int
rd_sp_connect(const char *url, uint16_t proto, int timeout_ms)
{
	const uint8_t hello[8] = { 0, 'S', 'P', 0, (uint8_t) (proto >> 8), (uint8_t) proto, 0, 0 };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct rd_sockaddr a = rd_sockaddr_of(url);
	uint8_t peer[8];
	int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *) &a.ss, a.len) != 0 ||
	    send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t) sizeof(hello) ||
	    recv(fd, peer, sizeof(peer), MSG_WAITALL) != (ssize_t) sizeof(peer)) {
		close(fd);
		return -1;
	}
	ck_assert_msg(peer[0] == 0 && peer[1] == 'S' && peer[2] == 'P',
		      "%s did not answer with an SP header", url);
	return fd;
}

size_t
rd_sp_send(int fd, uint64_t declared, const uint8_t *body, size_t len)
{
	uint8_t head[13] = { 1 };
	uint64_t total = declared + 4;
	size_t off = 0;

	for (int i = 0; i < 8; i++)
		head[1 + i] = (uint8_t) (total >> (56 - 8 * i));
	head[9] = 0x80; /* request id 0x80000001 */
	head[12] = 0x01;
	if (send(fd, head, sizeof(head), MSG_NOSIGNAL) != (ssize_t) sizeof(head))
		return 0;
	while (off < len) {
		ssize_t n = send(fd, body + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t) n;
	}
	return off;
}

bool
rd_sp_closed(int fd, int timeout_ms)
{
	int64_t end = rd_now_ms() + timeout_ms;
	uint8_t buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - rd_now_ms();
		ssize_t n;

		if (poll(&p, 1, left > 0 ? (int) left : 0) <= 0)
			return false;
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) == 0 ||
		    (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

void
rd_churn(const char *url, int cycles, const void *hello, size_t hello_len)
{
	int rv = netchurn(url, cycles, hello, hello_len);

	ck_assert_msg(rv == cycles, "connect/close churn on %s: %s", url, rv < 0 ? strerror(-rv) : "cut short");
}

runner_client *
rd_client(const char *url)
{
	runner_client_options o = { .connect_timeout_ms = 2000 };
	runner_client *c = NULL;
	runner_status st = { 0 };

	ck_assert_msg(runner_client_open(&c, url, &o, &st) == 0, "client %s: %s", url, st.message);
	return c;
}

/* The daemon's environment: ours, with `extra` added or replacing. */
static char **
build_env(const char *const *extra)
{
	static char *envp[MAX_ENV + 1];
	size_t n = 0;

	for (char **e = environ; *e != NULL && n < MAX_ENV; e++) {
		bool replaced = false;
		size_t klen = strcspn(*e, "=");

		for (const char *const *x = extra; x != NULL && *x != NULL; x++)
			if (strncmp(*x, *e, klen + 1) == 0)
				replaced = true;
		if (!replaced)
			envp[n++] = *e;
	}
	for (const char *const *x = extra; x != NULL && *x != NULL && n < MAX_ENV; x++)
		envp[n++] = (char *) *x;
	envp[n] = NULL;
	return envp;
}

static pid_t
spawn_daemon(const rd_daemon *d, const rd_options *o)
{
	const char *argv[MAX_ARGS + 1];
	char **envp = build_env(o ? o->env : NULL);
	pid_t parent = getpid(), pid;
	size_t n = 0;

	argv[n++] = RUNNERD_PATH;
	argv[n++] = "--listen";
	argv[n++] = d->ipc_url;
	if (d->tcp_url[0] != '\0') {
		argv[n++] = "--listen";
		argv[n++] = d->tcp_url;
		argv[n++] = "--insecure-tcp";
		if (o != NULL && o->advertise) {
			argv[n++] = "--advertise";
			argv[n++] = d->tcp_url;
		}
	}
	for (const char *const *a = o ? o->args : NULL; a != NULL && *a != NULL; a++) {
		ck_assert_int_lt(n, MAX_ARGS);
		argv[n++] = *a;
	}
	argv[n] = NULL;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		sigset_t none;

		/* Die with the test process, even when an assertion ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (o != NULL && o->nofile_hard > 0) {
			struct rlimit rl = { .rlim_cur = o->nofile_soft, .rlim_max = o->nofile_hard };

			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				_exit(126);
		}
		execve(RUNNERD_PATH, (char **) argv, envp);
		(void) !write(2, "exec " RUNNERD_PATH " failed\n", sizeof("exec " RUNNERD_PATH " failed\n") - 1);
		_exit(127);
	}
	return pid;
}

/* Health answers OK on url within one short attempt. */
static bool
health_ok(const char *url)
{
	runner_client_options o = { .connect_timeout_ms = 100 };
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *reply = NULL;
	runner_client *c = NULL;
	runner_status st = { 0 };
	int rv;

	if (runner_client_open(&c, url, &o, &st) != 0)
		return false;
	rv = runner_health(c, &req, &reply, 200, &st);
	if (reply != NULL)
		runner__v1__health_response__free_unpacked(reply, NULL);
	runner_client_close(c);
	return rv == 0;
}

/* 0 when ready; otherwise the wait status of a daemon that exited. */
static int
wait_ready(rd_daemon *d)
{
	int64_t end = rd_now_ms() + RD_READY_TIMEOUT_MS;
	int status;

	for (;;) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return status == 0 ? -1 : status;
		}
		if (health_ok(d->ipc_url) && (d->tcp_url[0] == '\0' || health_ok(d->tcp_url)))
			return 0;
		ck_assert_msg(rd_now_ms() < end, "runnerd not healthy within %d ms", RD_READY_TIMEOUT_MS);
		sleep_ms(20);
	}
}

void
rd_start(rd_daemon *d, const rd_options *opts)
{
	int status = 0;

	memset(d, 0, sizeof(*d));
	rd_mkdtemp(d->dir);
	snprintf(d->ipc_url, sizeof(d->ipc_url), "ipc://%s/runnerd.sock", d->dir);
	/* A free port can be taken between our probe and runnerd's bind:
	 * retry a few times when runnerd exits at start-up. */
	for (int attempt = 0; attempt < (opts && opts->tcp ? TCP_START_ATTEMPTS : 1); attempt++) {
		if (opts && opts->tcp)
			snprintf(d->tcp_url, sizeof(d->tcp_url), "tcp://127.0.0.1:%d", rd_free_tcp_port());
		d->pid = spawn_daemon(d, opts);
		if ((status = wait_ready(d)) == 0)
			return;
	}
	ck_abort_msg("runnerd exited during start-up (wait status 0x%x)", (unsigned) status);
}

int
rd_wait_exit(rd_daemon *d, int timeout_ms)
{
	int64_t end = rd_now_ms() + timeout_ms;
	int status;

	if (d->pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			return status;
		}
		ck_assert_msg(r == 0, "waitpid: %s", strerror(errno));
		if (rd_now_ms() >= end)
			return -1;
		sleep_ms(5);
	}
}

int
rd_kill(rd_daemon *d, int sig)
{
	int status;

	ck_assert_msg(d->pid > 0, "rd_kill: the daemon is not running");
	ck_assert_int_eq(kill(d->pid, sig), 0);
	status = rd_wait_exit(d, STOP_TIMEOUT_MS);
	ck_assert_msg(status != -1, "runnerd did not exit within %d ms of signal %d", STOP_TIMEOUT_MS, sig);
	return status;
}

void
rd_restart(rd_daemon *d, const rd_options *opts)
{
	int status;

	ck_assert_msg(d->pid == 0 && d->dir[0] != '\0', "rd_restart: the daemon is still running");
	d->pid = spawn_daemon(d, opts);
	status = wait_ready(d);
	ck_assert_msg(status == 0, "restarted runnerd exited during start-up (wait status 0x%x)",
		      (unsigned) status);
}

int
rd_stop(rd_daemon *d)
{
	int status = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if ((status = rd_wait_exit(d, STOP_TIMEOUT_MS)) == -1) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
			ck_abort_msg("runnerd did not exit within %d ms of SIGTERM", STOP_TIMEOUT_MS);
		}
	}
	if (d->dir[0] != '\0')
		remove_tree(d->dir);
	d->dir[0] = '\0';
	return status;
}

void
rd_fixture_start(void)
{
	rd_start(&rd_fx, NULL);
}

void
rd_stop_ok(rd_daemon *d)
{
	int status = rd_stop(d);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "runnerd did not exit cleanly on SIGTERM (wait status 0x%x)", (unsigned) status);
}

void
rd_fixture_stop(void)
{
	rd_stop_ok(&rd_fx);
}

TCase *
rd_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 60);
	return tc;
}

int
rd_run_suite(Suite *(*make_suite)(void))
{
	const char *tmp = getenv("TMPDIR");
	char base[256];
	SRunner *sr;
	int failed;

	/* ipc paths must fit in sun_path: keep the base short. */
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(base, sizeof(base), "%s/rdt-XXXXXX", tmp);
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	setenv(BASE_ENV, base, 1);
	signal(SIGPIPE, SIG_IGN);

	sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_tree(base);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
