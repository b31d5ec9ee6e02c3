/* bench_files — moving a large file in and out of runnerd, beside `cp`.
 *
 * A --size (1 GiB) file of pseudo-random bytes is made in a fresh work
 * directory (beside the daemon's, under $TMPDIR or /tmp) and its SHA-256
 * taken. Then, --repeat (3) times, in this order, each timed from spawn to
 * exit:
 *
 *   FLOOR  cp SRC COPY                        the local copy of the same file
 *   up     runnerctl cp SRC :ROOT/up          WriteFile chunks, atomic, SHA-256 checked
 *   down   runnerctl cp :ROOT/up DOWN         ReadFile chunks into a local file
 *   cat    runnerctl cat :ROOT/up >/dev/null  ReadFile chunks, nothing written
 *
 * against a runnerd started here whose default profile's files: section
 * makes ROOT writable (runnerd and runnerctl as built beside this program).
 * Every copy is checked byte for byte by SHA-256 after it is timed, then
 * removed. The source stays in the page cache for all of them, so cp and
 * runnerd read it alike; nothing is fsync'd (cp does not either). The table
 * shows the median time of each, the range, the throughput and the ratio of
 * the median to cp's.
 *
 *   bench_files [--size 1G] [--repeat 3] [--max-seconds 600]
 *
 * Exit status: 0 when everything was measured and exact, 1 when a copy
 * failed or differed, 2 on a setup error, 3 from the watchdog, 130 when
 * interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "sha256.h"

#ifndef RUNNERCTL_PATH
#define RUNNERCTL_PATH ""
#endif

extern char **environ;

#define MAX_REPEAT 9
#define BLOCK (1u << 20)

enum { FLOOR, UP, DOWN, CAT, N_WHAT };
static const char *const what_name[N_WHAT] = { "cp (floor)", "runnerctl cp up", "runnerctl cp down",
					       "runnerctl cat >/dev/null" };

static char work[PATH_MAX], src[PATH_MAX + 16], root[PATH_MAX + 16];

/* Run argv (stdout to `out` when not NULL); its wall time in ns, or 0 when
 * it did not exit 0. */
static uint64_t
timed(char *const argv[], const char *out)
{
	posix_spawn_file_actions_t fa;
	uint64_t t0;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	if (out != NULL)
		posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_TRUNC, 0);
	t0 = bench_now_ns();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return 0;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: %s exited with status 0x%x\n", bench_prog, argv[0], (unsigned) status);
		return 0;
	}
	return bench_now_ns() - t0;
}

static int
sha_file(const char *path, uint8_t out[SHA256_LEN])
{
	struct sha256 h;
	uint8_t *buf = malloc(BLOCK);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (buf == NULL || fd < 0 || sha256_begin(&h) < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf, BLOCK)) > 0)
		sha256_add(&h, buf, (size_t) n);
	sha256_end(&h, out);
	close(fd);
	free(buf);
	return n < 0 ? -1 : 0;
}

