/* soak_checks.c — what the soak test checks once the load has stopped
 * (soak.h). Each check prints one line, "ok" or "FAILED", and a failure
 * counts as a violation. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "instance_id.h"
#include "soak.h"

#define SETTLE_MS 20000  /* what may still be ending gets this long */
#define FD_SLACK 0       /* runnerd's descriptors: back to exactly the idle count */
#define RSS_SLACK_KIB (8 * 1024) /* above the idle RSS, once runnerd trimmed its heap */

static int checked;

static void __attribute__((format(printf, 2, 3)))
report(bool ok, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	checked++;
	printf("  %-6s %s\n", ok ? "ok" : "FAILED", line);
	if (!ok)
		soak_violation("end check: %s", line);
}

/* Append to the string in out[len], cutting what does not fit. */
static void __attribute__((format(printf, 3, 4)))
append(char *out, size_t len, const char *fmt, ...)
{
	size_t used = strlen(out);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(out + used, len - used, fmt, ap);
	va_end(ap);
}

static uint64_t
now_ms(void)
{
	return bench_now_ns() / 1000000u;
}

/* --- tokens ------------------------------------------------------------------------ */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The lines of `path`, sorted, in *lines (pointing into *buf). */
static size_t
read_lines(const char *path, char **buf, char ***lines)
{
	size_t len = 0, cap = 0, n = 0;
	char *save = NULL;
	FILE *f = fopen(path, "r");

	*buf = NULL;
	*lines = NULL;
	if (f == NULL)
		return 0;
	for (;;) {
		size_t got;

		if (len + 4096 > cap) {
			char *nb = realloc(*buf, cap = cap * 2 + 8192);
			if (nb == NULL)
				break;
			*buf = nb;
		}
		if ((got = fread(*buf + len, 1, cap - len - 1, f)) == 0)
			break;
		len += got;
	}
	fclose(f);
	if (*buf == NULL)
		return 0;
	(*buf)[len] = '\0';
	for (char *t = strtok_r(*buf, "\n", &save); t != NULL; t = strtok_r(NULL, "\n", &save)) {
		if (n % 1024 == 0) {
			char **nl = realloc(*lines, (n + 1024) * sizeof(**lines));
			if (nl == NULL)
				break;
			*lines = nl;
		}
		(*lines)[n++] = t;
	}
	qsort(*lines, n, sizeof(**lines), cmp_str);
	return n;
}

/* Every command answered OK (a Run, a session read to its end) appended its
 * token once; no token is there twice; none that nobody handed out. */
static void
check_tokens(void)
{
	size_t n_lines, must = 0, maybe = 0, maybe_ran = 0, twice = 0, missing = 0, stranger = 0;
	char *buf, **lines, **issued;
	char missed[8][64];

	n_lines = read_lines(soak.tokens_path, &buf, &lines);
	if (buf == NULL) {
		report(false, "tokens: cannot read %s", soak.tokens_path);
		return;
	}
	for (size_t i = 1; i < n_lines; i++)
		if (strcmp(lines[i], lines[i - 1]) == 0 && (i < 2 || strcmp(lines[i - 1], lines[i - 2]) != 0)) {
			twice++;
			soak_violation("command with token %s ran more than once", lines[i]);
		}
	pthread_mutex_lock(&soak.mtx);
	issued = calloc(soak.n_tokens + 1, sizeof(*issued));
	for (size_t i = 0; i < soak.n_tokens; i++) {
		const char *key = soak.tokens[i].name;
		bool ran = bsearch(&key, lines, n_lines, sizeof(*lines), cmp_str) != NULL;

		if (issued != NULL)
			issued[i] = soak.tokens[i].name;
		if (soak.tokens[i].must) {
			must++;
			if (!ran && missing++ < 8)
				snprintf(missed[missing - 1], sizeof(missed[0]), "%s", key);
		} else {
			maybe++;
			maybe_ran += ran;
		}
	}
	if (issued != NULL) {
		qsort(issued, soak.n_tokens, sizeof(*issued), cmp_str);
		for (size_t i = 0; i < n_lines; i++)
			if (bsearch(&lines[i], issued, soak.n_tokens, sizeof(*issued), cmp_str) == NULL)
				stranger++;
	}
	pthread_mutex_unlock(&soak.mtx);
	/* soak_violation takes soak.mtx: only once it is released. */
	for (size_t i = 0; i < missing && i < 8; i++)
		soak_violation("command with token %s was answered OK but never ran", missed[i]);
	report(issued != NULL && twice == 0 && missing == 0 && stranger == 0,
	       "no command ran twice: %zu token lines; %zu answered OK each ran once (%zu missing), "
	       "%zu unanswered or failed ran %zu times in all (at most once each), %zu ran twice, %zu unknown",
	       n_lines, must, missing, maybe, maybe_ran, twice, stranger);
	free(issued);
	free(lines);
	free(buf);
}

