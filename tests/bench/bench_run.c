/* bench_run — Run(/bin/true) latency and throughput of runnerd, beside a floor.
 *
 * For each transport (ipc and tcp, or the one --addr names) and each client
 * count (1 and 16 by default), N Run calls of /bin/true are spread over that
 * many threads, each with its own runner_client; every call is timed from
 * before runner_client_run() to after it returns. The FLOOR, measured in the
 * same process just before, is what the work costs without runnerd: a bare
 * posix_spawn of /bin/true with stdout/stderr pipes, read to EOF, waitpid —
 * with the same thread counts. The table shows p50/p99 latency, runs per
 * second, and the ratios to the floor of the same client count.
 *
 * Unless --addr is given, bench_run starts its own runnerd (RUNNERD_PATH, or
 * --runnerd) listening on a socket in a fresh temp directory and on a free
 * 127.0.0.1 port with --insecure-tcp, waits until Health answers OK, and
 * SIGTERMs it at the end. The whole run is bounded by --max-seconds (a
 * config that runs out of time stops early and is marked partial; a hard
 * watchdog ends everything 60 s after that).
 *
 * Exit status: 0 when every measured and warm-up call succeeded, 1 when some
 * failed (they are counted and the distinct errors printed) or a config
 * stopped early, 2 on a setup error (bad usage, a daemon that does not come
 * up), 3 from the watchdog, 130 when interrupted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner_client.h"

#ifndef RUNNERD_PATH
#define RUNNERD_PATH ""
#endif

extern char **environ;

#define TRUE_PATH "/bin/true"
#define RUN_DEADLINE_MS 10000       /* per Run call */
#define HEALTH_WAIT_MS 15000        /* daemon start-up */
#define STOP_WAIT_MS 15000          /* SIGTERM → exit, then SIGKILL */
#define WATCHDOG_EXTRA_S 60         /* hard stop past --max-seconds */
#define MAX_ERRS 8                  /* distinct error messages kept per config */
#define MAX_CLIENT_COUNTS 8
#define MAX_DAEMON_ARGS 32

/* ---------------------------------------------------------------------- */
/* Global state (the signal handlers read the daemon pid and paths).       */

static volatile sig_atomic_t g_daemon_pid = -1;
static volatile sig_atomic_t g_interrupted;
static char g_tmpdir[128];
static char g_sock_path[160];
static char g_log_path[160];
static uint64_t g_deadline_ns; /* monotonic: the end of the --max-seconds budget */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_interrupted)
		;
}

/* Async-signal-safe removal of what bench_run created. */
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
on_signal(int sig)
{
	pid_t pid = (pid_t) g_daemon_pid;

	if (g_interrupted) {
		/* Second signal: don't wait any longer. */
		if (pid > 0)
			kill(pid, SIGKILL);
		remove_tmp_files();
		_exit(128 + sig);
	}
	g_interrupted = 1;
	/* The workers see the flag after their current call. */
}

static void
on_alarm(int sig)
{
	static const char msg[] = "bench_run: watchdog: time limit exceeded, killing runnerd\n";
	pid_t pid = (pid_t) g_daemon_pid;

	(void) sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	if (pid > 0)
		kill(pid, SIGKILL);
	remove_tmp_files();
	_exit(3);
}

/* ---------------------------------------------------------------------- */
/* One configuration's run: workers, latencies, errors.                     */

struct err_slot {
	char msg[512];
	long count;
};

struct bench_cfg {
	const char *transport; /* "floor", "ipc", "tcp", ... */
	const char *url;       /* NULL for the floor */
	int clients;
};

struct bench_result {
	struct bench_cfg cfg;
	long ok;           /* measured successes */
	long fail;         /* measured failures */
	long warm_fail;    /* warm-up failures */
	long attempted;    /* measured calls made */
	double p50_us, p99_us, max_us, mean_us;
	double runs_per_s; /* measured successes / measured wall time */
	double wall_s;
	bool partial;      /* stopped early: why in stop_reason */
	const char *stop_reason;
	bool setup_failed;
	struct err_slot errs[MAX_ERRS];
	int nerrs;
	long other_errs;   /* failures whose message did not fit in errs[] */
};