/* The source: --size bytes of xorshift output, written in 1 MiB blocks. */
static int
make_source(uint64_t size, uint8_t sha[SHA256_LEN])
{
	uint64_t *buf = malloc(BLOCK), x = 0x9e3779b97f4a7c15ull;
	int fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	struct sha256 h;

	if (buf == NULL || fd < 0 || sha256_begin(&h) < 0) {
		fprintf(stderr, "%s: %s: %s\n", bench_prog, src, strerror(errno));
		free(buf);
		return -1;
	}
	for (uint64_t off = 0; off < size; off += BLOCK) {
		size_t n = size - off < BLOCK ? (size_t) (size - off) : BLOCK;
		for (size_t i = 0; i < BLOCK / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if (write(fd, buf, n) != (ssize_t) n) {
			fprintf(stderr, "%s: writing %s: %s\n", bench_prog, src, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		sha256_add(&h, buf, n);
	}
	sha256_end(&h, sha);
	close(fd);
	free(buf);
	return 0;
}

static void
remove_work(void)
{
	char *argv[] = { "/bin/rm", "-rf", work, NULL };
	pid_t pid;
	int status;

	if (work[0] != '\0' && posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0)
		waitpid(pid, &status, 0);
}

static int
cmp_u64(const void *a, const void *b)
{
	return bench_cmp_u64(a, b);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [--size N] [--repeat N] [--max-seconds S]\n", bench_prog);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "max-seconds", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t size = 1ull << 30, ns[N_WHAT][MAX_REPEAT] = { { 0 } };
	long repeat = 3, max_seconds = 600;
	struct bench_daemon dm;
	char cfg[PATH_MAX + 16], copy[PATH_MAX + 16], down[PATH_MAX + 16], remote[PATH_MAX + 32],
		remote_arg[PATH_MAX + 40], addr_env[300], text[PATH_MAX + 128];
	uint8_t want[SHA256_LEN], got[SHA256_LEN];
	const char *tmp = getenv("TMPDIR");
	int opt, failed = 0, runs = 0;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			size = bench_parse_size("--size", optarg, 1, 1ull << 40);
			break;
		case 'r':
			repeat = bench_parse_long("--repeat", optarg, 1, MAX_REPEAT);
			break;
		case 'm':
			max_seconds = bench_parse_long("--max-seconds", optarg, 10, 86400);
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (bench_init("bench_files", max_seconds) < 0)
		return 2;
	if (RUNNERCTL_PATH[0] == '\0' || access(RUNNERCTL_PATH, X_OK) != 0) {
		fprintf(stderr, "%s: no runnerctl at '%s'\n", bench_prog, RUNNERCTL_PATH);
		return 2;
	}
	snprintf(work, sizeof(work), "%s/runnerd-bench-files.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(work) == NULL) {
		fprintf(stderr, "%s: mkdtemp: %s\n", bench_prog, strerror(errno));
		return 2;
	}
	snprintf(src, sizeof(src), "%s/src", work);
	snprintf(root, sizeof(root), "%s/root", work);
	snprintf(copy, sizeof(copy), "%s/copy", work);
	snprintf(down, sizeof(down), "%s/down", work);
	snprintf(remote, sizeof(remote), "%s/up", root);
	snprintf(remote_arg, sizeof(remote_arg), ":%s", remote);
	snprintf(cfg, sizeof(cfg), "%s/runnerd.yaml", work);
	snprintf(text, sizeof(text), "profiles:\n  - name: default\n    files:\n      write: [%s]\n", root);
	if (mkdir(root, 0755) != 0 || make_source(size, want) < 0) {
		remove_work();
		return 2;
	}
	{
		FILE *f = fopen(cfg, "w");
		if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "%s: %s: %s\n", bench_prog, cfg, strerror(errno));
			remove_work();
			return 2;
		}
	}
	char *dargs[] = { "--config", cfg };
	struct bench_daemon_opts o = { .path = RUNNERD_PATH, .args = dargs, .nargs = 2 };
	if (bench_daemon_launch(&o, &dm) < 0) {
		remove_work();
		return 2;
	}
	snprintf(addr_env, sizeof(addr_env), "%s", dm.ipc_url);
	setenv("RUNNERD_ADDR", addr_env, 1);
	printf("bench_files: %llu MiB, %ld rounds; runnerd %s\n", (unsigned long long) (size >> 20), repeat, dm.version);
	bench_print_host(stdout);

	char *cp_argv[] = { "/bin/cp", src, copy, NULL };
	char *up_argv[] = { RUNNERCTL_PATH, "cp", src, remote_arg, NULL };
	char *down_argv[] = { RUNNERCTL_PATH, "cp", remote_arg, down, NULL };
	char *cat_argv[] = { RUNNERCTL_PATH, "cat", remote_arg, NULL };
	for (long r = 0; r < repeat && !bench_out_of_time(); r++, runs++) {
		/* Each copy is checked, then removed: only the source stays. */
		if ((ns[FLOOR][r] = timed(cp_argv, NULL)) == 0 || sha_file(copy, got) < 0 ||
		    memcmp(got, want, SHA256_LEN) != 0)
			failed = 1, fprintf(stderr, "%s: cp: the copy differs\n", bench_prog);
		unlink(copy);
		if ((ns[UP][r] = timed(up_argv, NULL)) == 0 || sha_file(remote, got) < 0 ||
		    memcmp(got, want, SHA256_LEN) != 0)
			failed = 1, fprintf(stderr, "%s: upload: the file differs\n", bench_prog);
		if ((ns[DOWN][r] = timed(down_argv, NULL)) == 0 || sha_file(down, got) < 0 ||
		    memcmp(got, want, SHA256_LEN) != 0)
			failed = 1, fprintf(stderr, "%s: download: the file differs\n", bench_prog);
		unlink(down);
		if ((ns[CAT][r] = timed(cat_argv, "/dev/null")) == 0)
			failed = 1;
		unlink(remote);
	}

	static const char *const heads[] = { "what", "median", "range", "MB/s", "vs cp" };
	bench_table *t = bench_table_new(5, heads, "lrrrr");
	double floor_s = 0;
	for (int w = 0; w < N_WHAT && runs > 0; w++) {
		uint64_t v[MAX_REPEAT];
		char ratio[32];
		double med;

		memcpy(v, ns[w], sizeof(v));
		qsort(v, (size_t) runs, sizeof(v[0]), cmp_u64);
		med = (double) v[runs / 2] / 1e9;
		if (w == FLOOR)
			floor_s = med;
		bench_fmt_ratio(ratio, sizeof(ratio), med, floor_s);
		bench_table_cell(t, "%s", what_name[w]);
		bench_table_cell(t, "%.3fs", med);
		bench_table_cell(t, "%.3f-%.3fs", (double) v[0] / 1e9, (double) v[runs - 1] / 1e9);
		bench_table_cell(t, "%.0f", med > 0 ? (double) size / med / 1e6 : 0.0);
		bench_table_cell(t, "%s", ratio);
		bench_table_end_row(t, NULL);
	}
	bench_table_print(t, stdout);
	bench_table_free(t);
	printf("every copy exact by SHA-256: %s\n", failed ? "NO" : "yes");
	if (bench_daemon_shutdown(&dm, NULL) < 0)
		failed = 1;
	remove_work();
	bench_watchdog_cancel();
	if (bench_interrupted)
		return 130;
	return failed || runs < repeat ? 1 : 0;
}
