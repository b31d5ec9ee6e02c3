/* bench_docker — what the docker backend costs, beside docker itself.
 *
 * In one run, sequentially (one at a time: a container start is CPU-bound
 * on the engine, and concurrency would measure the machine) and
 * round-robin (one of each per round, so a shared machine's load drifts
 * over all alike), N times each:
 *
 *   runnerd docker   Run(`true`) on a docker profile of a runnerd started
 *                    here (its sandbox defaults: network none, read-only
 *                    root, a tmpfs /tmp, uid 65534, limits; and what the
 *                    backend always adds — init, status file, labels,
 *                    cap-drop — included), timed around runner_run
 *   runnerd pool     the same on a profile with `docker: { pool: 2 }`: each
 *                    Run in a pre-started container (refilled in the
 *                    background between rounds; a miss would be cold)
 *   docker run       `docker run --rm IMAGE true`, spawned and waited for
 *                    (the floor for a fresh container per command), and
 *                    the same with --network=none (as the profile: no
 *                    bridge endpoint to set up), and with --log-driver=none
 *                    too (as the backend: no json log file)
 *   docker exec      `docker exec CONTAINER true` into one container
 *                    started before (what a warm pool could approach)
 *   runnerd exec     Run(`/bin/true`) on the exec backend, for scale
 *
 * and prints p50/p99/mean latency and the ratios of the docker backend
 * (cold, and with the warm pool) to each row. Needs an engine and the image
 * (deploy/docker/ensure-engine.sh, deploy/docker/build-test-image.sh).
 *
 *   bench_docker [--runs N] [--image IMAGE] [--docker PATH] [--max-seconds S] [--quick]
 *
 * and issue 12's targets for the backend: the warm pool beside `docker
 * exec`, a cold Run beside `docker run` with the profile's network (none).
 * --quick (CI) makes 3 runs each and judges nothing.
 *
 * Exit status: 0 when every call succeeded, 1 when some failed, 2 on a
 * setup error, 3 from the watchdog.
 */
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "runner_client.h"

extern char **environ;

static const char *docker = "docker";
static const char *image = "runnerd-test:latest";

/* Spawn argv (PATH-resolved), stdout/stderr to /dev/null, wait; 0 when it
 * exited 0. */
