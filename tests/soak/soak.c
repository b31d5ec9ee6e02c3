/* soak — runnerd under load and faults, then nothing lost, duplicated or
 * left behind (soak.h says what runs and what is checked).
 *
 *   soak [--duration SECONDS] [--clients N] [--restart-every SECONDS]
 *        [--runnerd PATH] [--no-docker] [--no-firejail]
 *
 * It starts its own runnerd (ipc and tcp listeners, the streams beside
 * them), N client threads (half over ipc, half over tcp) and a thread that
 * churns raw connect/close cycles on all four listeners; every
 * --restart-every seconds runnerd is SIGKILLed and started again on the
 * same socket and state directory. Firejail Runs are part of the mix when
 * firejail runs here as root, docker Runs when the engine answers and the
 * test image (deploy/docker/build-test-image.sh) is there; RUNNERD_REQUIRE_
 * DOCKER=1 makes a missing engine an error. Then the load stops, the end
 * checks run, runnerd must exit 0 on SIGTERM, and a summary is printed:
 * operations by kind, faults, invariants checked, violations. Exit 0 when
 * there was none, 1 otherwise, 2 for bad arguments. ctest runs it for
 * 150 s; run it longer by hand:
 *
 *   build/tests/soak/soak --duration 3600 --clients 16
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "soak.h"

#ifndef SOAK_GEN_PATH
#error "SOAK_GEN_PATH must name the soak_gen binary"
#endif

#define MAX_CLIENTS 64
#define MAX_RESTARTS 1024

struct soak soak;

unsigned
soak_epoch(void)
{
	return __atomic_load_n(&soak.epoch, __ATOMIC_ACQUIRE);
}

bool
soak_stopping(void)
{
	return __atomic_load_n(&soak.stopping, __ATOMIC_ACQUIRE);
}

void
soak_violation(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&soak.mtx);
	if (soak.violations < SOAK_MAX_VIOLATIONS) {
		va_start(ap, fmt);
		vsnprintf(soak.violation[soak.violations], sizeof(soak.violation[0]), fmt, ap);
		va_end(ap);
	}
	soak.violations++;
	pthread_mutex_unlock(&soak.mtx);
}

void
soak_token_new(char out[32], unsigned worker)
{
	static uint64_t seq;

	snprintf(out, 32, "w%u-%llu", worker, (unsigned long long) __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
}

void
soak_token_done(const char *token, bool must)
{
	pthread_mutex_lock(&soak.mtx);
	if (soak.n_tokens == soak.cap_tokens) {
		size_t cap = soak.cap_tokens ? soak.cap_tokens * 2 : 4096;
		struct soak_token *t = realloc(soak.tokens, cap * sizeof(*t));

		if (t == NULL) {
			pthread_mutex_unlock(&soak.mtx);
			return;
		}
		soak.tokens = t;
		soak.cap_tokens = cap;
	}
	snprintf(soak.tokens[soak.n_tokens].name, sizeof(soak.tokens[0].name), "%s", token);
	soak.tokens[soak.n_tokens++].must = must;
	pthread_mutex_unlock(&soak.mtx);
}

/* --- set-up ------------------------------------------------------------------------------ */

static bool
command_ok(const char *sh)
{
	return system(sh) == 0;
}

/* Firejail Runs: firejail must work here (as root: its sandboxes' pids
 * cgroups). Docker Runs: the engine and the test image. */
static void
pick_backends(bool want_firejail, bool want_docker)
{
	soak.firejail = want_firejail && geteuid() == 0 && command_ok("firejail --version >/dev/null 2>&1");
	soak.docker = want_docker && command_ok("docker image inspect runnerd-test:latest >/dev/null 2>&1");
	if (want_docker && !soak.docker && getenv("RUNNERD_REQUIRE_DOCKER") != NULL &&
	    strcmp(getenv("RUNNERD_REQUIRE_DOCKER"), "1") == 0) {
		fprintf(stderr, "soak: no Docker engine or test image, and RUNNERD_REQUIRE_DOCKER=1\n");
		exit(1);
	}
	printf("soak: firejail runs %s, docker runs %s\n", soak.firejail ? "on" : "off (no firejail as root)",
	       soak.docker ? "on" : "off (no engine or no runnerd-test:latest)");
}

