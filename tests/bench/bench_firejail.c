/* bench_firejail — what the firejail backend costs, beside firejail itself.
 *
 * In one run, N times each, interleaved (one of each per round, so drift in
 * the machine's load hits every row alike), one at a time:
 *
 *   runnerd firejail   Run(`true`) on a firejail profile (network: none)
 *                      of a runnerd started here, timed around
 *                      runner_run
 *   job firejail       the backend in this process: prepare, a job on a
 *                      loop (pipes, status channel, reaper), release — no RPC
 *   CLI, same argv     the argv and environment the backend builds (the
 *                      runnerd-status launcher in front of firejail
 *                      included), spawned and waited for (fd 3 a pipe, as
 *                      the job gives it)
 *   CLI bare           `firejail --quiet --noprofile /bin/true`
 *   CLI bare --        `firejail --quiet --noprofile -- true` (firejail
 *                      0.9.72 runs this one through /bin/bash -c)
 *   runnerd exec       Run(`/bin/true`) on the exec backend, for scale
 *
 * and prints p50/p99/mean latency and the ratio of each row to the
 * backend's runnerd Run. Needs root and a working firejail.
 *
 *   bench_firejail [--runs N] [--max-seconds S] [--quick]
 *
 * and issue 12's target: the runnerd Run beside the CLI with the same argv.
 * --quick (CI) makes 3 runs each and judges nothing.
 *
 * Exit status: 0 when every run succeeded, 1 when some failed, 2 on a
 * setup error, 3 from the watchdog.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "bench_common.h"
#include "run/collect.h"
#include "firejail.h"
#include "run/job.h"
#include "run/spawner.h"
#include "core/loop.h"
#include "core/reaper.h"
#include "runner_client.h"

#define NSERIES 6

static char *cmd_env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			   "HOME=/", "LANG=C.UTF-8", "TERM=dumb", NULL };
static const struct policy fj_policy = { .profile = "f", .backend = "firejail", .network = false };

/* --- the backend on a loop in this process ---------------------------------- */

struct harness {
	struct loop_watch sig;
	struct collect io;
	bool done;
	struct loop *loop;
	struct bench_errs *errs;
};

static void
sig_cb(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
		reaper_collect();
}

static void
on_done(struct job *j, void *arg)
{
	struct harness *h = arg;
	h->done = true;
	loop_stop(h->loop);
}

static int
on_output(struct job *j, enum job_stream s, int fd, void *arg)
{
	return collect_output(&((struct harness *) arg)->io, s, fd);
}

static void
on_stdin(struct job *j, int fd, void *arg)
{
}

static const struct job_ops ops = { .output = on_output, .stdin_writable = on_stdin, .done = on_done };

static int
one_job(void *p)
{
	struct harness *h = p;
	const struct backend_ops *fj = backend_find("firejail");
	char *argv[] = { "true", NULL };
	struct command cmd = { .argv = argv, .envp = cmd_env, .cwd = "/" };
	struct backend_launch launch;
	struct job_spec spec = { .launch = &launch, .grace_ms = 2000, .linger_ms = 200 };
	struct spawners *spawners = NULL;
	struct job *j = NULL;
	rstatus st;
	int rv = -1;

	/* A loop per run: a stopped loop stays stopped. */
	if (loop_new(&h->loop, &st) < 0 || loop_watch_add(h->loop, &h->sig, EPOLLIN, &st) < 0 ||
	    spawners_start(&spawners, h->loop, 1, RUNNERD_SPAWNER_PATH, NULL, &st) < 0 ||
	    collect_init(&h->io, NULL, 0, 1 << 16, 1 << 16, &st) < 0) {
		bench_errs_add(h->errs, st.message);
		spawners_free(spawners);
		loop_free(h->loop);
		return -1;
	}
	spec.spawners = spawners;
	h->done = false;
	if (fj->prepare(&cmd, &fj_policy, &launch, &st) < 0 ||
	    job_start(h->loop, &spec, &ops, h, &j, &st) < 0) {
		bench_errs_add(h->errs, st.message);
	} else if (loop_run(h->loop) == 0 && h->done) {
		const Runner__V1__RunResult *r = job_result(j);
		if (r->reason == RUNNER__V1__TERMINATION__EXITED && r->exit_code == 0)
			rv = 0;
		else {
			snprintf(st.message, sizeof(st.message), "job: reason %d exit %d", (int) r->reason,
				 r->exit_code);
			bench_errs_add(h->errs, st.message);
		}
	}
	job_free(j);
	fj->release(&launch);
	collect_free(&h->io);
	spawners_free(spawners);
	loop_free(h->loop);
	return rv;
}