/* --- processes ------------------------------------------------------------------------- */

/* Processes with SOAK_MARK=<mark> in their environment; the first pids in
 * `pids` (up to 8) and their names in `names`. */
static int
marked_processes(pid_t *pids, char *names, size_t nlen)
{
	char want[80], path[64], env[16384];
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (names != NULL)
		names[0] = '\0';
	if (d == NULL)
		return -1;
	snprintf(want, sizeof(want), "SOAK_MARK=%s", soak.mark);
	while ((e = readdir(d)) != NULL) {
		pid_t pid = (pid_t) atoi(e->d_name);
		FILE *f;
		size_t got;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/environ", (int) pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		got = fread(env, 1, sizeof(env) - 1, f);
		fclose(f);
		for (size_t i = 0; i < got; i += strlen(env + i) + 1) {
			env[got] = '\0';
			if (strcmp(env + i, want) != 0)
				continue;
			if (n < 8 && pids != NULL)
				pids[n] = pid;
			if (names != NULL && n < 8) {
				char comm[64] = "?", p2[64];
				FILE *c;

				snprintf(p2, sizeof(p2), "/proc/%d/comm", (int) pid);
				if ((c = fopen(p2, "r")) != NULL) {
					if (fgets(comm, sizeof(comm), c) != NULL)
						comm[strcspn(comm, "\n")] = '\0';
					fclose(c);
				}
				append(names, nlen, " %d (%s)", (int) pid, comm);
			}
			n++;
			break;
		}
	}
	closedir(d);
	return n;
}

static void
check_processes(void)
{
	uint64_t end = now_ms() + SETTLE_MS;
	char names[400];
	int n;

	while ((n = marked_processes(NULL, NULL, 0)) > 0 && now_ms() < end)
		bench_sleep_ms(100);
	n = marked_processes(NULL, names, sizeof(names));
	report(n == 0, "no process left: %d with SOAK_MARK in its environment%s%s", n, n > 0 ? ":" : "",
	       n > 0 ? names : "");
}

/* --- runnerd ---------------------------------------------------------------------------------- */

/* What pid's descriptors are, by kind ("socket", "pipe", a path...), as
 * " kind xN" into out. */
static void
describe_fds(pid_t pid, char *out, size_t len)
{
	char kinds[16][80], path[64], target[64];
	int counts[16] = { 0 }, n = 0;
	struct dirent *e;
	DIR *d;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		ssize_t k;
		int i;

		if (e->d_name[0] == '.' || (k = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1)) < 0)
			continue;
		target[k] = '\0';
		target[strcspn(target, ":")] = '\0'; /* socket:[123] -> socket */
		for (i = 0; i < n && strcmp(kinds[i], target) != 0; i++)
			;
		if (i == n && n < 16) {
			kinds[n][0] = '\0';
			append(kinds[n++], sizeof(kinds[0]), "%s", target);
		}
		if (i < n)
			counts[i]++;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		append(out, len, " %s x%d", kinds[i], counts[i]);
}