/* firejail makes only its command user's own paths writable: the jail
 * profile's commands (runnerd-sandbox, the default) append to the tokens. */
static int
sandbox_owns(const char *path)
{
	struct passwd *pw = getpwnam("runnerd-sandbox");

	return pw == NULL || !soak.firejail ? 0 : chown(path, pw->pw_uid, (gid_t) -1);
}

static int
write_config(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "default_profile: default\n"
		   "profiles:\n"
		   "  - name: default\n"
		   "    backend: exec\n");
	if (soak.firejail)
		fprintf(f, "  - name: jail\n"
			   "    backend: firejail\n"
			   "    network: none\n"
			   "    filesystem:\n"
			   "      read_only: [\"%.*s\"]\n"
			   "      read_write: [\"%s\"]\n"
			   "    limits:\n"
			   "      timeout: 60s\n"
			   "      processes: 32\n",
			/* soak_gen's directory: a build tree under /tmp is hidden
			 * by the private /tmp otherwise. */
			(int) (strrchr(soak.gen_path, '/') - soak.gen_path), soak.gen_path, soak.dir);
	if (soak.docker)
		fprintf(f, "  - name: box\n"
			   "    backend: docker\n"
			   "    network: none\n"
			   "    limits:\n"
			   "      timeout: 60s\n"
			   "    docker:\n"
			   "      image: runnerd-test:latest\n");
	return fclose(f);
}

/* --- the summary ------------------------------------------------------------------------- */

static void
print_summary(int invariants, double seconds)
{
	uint64_t total = 0, ok = 0, clear = 0, bad = 0, bytes = 0;

	printf("\nsoak: %.0f s, %u clients, %llu runnerd restarts (SIGKILL), %llu clients SIGKILLed mid-call, "
	       "%llu raw connect/close cycles\n",
	       seconds, soak.clients, (unsigned long long) soak.restarts, (unsigned long long) soak.killed_clients,
	       (unsigned long long) soak.churn_cycles);
	printf("  %-40s %9s %9s %12s %10s %12s\n", "operation", "attempted", "ok", "clear error", "violation",
	       "MiB checked");
	for (int i = 0; i < OP_COUNT; i++) {
		const struct soak_op_stats *s = &soak.ops[i];

		printf("  %-40s %9llu %9llu %12llu %10llu %12.1f\n", soak_op_names[i], (unsigned long long) s->attempted,
		       (unsigned long long) s->ok, (unsigned long long) s->clear_errors,
		       (unsigned long long) s->violations, (double) s->bytes_checked / (1 << 20));
		total += s->attempted;
		ok += s->ok;
		clear += s->clear_errors;
		bad += s->violations;
		bytes += s->bytes_checked;
	}
	printf("  %-40s %9llu %9llu %12llu %10llu %12.1f\n", "all", (unsigned long long) total,
	       (unsigned long long) ok, (unsigned long long) clear, (unsigned long long) bad,
	       (double) bytes / (1 << 20));
	printf("  every answer checked (%llu: output byte-exact, exit status), %d end invariants checked\n",
	       (unsigned long long) (ok + clear + bad), invariants);
	if (soak.clear.total > 0) {
		printf("  the clear errors (all while runnerd was being SIGKILLed and restarted):\n");
		bench_errs_print(&soak.clear, stdout, "    ");
	}
	printf("soak: %llu violation(s)\n", (unsigned long long) soak.violations);
	for (uint64_t i = 0; i < soak.violations && i < SOAK_MAX_VIOLATIONS; i++)
		printf("  - %s\n", soak.violation[i]);
	if (soak.violations > SOAK_MAX_VIOLATIONS)
		printf("  - ... and %llu more\n", (unsigned long long) (soak.violations - SOAK_MAX_VIOLATIONS));
}