struct bench_ctx {
	struct bench_cfg cfg;
	pthread_barrier_t ready;  /* workers warmed up + main */
	pthread_mutex_t mu;       /* errs */
	struct bench_result *res;
	uint64_t deadline_ns;     /* this config's share of the time budget */
	atomic_long fails;
	atomic_long done;
	atomic_int abort;
};

struct worker {
	pthread_t th;
	struct bench_ctx *ctx;
	long warm;
	long runs;
	uint64_t *lat_ns;
	long nlat;
	long attempted;
	long fails;
	long warm_fails;
	uint64_t t_end;
	bool setup_failed;
};

static void
record_error(struct bench_ctx *ctx, const char *msg)
{
	struct bench_result *r = ctx->res;
	int i;

	pthread_mutex_lock(&ctx->mu);
	for (i = 0; i < r->nerrs; i++) {
		if (strcmp(r->errs[i].msg, msg) == 0) {
			r->errs[i].count++;
			break;
		}
	}
	if (i == r->nerrs) {
		if (r->nerrs < MAX_ERRS) {
			snprintf(r->errs[i].msg, sizeof(r->errs[i].msg), "%s", msg);
			r->errs[i].count = 1;
			r->nerrs++;
		} else {
			r->other_errs++;
		}
	}
	pthread_mutex_unlock(&ctx->mu);

	/* A dead daemon would otherwise cost a connect timeout per call. */
	long f = atomic_fetch_add(&ctx->fails, 1) + 1;
	long d = atomic_load(&ctx->done);
	if (f >= 100 && f * 2 > d)
		atomic_store(&ctx->abort, 1);
}

/* The floor: one bare spawn of /bin/true with output pipes, drained, reaped. */
static int
floor_once(char *err, size_t errlen)
{
	int out[2] = { -1, -1 }, erp[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *) TRUE_PATH, NULL };
	char *envp[] = { (char *) "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	char buf[4096];
	struct pollfd pf[2];
	int open_fds, status, rv;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(erp, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, erp[1], 2);
	rv = posix_spawn(&pid, TRUE_PATH, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(erp[1]);
	if (rv != 0) {
		close(out[0]);
		close(erp[0]);
		snprintf(err, errlen, "posix_spawn: %s", strerror(rv));
		return -1;
	}

	pf[0] = (struct pollfd) { .fd = out[0], .events = POLLIN };
	pf[1] = (struct pollfd) { .fd = erp[0], .events = POLLIN };
	open_fds = 2;
	while (open_fds > 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			ssize_t n = read(pf[i].fd, buf, sizeof(buf));
			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;
			open_fds--;
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (open_fds > 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "/bin/true: status 0x%x", status);
		return -1;
	}
	return 0;
}

static const char *
termination_name(int reason)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&runner__v1__termination__descriptor, reason);

	return v != NULL ? v->name : "?";
}

/* One Run(/bin/true) through `c`, checked for EXITED and exit code 0. */
static int
run_once(runner_client *c, char *err, size_t errlen)
{
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec cmd = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__RunResponse *resp = NULL;
	char *argv[] = { (char *) TRUE_PATH };
	rstatus st;
	int rv;

	cmd.n_argv = 1;
	cmd.argv = argv;
	req.command = &cmd;
	rstatus_clear(&st);
	rv = runner_client_run(c, &req, &resp, RUN_DEADLINE_MS, &st);
	if (rv < 0) {
		snprintf(err, errlen, "%s: %.400s", rstatus_code_name(st.code), st.message);
	} else if (resp == NULL || resp->result == NULL) {
		snprintf(err, errlen, "OK reply without a result");
		rv = -1;
	} else if (resp->result->reason != RUNNER__V1__TERMINATION__EXITED ||
		   resp->result->exit_code != 0) {
		const Runner__V1__RunResult *r = resp->result;

		snprintf(err, errlen, "reason %s exit_code %d signal %d%s%s", termination_name(r->reason),
			 r->exit_code, r->signal, r->exec_error[0] ? " exec_error " : "", r->exec_error);
		rv = -1;
	}
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rv < 0 ? -1 : 0;
}

