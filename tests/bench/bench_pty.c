/* bench_pty — keystroke-to-echo latency through a PTY session, beside the
 * same echo on a local pty.
 *
 * A key is one byte typed at a terminal; its echo is the byte coming back
 * on the terminal's screen. The program on the terminal echoes it itself,
 * as a shell's line editor or an editor does (`stty raw -echo; exec cat`),
 * so each round trip crosses the program as well as the terminal. In one
 * run, interleaved (one key of each per round, so drift in the machine's
 * load hits every row alike):
 *
 *   local pty          the floor: the program on a pty of our own; write
 *                      the key to the master, read its echo back
 *   runnerd exec       the program in a PTY session of a runnerd started
 *                      here: WriteStdin of the key (from a writer thread,
 *                      so the reply does not delay the clock), its echo
 *                      read as a PTY stream frame (ReadStream)
 *   runnerd firejail   the same on a firejail profile (the key and echo
 *                      cross runnerd-status's relay inside the sandbox)
 *   runnerd docker     the same on a docker profile (the docker CLI, the
 *                      engine and runnerd-docker-init's relay)
 *
 * and prints p50/p99/mean and the ratio of each row to the floor. A
 * backend that cannot run here (no firejail, no engine or image) is left
 * out with a note.
 *
 *   bench_pty [--keys N] [--warmup N] [--backends exec,firejail,docker]
 *             [--image IMAGE] [--max-seconds S]
 *
 * Exit status: 0 when every key came back, 1 when some did not, 2 on a
 * setup error, 3 from the watchdog.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "runner_client.h"

#define ECHO_PROGRAM "stty raw -echo && echo READY && exec cat"
#define ECHO_TIMEOUT_MS 10000
#define MAX_SERIES 4

extern char **environ;

/* --- the floor: a pty of our own ----------------------------------------- */

struct local_pty {
	int master;
	pid_t pid;
};

/* Read from `fd` until `want` bytes came (0 on time, -1 otherwise). */
static int
read_n(int fd, size_t want)
{
	char buf[256];

	while (want > 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (poll(&p, 1, ECHO_TIMEOUT_MS) != 1)
			return -1;
		if ((n = read(fd, buf, want < sizeof(buf) ? want : sizeof(buf))) <= 0)
			return -1;
		want -= (size_t) n;
	}
	return 0;
}