static int
run_argv(char *const *argv)
{
	posix_spawn_file_actions_t fa;
	int status, rv;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rv = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The first line of a command's stdout (popen: setup only). */
static int
first_line(const char *cmd, char *buf, size_t len)
{
	FILE *f = popen(cmd, "r");

	if (f == NULL)
		return -1;
	if (fgets(buf, (int) len, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return pclose(f) == 0 && buf[0] != '\0' ? 0 : -1;
}

static int
one_argv(void *p)
{
	return run_argv(p);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_docker [--runs N] [--image IMAGE] [--docker PATH] [--max-seconds S] [--quick]\n"
			"  --quick: 3 runs each, 180 s (options after it override it), no target judged\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "image", required_argument, NULL, 'i' },
		{ "docker", required_argument, NULL, 'd' },
		{ "max-seconds", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long runs = 20, max_seconds = 600;
	char cfg_dir[] = "/tmp/bench-docker-XXXXXX", cfg[64], text[512], container[128], cmd[512];
	char *daemon_args[2];
	struct bench_daemon daemon;
	struct bench_daemon_opts dopts = { .path = RUNNERD_PATH };
	struct bench_errs errs;
#define NS 7
	struct bench_series s[NS] = { { .name = "runnerd docker Run(true)" },
				{ .name = "runnerd docker pool Run(true)" },
				{ .name = "docker run --rm IMAGE true" },
				{ .name = "docker run --rm --network=none IMAGE true" },
				{ .name = "  ... --network=none --log-driver=none" },
				{ .name = "docker exec CONTAINER true" },
				{ .name = "runnerd exec Run(/bin/true)" } };
	runner_client *cl = NULL;
	runner_status st;
	int c, rc = 0;
	FILE *f;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': runs = bench_parse_long("--runs", optarg, 1, 100000); break;
		case 'i': image = optarg; break;
		case 'd': docker = optarg; break;
		case 's': max_seconds = bench_parse_long("--max-seconds", optarg, 1, 86400); break;
		case 'q': bench_quick = true; runs = 3; max_seconds = 180; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (bench_init("bench_docker", max_seconds) < 0)
		return 2;
	if (mkdtemp(cfg_dir) == NULL) {
		perror("bench_docker: mkdtemp");
		return 2;
	}
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", cfg_dir);
	snprintf(text, sizeof(text),
		 "profiles:\n  - name: default\n  - name: d\n    backend: docker\n    network: none\n"
		 "    docker:\n      image: %s\n"
		 "  - name: w\n    backend: docker\n    network: none\n"
		 "    docker:\n      image: %s\n      pool: 2\n", image, image);
	if ((f = fopen(cfg, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror("bench_docker: config");
		return 2;
	}
	daemon_args[0] = "--config";
	daemon_args[1] = cfg;
	dopts.args = daemon_args;
	dopts.nargs = 2;
	snprintf(cmd, sizeof(cmd), "%s run -d --rm --network=none %s sleep 3600", docker, image);
	if (first_line(cmd, container, sizeof(container)) < 0) {
		fprintf(stderr, "bench_docker: cannot start a container (%s): is the engine up and the image built?\n", cmd);
		return 2;
	}
	if (bench_daemon_launch(&dopts, &daemon) < 0) {
		snprintf(cmd, sizeof(cmd), "%s rm -f %s >/dev/null 2>&1", docker, container);
		(void) !system(cmd);
		return 2;
	}
	bench_errs_init(&errs);
	if (runner_client_open(&cl, daemon.ipc_url, NULL, &st) != 0) {
		fprintf(stderr, "bench_docker: %s\n", st.message);
		rc = 2;
		goto out;
	}
	bench_print_host(stdout);
	printf("runnerd %s, image %s, %ld runs each (sequential, round-robin, after 2 warm-up rounds)\n\n", daemon.version,
	       image, runs);
	fflush(stdout);
	{
		struct bench_run_arg rd = { .cl = cl, .profile = "d", .argv = { "true", NULL }, .errs = &errs };
		struct bench_run_arg rw = { .cl = cl, .profile = "w", .argv = { "true", NULL }, .errs = &errs };
		struct bench_run_arg rx = { .cl = cl, .profile = "default", .argv = { "/bin/true", NULL }, .errs = &errs };
		char *drun[] = { (char *) docker, "run", "--rm", (char *) image, "true", NULL };
		char *drunnone[] = { (char *) docker, "run", "--rm", "--network=none", (char *) image, "true", NULL };
		char *drunnolog[] = { (char *) docker, "run", "--rm", "--network=none", "--log-driver=none",
				      (char *) image, "true", NULL };
		char *dexec[] = { (char *) docker, "exec", container, "true", NULL };
		bench_one_fn fns[NS] = { bench_one_run, bench_one_run, one_argv, one_argv, one_argv, one_argv, bench_one_run };
		void *args[NS] = { &rd, &rw, drun, drunnone, drunnolog, dexec, &rx };

		bench_measure_all(s, NS, runs, 2, fns, args);
	}
	{
		const char *heads[] = { "what", "n", "fail", "p50 ms", "p99 ms", "mean ms", "cold / this", "pool / this" };
		bench_table *t = bench_table_new(8, heads, "lrrrrrrr");
		for (int i = 0; i < NS; i++) {
			char ratio[32], pratio[32];
			bench_fmt_ratio(ratio, sizeof(ratio), s[0].lat.p50_us, s[i].lat.p50_us);
			bench_fmt_ratio(pratio, sizeof(pratio), s[1].lat.p50_us, s[i].lat.p50_us);
			bench_series_cells(t, &s[i]);
			bench_table_cell(t, "%s", i == 0 ? "1.00x" : ratio);
			bench_table_cell(t, "%s", i == 1 ? "1.00x" : pratio);
			bench_table_end_row(t, NULL);
		}
		bench_table_print(t, stdout);
		bench_table_free(t);
	}
	printf("\n(ratios are of p50 latency: the docker backend's, cold and warm-pool, over each row's)\n");
	bench_target_p50("docker warm pool Run(true)", &s[1], &s[5], "<=", 0.5);
	bench_target_p50("docker cold Run(true)", &s[0], &s[3], "<=", 1.05);
	for (int i = 0; i < NS; i++)
		if (s[i].fail > 0)
			rc = 1;
	if (errs.total > 0) {
		printf("errors:\n");
		bench_errs_print(&errs, stdout, "    ");
	}
out:
	runner_client_close(cl);
	if (bench_daemon_shutdown(&daemon, NULL) < 0 && rc == 0)
		rc = 1;
	snprintf(cmd, sizeof(cmd), "%s rm -f %s >/dev/null 2>&1", docker, container);
	(void) !system(cmd);
	unlink(cfg);
	rmdir(cfg_dir);
	bench_errs_destroy(&errs);
	for (int i = 0; i < NS; i++)
		free(s[i].ns);
	return rc;
}