/* --- main --------------------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: soak [--duration SECONDS] [--clients N] [--restart-every SECONDS] "
			"[--runnerd PATH] [--no-docker] [--no-firejail]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long duration = 150, clients = 8, restart_every = 0;
	const char *runnerd = RUNNERD_PATH;
	bool want_docker = true, want_firejail = true;
	static pid_t pids[MAX_RESTARTS + 1];
	char *daemon_args[8], dir[128], cfg[200], state[300];
	struct bench_daemon_opts o = { .tcp = true, .args = daemon_args };
	struct bench_daemon d;
	struct soak_daemon_view v = { 0 };
	pthread_t workers[MAX_CLIENTS], churner;
	uint64_t t0, next_restart;
	size_t n_pids = 0;
	int invariants, fd;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return soak_child_main(argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
			duration = bench_parse_long(argv[i], argv[i + 1], 10, 30 * 24 * 3600), i++;
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
			clients = bench_parse_long(argv[i], argv[i + 1], 1, MAX_CLIENTS), i++;
		else if (strcmp(argv[i], "--restart-every") == 0 && i + 1 < argc)
			restart_every = bench_parse_long(argv[i], argv[i + 1], 5, 30 * 24 * 3600), i++;
		else if (strcmp(argv[i], "--runnerd") == 0 && i + 1 < argc)
			runnerd = argv[++i];
		else if (strcmp(argv[i], "--no-docker") == 0)
			want_docker = false;
		else if (strcmp(argv[i], "--no-firejail") == 0)
			want_firejail = false;
		else
			usage();
	}
	if (restart_every == 0)
		restart_every = duration / 3 > 20 ? duration / 3 : 20;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The watchdog: the end checks wait up to 20 s each. */
	if (bench_init("soak", duration + 600) < 0)
		return 1;
	pthread_mutex_init(&soak.mtx, NULL);
	bench_errs_init(&soak.clear);
	soak.clients = (unsigned) clients;
	soak.gen_path = SOAK_GEN_PATH;
	soak.self_path = "/proc/self/exe";
	snprintf(soak.mark, sizeof(soak.mark), "soak-%d-%ld", (int) getpid(), (long) time(NULL));
	pick_backends(want_firejail, want_docker);

	/* The soak's own directory: the config, and the tokens commands append. */
	snprintf(dir, sizeof(dir), "/tmp/runnerd-soak.XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0) {
		perror("soak: mkdtemp");
		return 1;
	}
	snprintf(soak.dir, sizeof(soak.dir), "%s", dir);
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", dir);
	snprintf(soak.tokens_path, sizeof(soak.tokens_path), "%s/tokens", dir);
	if ((fd = open(soak.tokens_path, O_WRONLY | O_CREAT | O_TRUNC, 0666)) < 0 || close(fd) != 0 ||
	    chmod(soak.tokens_path, 0666) != 0 || sandbox_owns(dir) != 0 || sandbox_owns(soak.tokens_path) != 0 ||
	    write_config(cfg) != 0) {
		perror("soak: set-up");
		return 1;
	}
	daemon_args[0] = "--config";
	daemon_args[1] = cfg;
	daemon_args[2] = "--retention";
	daemon_args[3] = "10s"; /* what a slow reader (a sanitizer build) may need */
	daemon_args[4] = "--dedup-ttl";
	daemon_args[5] = "3s";
	o.nargs = 6;
	o.path = runnerd;
	/* The stream listener takes the tcp port after the free one picked,
	 * which may be taken: try again on another. */
	for (int attempt = 0; bench_daemon_launch(&o, &d) < 0; attempt++)
		if (attempt == 2)
			return 1;
	pids[n_pids++] = d.pid;
	snprintf(soak.req_url[0], sizeof(soak.req_url[0]), "%s", d.ipc_url);
	snprintf(soak.req_url[1], sizeof(soak.req_url[1]), "%s", d.tcp_url);
	for (int i = 0; i < 2; i++) {
		runner_status st;

		if (runner_stream_address(soak.req_url[i], soak.stream_url[i], sizeof(soak.stream_url[i]), &st) != 0) {
			fprintf(stderr, "soak: stream address of %s: %s\n", soak.req_url[i], st.message);
			return 1;
		}
	}
	snprintf(state, sizeof(state), "%s/runnerd.state", d.tmpdir);
	/* Idle: a moment after start-up, before any load. */
	bench_sleep_ms(1000);
	v.idle_fds = bench_proc_fd_count(d.pid);
	v.idle_rss_kib = bench_proc_rss_kib(d.pid);
	printf("soak: runnerd %s (pid %d) on %s and %s; idle: %ld fds, %ld KiB RSS; %ld s, %ld clients, "
	       "restart every %ld s\n",
	       d.version, (int) d.pid, d.ipc_url, d.tcp_url, v.idle_fds, v.idle_rss_kib, duration, clients,
	       restart_every);

	t0 = bench_now_ns();
	for (long i = 0; i < clients; i++)
		pthread_create(&workers[i], NULL, soak_worker, (void *) (uintptr_t) i);
	pthread_create(&churner, NULL, soak_churner, NULL);

	/* Faults: runnerd SIGKILLed and started again, mid-load. */
	next_restart = t0 + (uint64_t) restart_every * 1000000000u;
	while (!bench_interrupted && bench_now_ns() < t0 + (uint64_t) duration * 1000000000u) {
		bench_sleep_ms(200);
		/* The last runnerd gets at least 10 s of load before the end checks. */
		if (bench_now_ns() < next_restart || n_pids > MAX_RESTARTS ||
		    next_restart + 10000000000u > t0 + (uint64_t) duration * 1000000000u)
			continue;
		__atomic_add_fetch(&soak.epoch, 1, __ATOMIC_ACQ_REL);
		if (bench_daemon_kill(&d) < 0 || bench_daemon_restart(&o, &d) < 0) {
			soak_violation("runnerd could not be SIGKILLed and started again");
			break;
		}
		pids[n_pids++] = d.pid;
		__atomic_add_fetch(&soak.epoch, 1, __ATOMIC_ACQ_REL);
		pthread_mutex_lock(&soak.mtx);
		soak.restarts++;
		pthread_mutex_unlock(&soak.mtx);
		printf("soak: runnerd SIGKILLed and restarted (now pid %d) at %.0f s\n", (int) d.pid,
		       (double) (bench_now_ns() - t0) / 1e9);
		next_restart += (uint64_t) restart_every * 1000000000u;
	}
	__atomic_store_n(&soak.stopping, true, __ATOMIC_RELEASE);
	for (long i = 0; i < clients; i++)
		pthread_join(workers[i], NULL);
	pthread_join(churner, NULL);

	printf("soak: load stopped after %.0f s; end checks:\n", (double) (bench_now_ns() - t0) / 1e9);
	v.pid = d.pid;
	v.all_pids = pids;
	v.n_pids = n_pids;
	v.state_dir = state;
	invariants = soak_check_end(&v);
	if (soak.violations > 0)
		bench_daemon_print_log_tail();
	{
		double took;
		bool clean = d.pid > 0 && bench_daemon_shutdown(&d, &took) == 0;

		invariants++;
		printf("  %-6s runnerd exits 0 on SIGTERM\n", clean ? "ok" : "FAILED");
		if (!clean)
			soak_violation("end check: runnerd did not exit 0 on SIGTERM");
	}
	bench_watchdog_cancel();
	print_summary(invariants, (double) (bench_now_ns() - t0) / 1e9);
	unlink(soak.tokens_path);
	unlink(cfg);
	rmdir(dir);
	free(soak.tokens);
	bench_errs_destroy(&soak.clear);
	return soak.violations == 0 ? 0 : 1;
}