static bool
should_stop(struct bench_ctx *ctx)
{
	return g_interrupted || atomic_load(&ctx->abort) || now_ns() > ctx->deadline_ns;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_ctx *ctx = w->ctx;
	runner_client *client = NULL;
	char err[512];
	long i;

	if (ctx->cfg.url != NULL) {
		runner_client_options o = { .connect_timeout_ms = 2000 };
		rstatus st;

		rstatus_clear(&st);
		if (runner_client_open(&client, ctx->cfg.url, &o, &st) < 0) {
			snprintf(err, sizeof(err), "open %.200s: %s: %.200s", ctx->cfg.url,
				 rstatus_code_name(st.code), st.message);
			record_error(ctx, err);
			w->setup_failed = true;
		}
	}

	/* Warm-up: not timed, failures still counted. */
	for (i = 0; i < w->warm && !w->setup_failed && !should_stop(ctx); i++) {
		int rv = client ? run_once(client, err, sizeof(err)) : floor_once(err, sizeof(err));
		if (rv < 0) {
			w->warm_fails++;
			record_error(ctx, err);
		}
	}

	pthread_barrier_wait(&ctx->ready);

	for (i = 0; i < w->runs && !w->setup_failed; i++) {
		uint64_t t0, t1;
		int rv;

		if (should_stop(ctx))
			break;
		t0 = now_ns();
		rv = client ? run_once(client, err, sizeof(err)) : floor_once(err, sizeof(err));
		t1 = now_ns();
		w->attempted++;
		atomic_fetch_add(&ctx->done, 1);
		if (rv < 0) {
			w->fails++;
			record_error(ctx, err);
		} else {
			w->lat_ns[w->nlat++] = t1 - t0;
		}
	}
	w->t_end = now_ns();
	runner_client_close(client);
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double
percentile_us(const uint64_t *v, long n, double q)
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

static int
run_config(const struct bench_cfg *cfg, long runs, long warmup, uint64_t deadline_ns,
	   struct bench_result *res)
{
	struct bench_ctx ctx;
	struct worker *w;
	uint64_t *all, t_start, t_end = 0;
	long nall = 0, per, extra;
	double sum_us = 0;
	int n = cfg->clients;

	memset(res, 0, sizeof(*res));
	res->cfg = *cfg;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = *cfg;
	ctx.res = res;
	ctx.deadline_ns = deadline_ns;
	pthread_mutex_init(&ctx.mu, NULL);
	pthread_barrier_init(&ctx.ready, NULL, (unsigned) n + 1);

	w = calloc((size_t) n, sizeof(*w));
	all = malloc(sizeof(*all) * (size_t) (runs > 0 ? runs : 1));
	if (w == NULL || all == NULL) {
		fprintf(stderr, "bench_run: out of memory\n");
		exit(2);
	}
	per = runs / n;
	extra = runs % n;
	for (int i = 0; i < n; i++) {
		w[i].ctx = &ctx;
		w[i].runs = per + (i < extra ? 1 : 0);
		w[i].warm = (warmup + n - 1) / n;
		w[i].lat_ns = malloc(sizeof(uint64_t) * (size_t) (w[i].runs > 0 ? w[i].runs : 1));
		if (w[i].lat_ns == NULL) {
			fprintf(stderr, "bench_run: out of memory\n");
			exit(2);
		}
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "bench_run: pthread_create failed\n");
			exit(2);
		}
	}
	pthread_barrier_wait(&ctx.ready);
	t_start = now_ns();
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].t_end > t_end)
			t_end = w[i].t_end;
		memcpy(all + nall, w[i].lat_ns, sizeof(uint64_t) * (size_t) w[i].nlat);
		nall += w[i].nlat;
		res->attempted += w[i].attempted;
		res->fail += w[i].fails;
		res->warm_fail += w[i].warm_fails;
		if (w[i].setup_failed)
			res->setup_failed = true;
		free(w[i].lat_ns);
	}
	qsort(all, (size_t) nall, sizeof(*all), cmp_u64);
	for (long i = 0; i < nall; i++)
		sum_us += (double) all[i] / 1000.0;
	res->ok = nall;
	res->p50_us = percentile_us(all, nall, 0.50);
	res->p99_us = percentile_us(all, nall, 0.99);
	res->max_us = nall ? (double) all[nall - 1] / 1000.0 : 0;
	res->mean_us = nall ? sum_us / (double) nall : 0;
	res->wall_s = t_end > t_start ? (double) (t_end - t_start) / 1e9 : 0;
	res->runs_per_s = res->wall_s > 0 ? (double) nall / res->wall_s : 0;
	res->partial = res->attempted < runs;
	if (res->partial)
		res->stop_reason = g_interrupted	    ? "interrupted"
				   : res->setup_failed	    ? "client setup failed"
				   : atomic_load(&ctx.abort) ? "too many failures"
							    : "out of time: see --max-seconds";

	free(all);
	free(w);
	pthread_barrier_destroy(&ctx.ready);
	pthread_mutex_destroy(&ctx.mu);
	return res->fail > 0 || res->warm_fail > 0 || res->partial ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* The daemon under test.                                                   */