/* Read until `text` has shown (the program's READY). */
static int
read_until(int fd, const char *text)
{
	char buf[512];
	size_t got = 0;

	while (got < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (poll(&p, 1, ECHO_TIMEOUT_MS) != 1 || (n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			return -1;
		got += (size_t) n;
		buf[got] = '\0';
		if (strstr(buf, text) != NULL)
			return 0;
	}
	return -1;
}

static int
local_start(struct local_pty *l)
{
	char *argv[] = { "/bin/sh", "-c", ECHO_PROGRAM, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char name[64];
	int slave, rv;

	if ((l->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 || grantpt(l->master) != 0 ||
	    unlockpt(l->master) != 0 || ptsname_r(l->master, name, sizeof(name)) != 0 ||
	    (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		perror("bench_pty: local pty");
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, slave, 0);
	posix_spawn_file_actions_adddup2(&fa, slave, 1);
	posix_spawn_file_actions_adddup2(&fa, slave, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	rv = posix_spawn(&l->pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(slave);
	if (rv != 0 || read_until(l->master, "READY") < 0) {
		fprintf(stderr, "bench_pty: the local echo program did not start\n");
		return -1;
	}
	return 0;
}

static void
local_stop(struct local_pty *l)
{
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
	}
	if (l->master >= 0)
		close(l->master);
}

static int
local_key(void *p)
{
	struct local_pty *l = p;

	if (write(l->master, "k", 1) != 1)
		return -1;
	return read_n(l->master, 1);
}

/* --- a PTY session ---------------------------------------------------------- */

struct session_key {
	const char *name;
	runner_client *cl;
	runner_stream *rs;
	char id[80];
	/* The writer thread: one WriteStdin per key, at the next offset. */
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pending, busy, quit;
	uint64_t offset;
	int write_failed;
	struct bench_errs *errs;
};

static void *
writer_main(void *p)
{
	struct session_key *k = p;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		Runner__V1__WriteStdinRequest req = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
		Runner__V1__WriteStdinResponse *resp = NULL;
		runner_status st;
		int rv;

		while (!k->pending && !k->quit)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->quit)
			break;
		k->pending = false;
		k->busy = true;
		pthread_mutex_unlock(&k->mu);
		req.session_id = k->id;
		req.offset = k->offset;
		req.data.data = (uint8_t *) "k";
		req.data.len = 1;
		rv = runner_write_stdin(k->cl, &req, &resp, ECHO_TIMEOUT_MS, &st);
		if (resp != NULL)
			runner__v1__write_stdin_response__free_unpacked(resp, NULL);
		pthread_mutex_lock(&k->mu);
		if (rv < 0) {
			k->write_failed = 1;
			bench_errs_add(k->errs, st.message);
		} else {
			k->offset++;
		}
		k->busy = false;
		pthread_cond_broadcast(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* Wait for the terminal to show `want` bytes (0), or give up (-1). */
static int
session_read(struct session_key *k, size_t want, const char *text)
{
	char seen[512] = "";
	size_t got = 0;

	while (text != NULL ? strstr(seen, text) == NULL : got < want) {
		Runner__V1__StreamFrame *f;
		runner_status st;
		if (runner_stream_next(k->rs, &f, ECHO_TIMEOUT_MS, &st) < 0) {
			bench_errs_add(k->errs, st.message);
			return -1;
		}
		if (f->last) {
			bench_errs_add(k->errs, "the session ended");
			runner__v1__stream_frame__free_unpacked(f, NULL);
			return -1;
		}
		if (text != NULL && got + f->data.len < sizeof(seen)) {
			memcpy(seen + got, f->data.data, f->data.len);
			seen[got + f->data.len] = '\0';
		}
		got += f->data.len;
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	return 0;
}

static int
session_key(void *p)
{
	struct session_key *k = p;
	int rv;

	/* The previous key's reply (not timed): one call at a time. */
	pthread_mutex_lock(&k->mu);
	while (k->busy || k->pending)
		pthread_cond_wait(&k->cv, &k->mu);
	if (k->write_failed) {
		pthread_mutex_unlock(&k->mu);
		return -1;
	}
	k->pending = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	rv = session_read(k, 1, NULL);
	/* Timed until the echo shows; the reply may still be on its way. */
	return rv;
}

static int
session_start(struct session_key *k, const char *url, const char *profile)
{
	Runner__V1__StartPipesRequest req = RUNNER__V1__START_PIPES_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__Terminal term = RUNNER__V1__TERMINAL__INIT;
	Runner__V1__StartPipesResponse *resp = NULL;
	runner_status st;

	if (runner_client_open(&k->cl, url, NULL, &st) < 0)
		goto fail;
	spec.shell = ECHO_PROGRAM;
	spec.profile = (char *) profile;
	spec.terminal = &term;
	req.command = &spec;
	if (runner_start_pipes(k->cl, &req, &resp, ECHO_TIMEOUT_MS * 6, &st) < 0)
		goto fail;
	snprintf(k->id, sizeof(k->id), "%s", resp->session_id);
	if (runner_stream_open(&k->rs, resp->stream_address, resp->session_id, resp->stream_secret.data,
			       resp->stream_secret.len, 0, 0, 0, &st) < 0) {
		runner__v1__start_pipes_response__free_unpacked(resp, NULL);
		goto fail;
	}
	runner__v1__start_pipes_response__free_unpacked(resp, NULL);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->writer, NULL, writer_main, k) != 0 || session_read(k, 0, "READY") < 0) {
		fprintf(stderr, "bench_pty: %s: the echo program did not start\n", k->name);
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "bench_pty: %s left out: %s: %s\n", k->name, runner_status_code_name(st.code), st.message);
	return -1;
}

static void
session_stop(struct session_key *k, bool started)
{
	Runner__V1__SignalRequest req = RUNNER__V1__SIGNAL_REQUEST__INIT;
	Runner__V1__SignalResponse *resp = NULL;
	runner_status st;

	if (started) {
		pthread_mutex_lock(&k->mu);
		k->quit = true;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->writer, NULL);
		req.session_id = k->id;
		req.signal = SIGKILL;
		if (runner_signal(k->cl, &req, &resp, ECHO_TIMEOUT_MS, &st) == 0)
			runner__v1__signal_response__free_unpacked(resp, NULL);
	}
	runner_stream_close(k->rs);
	runner_client_close(k->cl);
}

/* --- main ------------------------------------------------------------------- */

static void
usage(void)
{
	printf("usage: bench_pty [--keys N] [--warmup N] [--backends LIST] [--image IMAGE] [--max-seconds S]\n"
	       "Keystroke-to-echo latency through a PTY session of a runnerd started here,\n"
	       "beside the same program echoing on a local pty.\n"
	       "  --keys N         keys timed per row (default 2000)\n"
	       "  --warmup N       keys typed first, not timed (default 100)\n"
	       "  --backends LIST  of exec, firejail, docker (default all three)\n"
	       "  --image IMAGE    the docker profile's image (default runnerd-test:latest)\n"
	       "  --max-seconds S  budget (default 600)\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keys", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "backends", required_argument, NULL, 'b' },
		{ "image", required_argument, NULL, 'i' },
		{ "max-seconds", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const heads[] = { "keystroke -> echo", "keys", "fail", "p50 us", "p99 us", "mean us",
					     "p50 vs floor", "p99 vs floor" };
	static const char *const profiles[] = { "exec", "firejail", "docker" };
	const char *backends = "exec,firejail,docker", *image = "runnerd-test:latest";
	long keys = 2000, warm = 100, max_seconds = 600;
	char cfg_dir[] = "/tmp/bench-pty-XXXXXX", cfg[64], text[512];
	char *daemon_args[2] = { "--config", cfg };
	struct bench_daemon daemon;
	struct bench_daemon_opts dopts = { .path = RUNNERD_PATH, .args = daemon_args, .nargs = 2 };
	struct bench_series s[MAX_SERIES] = { { .name = "local pty (floor)" } };
	struct session_key sk[MAX_SERIES] = { { 0 } };
	struct local_pty local = { .master = -1 };
	bool started[MAX_SERIES] = { false };
	bench_one_fn fn[MAX_SERIES] = { local_key };
	void *arg[MAX_SERIES] = { &local };
	struct bench_errs errs;
	bench_table *t;
	char load[64], ratio[32];
	int c, ns = 1, rc = 0;
	FILE *f;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': keys = bench_parse_long("--keys", optarg, 1, 10000000); break;
		case 'w': warm = bench_parse_long("--warmup", optarg, 0, 1000000); break;
		case 'b': backends = optarg; break;
		case 'i': image = optarg; break;
		case 's': max_seconds = bench_parse_long("--max-seconds", optarg, 1, 86400); break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (bench_init("bench_pty", max_seconds) < 0)
		return 2;
	bench_errs_init(&errs);
	if (mkdtemp(cfg_dir) == NULL) {
		perror("bench_pty: mkdtemp");
		return 2;
	}
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", cfg_dir);
	snprintf(text, sizeof(text),
		 "default_profile: exec\nprofiles:\n  - name: exec\n  - name: firejail\n    backend: firejail\n"
		 "  - name: docker\n    backend: docker\n    docker:\n      image: %s\n",
		 image);
	if ((f = fopen(cfg, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror("bench_pty: config");
		return 2;
	}
	if (local_start(&local) < 0 || bench_daemon_launch(&dopts, &daemon) < 0) {
		local_stop(&local);
		return 2;
	}
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		struct session_key *k = &sk[ns];
		static char names[MAX_SERIES][48];
		if (strstr(backends, profiles[i]) == NULL)
			continue;
		snprintf(names[ns], sizeof(names[ns]), "runnerd %s", profiles[i]);
		k->name = s[ns].name = names[ns];
		k->errs = &errs;
		if (session_start(k, daemon.ipc_url, profiles[i]) < 0) {
			session_stop(k, false);
			memset(k, 0, sizeof(*k));
			continue;
		}
		started[ns] = true;
		fn[ns] = session_key;
		arg[ns] = k;
		ns++;
	}
	bench_print_host(stdout);
	bench_measure_all(s, ns, keys, warm, fn, arg);
	bench_loadavg(load, sizeof(load));
	printf("%ld keys per row after %ld untimed, interleaved; load average after: %s\n\n", keys, warm, load);
	t = bench_table_new(8, heads, "lrrrrrrr");
	for (int i = 0; i < ns; i++) {
		bench_table_cell(t, "%s", s[i].name);
		bench_table_cell(t, "%ld", s[i].n);
		bench_table_cell(t, "%ld", s[i].fail);
		bench_table_cell(t, "%.0f", s[i].lat.p50_us);
		bench_table_cell(t, "%.0f", s[i].lat.p99_us);
		bench_table_cell(t, "%.0f", s[i].lat.mean_us);
		bench_fmt_ratio(ratio, sizeof(ratio), s[i].lat.p50_us, s[0].lat.p50_us);
		bench_table_cell(t, "%s", ratio);
		bench_fmt_ratio(ratio, sizeof(ratio), s[i].lat.p99_us, s[0].lat.p99_us);
		bench_table_cell(t, "%s", ratio);
		bench_table_end_row(t, NULL);
		if (s[i].fail > 0)
			rc = 1;
	}
	bench_table_print(t, stdout);
	bench_table_free(t);
	if (errs.total > 0) {
		printf("\nerrors:\n");
		bench_errs_print(&errs, stdout, "    ");
	}
	for (int i = 1; i < ns; i++)
		session_stop(&sk[i], started[i]);
	local_stop(&local);
	bench_watchdog_cancel();
	if (bench_daemon_shutdown(&daemon, NULL) < 0)
		rc = 2;
	unlink(cfg);
	rmdir(cfg_dir);
	for (int i = 0; i < ns; i++)
		free(s[i].ns);
	bench_errs_destroy(&errs);
	return rc;
}