static void
check_descriptors(const struct soak_daemon_view *v)
{
	uint64_t end = now_ms() + SETTLE_MS;
	char what[600] = "";
	long fds;

	while ((fds = bench_proc_fd_count(v->pid)) > v->idle_fds + FD_SLACK && now_ms() < end)
		bench_sleep_ms(100);
	if (fds > v->idle_fds + FD_SLACK)
		describe_fds(v->pid, what, sizeof(what));
	report(fds >= 0 && fds <= v->idle_fds + FD_SLACK, "runnerd's descriptors back to idle: %ld open, %ld when idle%s%s",
	       fds, v->idle_fds, what[0] ? ":" : "", what);
}

static void
check_memory(const struct soak_daemon_view *v)
{
	long limit = v->idle_rss_kib + RSS_SLACK_KIB, rss;
	uint64_t end = now_ms() + SETTLE_MS;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* The sanitizers' allocators keep freed memory (ASan's quarantine, size
	 * class caches) whatever runnerd does: said, not checked. */
	bench_sleep_ms(6000);
	printf("  %-6s runnerd's RSS back near idle: not checked in a sanitizer build, whose allocator keeps "
	       "freed memory (%ld KiB, %ld KiB when idle); the normal build checks it, LeakSanitizer checks "
	       "leaks at runnerd's exit\n", "n/a", bench_proc_rss_kib(v->pid), v->idle_rss_kib);
	return;
#endif

	/* runnerd gives freed memory back a few seconds after work stops. */
	while ((rss = bench_proc_rss_kib(v->pid)) > limit && now_ms() < end)
		bench_sleep_ms(200);
	report(rss > 0 && rss <= limit, "runnerd's RSS back near idle: %ld KiB, %ld KiB when idle (limit %ld KiB)",
	       rss, v->idle_rss_kib, limit);
}

static void
check_sessions(const struct soak_daemon_view *v)
{
	runner_client_options o = { .connect_timeout_ms = 3000 };
	Runner__V1__ListRequest req = RUNNER__V1__LIST_REQUEST__INIT;
	Runner__V1__ListResponse *resp = NULL;
	uint64_t end = now_ms() + SETTLE_MS;
	runner_client *cl = NULL;
	runner_status st = { 0 };
	long n = -1;

	(void) v;
	if (runner_client_open(&cl, soak.req_url[0], &o, &st) == 0) {
		do {
			if (resp != NULL) {
				runner__v1__list_response__free_unpacked(resp, NULL);
				resp = NULL;
				bench_sleep_ms(200);
			}
			n = runner_list(cl, &req, &resp, 5000, &st) == 0 ? (long) resp->n_sessions : -1;
		} while (n > 0 && now_ms() < end);
		if (resp != NULL)
			runner__v1__list_response__free_unpacked(resp, NULL);
		runner_client_close(cl);
	}
	report(n == 0, "no session left once retention passed: %ld listed%s%s", n, n < 0 ? ": " : "",
	       n < 0 ? st.message : "");
}

/* The state directory holds the ledger, empty when nothing runs, and the
 * docker backend's CLI configuration and its empty cover file: nothing else may be left there (the
 * docker backend's per-run status files, for one). */