static int
free_tcp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
print_log_tail(void)
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
start_daemon(const char *path, const char *ipc_url, const char *tcp_url, char **extra, int nextra)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	char *argv[8 + MAX_DAEMON_ARGS];
	int argc = 0, rv;
	pid_t pid;

	argv[argc++] = (char *) path;
	argv[argc++] = (char *) "--listen";
	argv[argc++] = (char *) ipc_url;
	argv[argc++] = (char *) "--listen";
	argv[argc++] = (char *) tcp_url;
	argv[argc++] = (char *) "--insecure-tcp";
	for (int i = 0; i < nextra; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, g_log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	/* Its own process group: a terminal's ^C reaches bench_run, which then
	 * stops the daemon in order. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	rv = posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rv != 0) {
		fprintf(stderr, "bench_run: cannot start %s: %s\n", path, strerror(rv));
		return -1;
	}
	g_daemon_pid = pid;
	return pid;
}

/* Wait until `url` answers Health with OK and status SERVING. */
static int
wait_healthy(const char *url, pid_t daemon, int timeout_ms, char *version, size_t vlen)
{
	runner_client_options o = { .connect_timeout_ms = 250 };
	uint64_t until = now_ns() + (uint64_t) timeout_ms * 1000000u;
	runner_client *c = NULL;
	rstatus st;
	int status;

	rstatus_clear(&st);
	if (runner_client_open(&c, url, &o, &st) < 0) {
		fprintf(stderr, "bench_run: %s: %s: %s\n", url, rstatus_code_name(st.code), st.message);
		return -1;
	}
	for (;;) {
		Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
		Runner__V1__HealthResponse *resp = NULL;
		int rv;

		rv = runner_client_call(c, "Health", &req.base, (ProtobufCMessage **) &resp, 1000, &st);
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
			g_daemon_pid = -1;
			fprintf(stderr, "bench_run: runnerd exited during start-up (status 0x%x)\n", status);
			break;
		}
		if (now_ns() > until || g_interrupted) {
			fprintf(stderr, "bench_run: %s not healthy within %d ms (last: %s: %s)\n", url,
				timeout_ms, rv < 0 ? rstatus_code_name(st.code) : "OK",
				rv < 0 ? st.message : "status not SERVING");
			break;
		}
		sleep_ms(50);
	}
	runner_client_close(c);
	return -1;
}

/* SIGTERM, wait, SIGKILL if needed. Returns the wait status, or -1. */
static int
stop_daemon(double *took_ms)
{
	pid_t pid = (pid_t) g_daemon_pid;
	uint64_t t0 = now_ns();
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
		if (now_ns() - t0 > (uint64_t) STOP_WAIT_MS * 1000000u) {
			fprintf(stderr, "bench_run: runnerd ignored SIGTERM for %d ms; SIGKILL\n",
				STOP_WAIT_MS);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		sleep_ms(5);
	}
	g_daemon_pid = -1;
	*took_ms = (double) (now_ns() - t0) / 1e6;
	return status;
}