/* --- the CLI ----------------------------------------------------------------- */

struct argv_arg {
	char *const *argv;
	char *const *envp;
	bool fd3; /* give it a status pipe as fd 3, as the job does */
	struct bench_errs *errs;
};

static int
one_argv(void *p)
{
	struct argv_arg *a = p;
	posix_spawn_file_actions_t fa;
	int status, rv, pipefd[2] = { -1, -1 };
	char buf[64];
	pid_t pid;

	if (a->fd3 && pipe2(pipefd, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (a->fd3)
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], 3);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	rv = posix_spawn(&pid, a->argv[0], &fa, NULL, a->argv, a->envp);
	posix_spawn_file_actions_destroy(&fa);
	if (a->fd3)
		close(pipefd[1]);
	if (rv != 0) {
		bench_errs_add(a->errs, strerror(rv));
		if (a->fd3)
			close(pipefd[0]);
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (a->fd3) {
		(void) !read(pipefd[0], buf, sizeof(buf));
		close(pipefd[0]);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(buf, sizeof(buf), "%s: status 0x%x", a->argv[0], status);
		bench_errs_add(a->errs, buf);
		return -1;
	}
	return 0;
}

/* --- main -------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_firejail [--runs N] [--max-seconds S] [--quick]\n"
			"  --quick: 3 runs each, 180 s (options after it override it), no target judged\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "max-seconds", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long runs = 50, max_seconds = 600;
	char cfg_dir[] = "/tmp/bench-firejail-XXXXXX", cfg[64], shim[4096], *slash;
	char *daemon_args[2];
	struct bench_daemon daemon;
	struct bench_daemon_opts dopts = { .path = RUNNERD_PATH };
	struct bench_errs errs;
	struct bench_series s[NSERIES] = { { .name = "runnerd firejail Run(true)" },
				     { .name = "job firejail (in process, no RPC)" },
				     { .name = "firejail CLI, the backend's argv" },
				     { .name = "firejail --quiet --noprofile /bin/true" },
				     { .name = "firejail --quiet --noprofile -- true" },
				     { .name = "runnerd exec Run(/bin/true)" } };
	const struct backend_ops *fj;
	struct backend_launch launch;
	struct harness h = { .errs = &errs };
	runner_client *cl = NULL;
	sigset_t set;
	runner_status st;
	int c, rc = 0;
	FILE *f;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': runs = bench_parse_long("--runs", optarg, 1, 100000); break;
		case 's': max_seconds = bench_parse_long("--max-seconds", optarg, 1, 86400); break;
		case 'q': bench_quick = true; runs = 3; max_seconds = 180; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (bench_init("bench_firejail", max_seconds) < 0)
		return 2;

	/* The in-process backend uses the runnerd-status built beside runnerd. */
	snprintf(shim, sizeof(shim) - 32, "%s", RUNNERD_PATH);
	if ((slash = strrchr(shim, '/')) != NULL)
		strcpy(slash + 1, "runnerd-status");
	firejail_set_shim_path(shim);
	fj = backend_find("firejail");
	if (fj == NULL || fj->probe(&st) < 0) {
		fprintf(stderr, "bench_firejail: the firejail backend cannot run here: %s\n",
			fj ? st.message : "not built in");
		return 2;
	}
	/* The backend's own argv for `true`, to spawn by hand. */
	{
		char *targv[] = { "true", NULL };
		struct command cmd = { .argv = targv, .envp = cmd_env, .cwd = "/" };
		if (fj->prepare(&cmd, &fj_policy, &launch, &st) < 0) {
			fprintf(stderr, "bench_firejail: prepare: %s\n", st.message);
			return 2;
		}
	}
	/* Jobs need SIGCHLD through a signalfd and a subreaper, as in runnerd. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	h.sig.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	h.sig.cb = sig_cb;

	if (mkdtemp(cfg_dir) == NULL) {
		perror("bench_firejail: mkdtemp");
		return 2;
	}
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", cfg_dir);
	if ((f = fopen(cfg, "w")) == NULL ||
	    /* What fj_policy says, every sandbox default it does not have
	     * loosened: runnerd's overhead is measured, not firejail's
	     * features. */
	    fputs("profiles:\n  - name: default\n  - name: f\n    backend: firejail\n    network: none\n"
		  "    user: root\n    filesystem: {read_only_root: false, private_tmp: false}\n"
		  "    limits: {timeout: unlimited, cpu: unlimited, address_space: unlimited,\n"
		  "             file_size: unlimited, open_files: unlimited, processes: unlimited}\n",
		  f) < 0 ||
	    fclose(f) != 0) {
		perror("bench_firejail: config");
		return 2;
	}
	daemon_args[0] = "--config";
	daemon_args[1] = cfg;
	dopts.args = daemon_args;
	dopts.nargs = 2;
	if (bench_daemon_launch(&dopts, &daemon) < 0)
		return 2;
	bench_errs_init(&errs);
	if (runner_client_open(&cl, daemon.ipc_url, NULL, &st) != 0) {
		fprintf(stderr, "bench_firejail: %s\n", st.message);
		rc = 2;
		goto out;
	}
	bench_print_host(stdout);
	printf("runnerd %s, %ld runs each (interleaved, one at a time, after 2 warm-up rounds)\n",
	       daemon.version, runs);
	printf("backend argv:");
	for (char *const *a = launch.argv; *a; a++)
		printf(" %s", *a);
	printf("\n\n");
	fflush(stdout);
	{
		/* firejail itself: the argv element after the launcher's "--". */
		char fj_path[4096] = "/usr/bin/firejail";
		for (char *const *a = launch.argv; *a; a++) {
			const char *base = strrchr(*a, '/');
			if (base && strcmp(base, "/firejail") == 0) {
				snprintf(fj_path, sizeof(fj_path), "%s", *a);
				break;
			}
		}
		char *bare[] = { fj_path, "--quiet", "--noprofile", "/bin/true", NULL };
		char *bare_dd[] = { fj_path, "--quiet", "--noprofile", "--", "true", NULL };
		struct bench_run_arg rf = { .cl = cl, .profile = "f", .argv = { "true", NULL }, .errs = &errs };
		struct bench_run_arg rx = { .cl = cl, .profile = "default", .argv = { "/bin/true", NULL }, .errs = &errs };
		struct argv_arg same = { .argv = launch.argv, .envp = launch.envp, .fd3 = true, .errs = &errs };
		struct argv_arg b1 = { .argv = bare, .envp = cmd_env, .errs = &errs };
		struct argv_arg b2 = { .argv = bare_dd, .envp = cmd_env, .errs = &errs };
		bench_one_fn fns[NSERIES] = { bench_one_run, one_job, one_argv, one_argv, one_argv, bench_one_run };
		void *args[NSERIES] = { &rf, &h, &same, &b1, &b2, &rx };

		bench_measure_all(s, NSERIES, runs, 2, fns, args);
	}
	{
		const char *heads[] = { "what", "n", "fail", "p50 ms", "p99 ms", "mean ms", "this / runnerd firejail" };
		bench_table *t = bench_table_new(7, heads, "lrrrrrr");
		for (int i = 0; i < NSERIES; i++) {
			char ratio[32];
			bench_fmt_ratio(ratio, sizeof(ratio), s[i].lat.p50_us, s[0].lat.p50_us);
			bench_series_cells(t, &s[i]);
			bench_table_cell(t, "%s", ratio);
			bench_table_end_row(t, NULL);
		}
		bench_table_print(t, stdout);
		bench_table_free(t);
	}
	{
		char r1[32], r2[32];
		bench_fmt_ratio(r1, sizeof(r1), s[0].lat.p50_us, s[2].lat.p50_us);
		bench_fmt_ratio(r2, sizeof(r2), s[1].lat.p50_us, s[2].lat.p50_us);
		printf("\nrunnerd firejail Run / CLI with the same argv (p50): %s; in-process job / same CLI: %s\n",
		       r1, r2);
	}
	bench_target_p50("firejail Run(true)", &s[0], &s[2], "<=", 1.05);
	for (int i = 0; i < NSERIES; i++)
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
	fj->release(&launch);
	unlink(cfg);
	rmdir(cfg_dir);
	bench_errs_destroy(&errs);
	for (int i = 0; i < NSERIES; i++)
		free(s[i].ns);
	return rc;
}