static void
walk_state(const char *dir, const char *rel, int *strays, char *names, size_t nlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[700], sub[400];
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		if (lstat(path, &sb) != 0)
			continue;
		if (strcmp(sub, "ledger") == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
			continue;
		if (strcmp(sub, "docker") == 0 && S_ISDIR(sb.st_mode)) {
			walk_state(path, sub, strays, names, nlen);
			continue;
		}
		if (strncmp(sub, "docker/cli-config", 17) == 0)
			continue;
		/* The docker backend's cover for host sockets: made once, kept. */
		if (strcmp(sub, "docker/empty") == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
			continue;
		(*strays)++;
		append(names, nlen, " %s%s", sub, strcmp(sub, "ledger") == 0 ? " (not empty)" : "");
	}
	closedir(d);
}

static void
check_state_dir(const struct soak_daemon_view *v)
{
	uint64_t end = now_ms() + SETTLE_MS;
	char names[600];
	int strays;

	for (;;) {
		names[0] = '\0';
		strays = 0;
		walk_state(v->state_dir, "", &strays, names, sizeof(names));
		if (strays == 0 || now_ms() >= end)
			break;
		bench_sleep_ms(200);
	}
	report(strays == 0, "no temporary file left in the state directory %s: %d stray%s%s", v->state_dir, strays,
	       strays ? ":" : "", names);
}

/* --- containers and cgroups ------------------------------------------------------------------- */

static void
check_containers(const struct soak_daemon_view *v)
{
	char id[17], cmd[300], line[256];
	uint64_t end = now_ms() + SETTLE_MS;
	int n;

	if (!soak.docker)
		return;
	rd_instance_id(v->state_dir, id);
	snprintf(cmd, sizeof(cmd), "docker ps -aq --filter label=runnerd.instance=%s 2>/dev/null", id);
	do {
		FILE *p = popen(cmd, "r");

		n = 0;
		if (p == NULL)
			break;
		while (fgets(line, sizeof(line), p) != NULL)
			n++;
		pclose(p);
		if (n > 0)
			bench_sleep_ms(500);
	} while (n > 0 && now_ms() < end);
	report(n == 0, "no container left: %d labelled runnerd.instance=%s", n, id);
}

/* The pids cgroups the firejail backend makes are named run-<runnerd's
 * pid>-<n> under <runnerd's cgroup>/runnerd-firejail (pids_cgroup.h). */
static void
check_cgroups(const struct soak_daemon_view *v)
{
	char path[512], line[512], v1[700] = "", v2[700] = "", names[400] = "";
	uint64_t end = now_ms() + SETTLE_MS;
	const char *parent;
	FILE *f;
	int left;

	if (!soak.firejail)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) v->pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	/* A cgroup v1 pids hierarchy, else the unified one. */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *rel;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0)
			snprintf(v2, sizeof(v2), "/sys/fs/cgroup%s/runnerd-firejail",
				 strcmp(line + 3, "/") == 0 ? "" : line + 3);
		else if ((rel = strstr(line, ":pids:")) != NULL)
			snprintf(v1, sizeof(v1), "/sys/fs/cgroup/pids%s/runnerd-firejail",
				 strcmp(rel + 6, "/") == 0 ? "" : rel + 6);
	}
	fclose(f);
	parent = v1[0] != '\0' && access(v1, F_OK) == 0 ? v1 : v2;
	if (access(parent, F_OK) != 0) {
		printf("  %-6s no pids cgroups to check: %s does not exist (the firejail runs had none)\n", "n/a",
		       parent);
		return;
	}
	do {
		DIR *d = opendir(parent);
		struct dirent *e;

		left = 0;
		names[0] = '\0';
		while (d != NULL && (e = readdir(d)) != NULL) {
			long pid;

			if (sscanf(e->d_name, "run-%ld-", &pid) != 1)
				continue;
			for (size_t i = 0; i < v->n_pids; i++)
				if (pid == (long) v->all_pids[i]) {
					left++;
					append(names, sizeof(names), " %s", e->d_name);
				}
		}
		if (d != NULL)
			closedir(d);
		if (left > 0)
			bench_sleep_ms(200);
	} while (left > 0 && now_ms() < end);
	report(left == 0, "no pids cgroup left in %s: %d of this soak's runnerds%s", parent, left, names);
}

int
soak_check_end(const struct soak_daemon_view *v)
{
	checked = 0;
	check_processes();
	check_tokens();
	check_sessions(v);
	check_descriptors(v);
	check_memory(v);
	check_state_dir(v);
	check_containers(v);
	check_cgroups(v);
	return checked;
}