/* Remove the temp directory and whatever else the daemon left in it. */
static void
cleanup_tmpdir(void)
{
	DIR *d;
	struct dirent *e;
	char p[PATH_MAX + 256];

	if (g_tmpdir[0] == '\0')
		return;
	if ((d = opendir(g_tmpdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", g_tmpdir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	if (rmdir(g_tmpdir) != 0 && errno != ENOENT)
		fprintf(stderr, "bench_run: cannot remove %s: %s\n", g_tmpdir, strerror(errno));
	g_tmpdir[0] = g_sock_path[0] = g_log_path[0] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Output.                                                                  */

static const struct bench_result *
floor_for(const struct bench_result *rs, int nrs, int clients)
{
	for (int i = 0; i < nrs; i++)
		if (rs[i].cfg.url == NULL && rs[i].cfg.clients == clients && rs[i].ok > 0)
			return &rs[i];
	return NULL;
}

static void
fmt_ratio(char *buf, size_t len, double num, double den)
{
	if (den > 0 && num > 0)
		snprintf(buf, len, "%.2fx", num / den);
	else
		snprintf(buf, len, "-");
}

static void
print_table(const struct bench_result *rs, int nrs)
{
	/* "µs" is two bytes for one column: the header is spelled out. */
	printf("\n%-9s %7s %6s %5s %9s %9s %9s %10s %9s %10s\n", "transport", "clients", "ok", "fail",
	       "p50 us", "p99 us", "runs/s", "p50/floor", "p99/floor", "tput/floor");
	printf("%-9s %7s %6s %5s %9s %9s %9s %10s %9s %10s\n", "---------", "-------", "------",
	       "-----", "---------", "---------", "---------", "----------", "---------", "----------");
	for (int i = 0; i < nrs; i++) {
		const struct bench_result *r = &rs[i];
		const struct bench_result *f = floor_for(rs, nrs, r->cfg.clients);
		char lat50[16], lat99[16], tput[16];

		fmt_ratio(lat50, sizeof(lat50), r->p50_us, f ? f->p50_us : 0);
		fmt_ratio(lat99, sizeof(lat99), r->p99_us, f ? f->p99_us : 0);
		fmt_ratio(tput, sizeof(tput), r->runs_per_s, f ? f->runs_per_s : 0);
		printf("%-9s %7d %6ld %5ld %9.1f %9.1f %9.1f %10s %9s %10s%s\n", r->cfg.transport,
		       r->cfg.clients, r->ok, r->fail, r->p50_us, r->p99_us, r->runs_per_s, lat50, lat99,
		       tput, r->partial ? "  (partial)" : "");
	}
	printf("\nus = microseconds per call (wall clock, client side). p50/floor and p99/floor:\n"
	       "latency over the floor's with the same client count (1.00x = no overhead);\n"
	       "tput/floor: runs/s as a fraction of the floor's. Floor = posix_spawn(/bin/true)\n"
	       "+ stdout/stderr pipes read to EOF + waitpid, in this process.\n");
}

static void
print_errors(const struct bench_result *rs, int nrs)
{
	bool any = false;

	for (int i = 0; i < nrs; i++) {
		const struct bench_result *r = &rs[i];

		if (r->fail == 0 && r->warm_fail == 0 && !r->partial)
			continue;
		if (!any)
			printf("\nFailures and early stops:\n");
		any = true;
		printf("  %s, %d client%s: %ld failed", r->cfg.transport, r->cfg.clients,
		       r->cfg.clients == 1 ? "" : "s", r->fail);
		if (r->warm_fail > 0)
			printf(" (+%ld in warm-up)", r->warm_fail);
		if (r->partial)
			printf(", stopped early after %ld of the calls (%s)", r->attempted,
			       r->stop_reason);
		printf("\n");
		for (int j = 0; j < r->nerrs; j++)
			printf("    %6ld x %s\n", r->errs[j].count, r->errs[j].msg);
		if (r->other_errs > 0)
			printf("    %6ld x (other messages)\n", r->other_errs);
	}
}

/* ---------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: bench_run [options]\n"
		"Measure runnerd's Run(/bin/true) latency and throughput against a\n"
		"posix_spawn floor, over ipc and tcp, with 1 and 16 concurrent clients.\n"
		"\n"
		"  --runs N          measured calls per configuration (default 2000)\n"
		"  --warmup N        untimed calls before each configuration (default 100)\n"
		"  --clients LIST    comma-separated client counts (default 1,16)\n"
		"  --addr URL        bench an already-running runnerd at URL instead of\n"
		"                    starting one (ipc://... or tcp://...)\n"
		"  --runnerd PATH    the runnerd binary to start (default %s)\n"
		"  --daemon-arg ARG  extra argument for the started runnerd (repeatable)\n"
		"  --max-seconds S   time budget for the whole run (default 300); configs\n"
		"                    that run out stop early and are marked partial\n"
		"  -h, --help        this text\n",
		RUNNERD_PATH[0] ? RUNNERD_PATH : "(none compiled in)");
}

static long
parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "bench_run: %s: expected an integer in %ld..%ld, got '%s'\n", opt, min,
			max, s);
		exit(2);
	}
	return v;
}

static const char *
transport_of(const char *url)
{
	if (strncmp(url, "ipc://", 6) == 0)
		return "ipc";
	if (strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tcp4://", 7) == 0 ||
	    strncmp(url, "tcp6://", 7) == 0)
		return "tcp";
	if (strncmp(url, "tls+tcp://", 10) == 0)
		return "tls";
	if (strncmp(url, "inproc://", 9) == 0)
		return "inproc";
	if (strncmp(url, "abstract://", 11) == 0)
		return "abstract";
	return "other";
}

int
main(int argc, char **argv)
{
	enum { OPT_RUNS = 0x100, OPT_WARMUP, OPT_CLIENTS, OPT_ADDR, OPT_RUNNERD, OPT_DARG, OPT_MAXS };
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "addr", required_argument, NULL, OPT_ADDR },
		{ "runnerd", required_argument, NULL, OPT_RUNNERD },
		{ "daemon-arg", required_argument, NULL, OPT_DARG },
		{ "max-seconds", required_argument, NULL, OPT_MAXS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long runs = 2000, warmup = 100, max_seconds = 300;
	int clients[MAX_CLIENT_COUNTS] = { 1, 16 }, nclients = 2;
	const char *addr = NULL, *runnerd = RUNNERD_PATH;
	char *dargs[MAX_DAEMON_ARGS];
	int ndargs = 0, opt;
	char ipc_url[sizeof(g_sock_path) + 16], tcp_url[64], version[128] = "";
	struct bench_result *results;
	struct bench_cfg cfgs[3 * MAX_CLIENT_COUNTS];
	int ncfgs = 0, nres = 0, exit_code = 0;
	struct sigaction sa;
	struct utsname un;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_RUNS:
			runs = parse_long("--runs", optarg, 1, 10000000);
			break;
		case OPT_WARMUP:
			warmup = parse_long("--warmup", optarg, 0, 10000000);
			break;
		case OPT_CLIENTS: {
			char *copy = strdup(optarg), *save = NULL, *tok;

			nclients = 0;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (nclients == MAX_CLIENT_COUNTS) {
					fprintf(stderr, "bench_run: --clients: at most %d counts\n",
						MAX_CLIENT_COUNTS);
					return 2;
				}
				clients[nclients++] = (int) parse_long("--clients", tok, 1, 1024);
			}
			free(copy);
			if (nclients == 0) {
				fprintf(stderr, "bench_run: --clients: empty list\n");
				return 2;
			}
			break;
		}
		case OPT_ADDR:
			addr = optarg;
			break;
		case OPT_RUNNERD:
			runnerd = optarg;
			break;
		case OPT_DARG:
			if (ndargs == MAX_DAEMON_ARGS) {
				fprintf(stderr, "bench_run: too many --daemon-arg\n");
				return 2;
			}
			dargs[ndargs++] = optarg;
			break;
		case OPT_MAXS:
			max_seconds = parse_long("--max-seconds", optarg, 1, 86400);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_run: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (addr == NULL && (runnerd == NULL || runnerd[0] == '\0')) {
		fprintf(stderr, "bench_run: no runnerd binary compiled in: use --runnerd PATH or --addr URL\n");
		return 2;
	}
	if (access(TRUE_PATH, X_OK) != 0) {
		fprintf(stderr, "bench_run: %s: %s\n", TRUE_PATH, strerror(errno));
		return 2;
	}

	/* fds 0-2 open, so the floor's pipes never land on them. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			return 2;

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
	g_deadline_ns = now_ns() + (uint64_t) max_seconds * 1000000000u;
	alarm((unsigned) (max_seconds + WATCHDOG_EXTRA_S));

	/* The daemon, unless one is given. */
	if (addr == NULL) {
		const char *tmp = getenv("TMPDIR");
		int port;

		if (access(runnerd, X_OK) != 0) {
			fprintf(stderr, "bench_run: %s: %s\n", runnerd, strerror(errno));
			return 2;
		}
		snprintf(g_tmpdir, sizeof(g_tmpdir), "%s/runnerd-bench.XXXXXX",
			 tmp && tmp[0] && strlen(tmp) < 64 ? tmp : "/tmp");
		if (mkdtemp(g_tmpdir) == NULL) {
			fprintf(stderr, "bench_run: mkdtemp %s: %s\n", g_tmpdir, strerror(errno));
			g_tmpdir[0] = '\0';
			return 2;
		}
		snprintf(g_sock_path, sizeof(g_sock_path), "%s/runnerd.sock", g_tmpdir);
		snprintf(g_log_path, sizeof(g_log_path), "%s/runnerd.log", g_tmpdir);
		snprintf(ipc_url, sizeof(ipc_url), "ipc://%s", g_sock_path);
		if ((port = free_tcp_port()) < 0) {
			fprintf(stderr, "bench_run: no free tcp port on 127.0.0.1\n");
			cleanup_tmpdir();
			return 2;
		}
		snprintf(tcp_url, sizeof(tcp_url), "tcp://127.0.0.1:%d", port);

		if (start_daemon(runnerd, ipc_url, tcp_url, dargs, ndargs) < 0) {
			cleanup_tmpdir();
			return 2;
		}
		if (wait_healthy(ipc_url, (pid_t) g_daemon_pid, HEALTH_WAIT_MS, version,
				 sizeof(version)) < 0 ||
		    wait_healthy(tcp_url, (pid_t) g_daemon_pid, HEALTH_WAIT_MS, NULL, 0) < 0) {
			double took;

			stop_daemon(&took);
			print_log_tail();
			cleanup_tmpdir();
			return 2;
		}
		for (int i = 0; i < nclients; i++)
			cfgs[ncfgs++] = (struct bench_cfg) { "floor", NULL, clients[i] };
		for (int i = 0; i < nclients; i++)
			cfgs[ncfgs++] = (struct bench_cfg) { "ipc", ipc_url, clients[i] };
		for (int i = 0; i < nclients; i++)
			cfgs[ncfgs++] = (struct bench_cfg) { "tcp", tcp_url, clients[i] };
	} else {
		if (wait_healthy(addr, -1, 5000, version, sizeof(version)) < 0)
			return 2;
		for (int i = 0; i < nclients; i++)
			cfgs[ncfgs++] = (struct bench_cfg) { "floor", NULL, clients[i] };
		for (int i = 0; i < nclients; i++)
			cfgs[ncfgs++] = (struct bench_cfg) { transport_of(addr), addr, clients[i] };
	}

	uname(&un);
	printf("bench_run: Run(%s) via runnerd %s%s; %ld runs per config, warm-up %ld\n", TRUE_PATH,
	       version[0] ? version : "(unknown version)",
	       addr ? "" : " (started by bench_run)", runs, warmup);
	printf("host: %s %s %s, %ld CPUs online\n", un.sysname, un.release, un.machine,
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (addr == NULL)
		printf("daemon: pid %d, %s and %s\n", (int) g_daemon_pid, ipc_url, tcp_url);
	else
		printf("daemon: %s\n", addr);
	fflush(stdout);

	results = calloc((size_t) ncfgs, sizeof(*results));
	if (results == NULL)
		return 2;
	for (int i = 0; i < ncfgs && !g_interrupted; i++) {
		fprintf(stderr, "  %-5s %3d client%s ...", cfgs[i].transport, cfgs[i].clients,
			cfgs[i].clients == 1 ? " " : "s");
		/* Each config gets an equal share of what is left of the budget. */
		uint64_t now = now_ns();
		uint64_t share = g_deadline_ns > now ? (g_deadline_ns - now) / (uint64_t) (ncfgs - i) : 0;

		if (run_config(&cfgs[i], runs, warmup, now + share, &results[i]) < 0)
			exit_code = 1;
		fprintf(stderr, " %.2f s\n", results[i].wall_s);
		nres++;
	}

	if (addr == NULL) {
		double took = 0;
		int status = stop_daemon(&took);

		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench_run: runnerd did not exit cleanly on SIGTERM (status 0x%x)\n",
				status);
			print_log_tail();
			exit_code = exit_code ? exit_code : 1;
		} else {
			printf("daemon: exited 0 %.0f ms after SIGTERM\n", took);
		}
		cleanup_tmpdir();
	}
	alarm(0);

	print_table(results, nres);
	print_errors(results, nres);
	if (g_interrupted) {
		printf("\ninterrupted\n");
		exit_code = 130;
	}
	free(results);
	return exit_code;
}
