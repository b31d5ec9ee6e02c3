/* A cgroup per host command: see job_cgroup.h. */
#include "job_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define V1_PARENT "runnerd-jobs"
#define V2_LEAF "runnerd"
#define MAX_PENDING 256

enum ctl { CTL_MEMORY, CTL_PIDS, CTL_CPU, N_CTL };
static const char *const ctl_name[N_CTL] = { "memory", "pids", "cpu" };

/* Found once: where jobs go. v2: one parent for all controllers; v1: one
 * per controller (empty when that controller cannot be used). */
static struct {
	struct cgroup_support sup;
	char parent[N_CTL][PATH_MAX];
} host;
static pthread_once_t found = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static char *pending[MAX_PENDING]; /* directories still emptying */

struct job_cgroup {
	char dir[N_CTL][PATH_MAX]; /* v2: dir[0] only */
	char procs[N_CTL][PATH_MAX];
	size_t n;
	size_t of[N_CTL];          /* controller → its directory */
};

static int
write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rv = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		rv = -errno;
	close(fd);
	return rv;
}

static ssize_t
read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* Is `word` one of the items of `list` (separated by any of `seps`)? */
static bool
has_word(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, seps);
		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p += len;
		p += strspn(p, seps);
	}
	return false;
}

/* Mount point of the cgroup (v1, with `controller`) or cgroup2 (NULL)
 * filesystem, and the root of that mount within the hierarchy. */
static bool
find_mount(const char *controller, char *mnt, size_t mlen, char *root, size_t rlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool ok = false;

	if (f == NULL)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], m[PATH_MAX], type[64], super[1024] = "";
		const char *sep = strstr(line, " - ");
		if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, super) < 1)
			continue;
		if (controller ? strcmp(type, "cgroup") != 0 || !has_word(super, controller, ",")
			       : strcmp(type, "cgroup2") != 0)
			continue;
		snprintf(mnt, mlen, "%s", m);
		snprintf(root, rlen, "%s", r);
		ok = true;
	}
	fclose(f);
	return ok;
}

/* Our path in the v1 hierarchy with `controller`, or the v2 one (NULL). */
static bool
own_path(const char *controller, char *path, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool ok = false;

	if (f == NULL)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (controller ? has_word(c1 + 1, controller, ",") : c1[1] == '\0') {
			snprintf(path, len, "%s", c2 + 1);
			ok = true;
		}
	}
	fclose(f);
	return ok;
}

/* The directory of our cgroup in the hierarchy mounted at mnt (root). */
static bool
own_dir(const char *controller, char *dir, size_t len)
{
	char mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	const char *rel;

	if (!find_mount(controller, mnt, sizeof(mnt), root, sizeof(root)) ||
	    !own_path(controller, own, sizeof(own)))
		return false;
	if (strcmp(root, "/") == 0)
		rel = own;
	else if (strncmp(own, root, strlen(root)) == 0)
		rel = own + strlen(root);
	else
		return false;
	return snprintf(dir, len, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel) < (int) len;
}

/* Remove empty job directories of runnerds that are gone. */
static void
sweep(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		long pid;
		if (sscanf(e->d_name, "job-%ld-", &pid) != 1 || pid <= 0 || pid == getpid() ||
		    kill((pid_t) pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", parent, e->d_name) < (int) sizeof(path))
			(void) rmdir(path);
	}
	closedir(d);
}

static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	size_t used = strlen(host.sup.detail);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(host.sup.detail + used, sizeof(host.sup.detail) - used, fmt, ap);
	va_end(ap);
}

/* v2: move ourselves into a leaf so that our cgroup may hand its
 * controllers to children, then enable them. */
static void
find_v2(void)
{
	char own[PATH_MAX], path[PATH_MAX + 32], buf[512];
	bool root;

	if (!own_dir(NULL, own, sizeof(own)))
		return;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", own);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	root = access(strcat(strcpy(path, own), "/cgroup.type"), F_OK) != 0; /* only the root lacks it */
	for (int c = 0; c < N_CTL; c++) {
		if (!has_word(buf, ctl_name[c], " \n"))
			continue;
		snprintf(host.parent[c], sizeof(host.parent[c]), "%s", own);
	}
	if (!host.parent[CTL_MEMORY][0] && !host.parent[CTL_PIDS][0] && !host.parent[CTL_CPU][0])
		return;
	host.sup.v2 = true;
	if (!root) {
		char leaf[PATH_MAX + 16];
		snprintf(leaf, sizeof(leaf), "%s/" V2_LEAF, own);
		snprintf(path, sizeof(path), "%s/cgroup.procs", leaf);
		if ((mkdir(leaf, 0755) != 0 && errno != EEXIST) || write_text(path, "0") < 0) {
			say("cgroup v2 at %s: cannot move runnerd into %s/" V2_LEAF, own, own);
			memset(host.parent, 0, sizeof(host.parent));
			return;
		}
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
	for (int c = 0; c < N_CTL; c++) {
		char plus[16];
		if (!host.parent[c][0])
			continue;
		snprintf(plus, sizeof(plus), "+%s", ctl_name[c]);
		if (write_text(path, plus) < 0)
			host.parent[c][0] = '\0';
	}
}

static void
find_v1(void)
{
	for (int c = 0; c < N_CTL; c++) {
		char own[PATH_MAX];
		if (!own_dir(ctl_name[c], own, sizeof(own)) ||
		    snprintf(host.parent[c], sizeof(host.parent[c]), "%s/" V1_PARENT, own) >= (int) sizeof(host.parent[c]) ||
		    (mkdir(host.parent[c], 0755) != 0 && errno != EEXIST) || access(host.parent[c], W_OK) != 0)
			host.parent[c][0] = '\0';
	}
}

static void
find_host(void)
{
	/* v1 controllers win where they are mounted: the kernel binds each
	 * controller to one hierarchy, and a v1 one is empty in v2. */
	find_v1();
	if (!host.parent[CTL_MEMORY][0] && !host.parent[CTL_PIDS][0] && !host.parent[CTL_CPU][0])
		find_v2();
	host.sup.memory = host.parent[CTL_MEMORY][0] != '\0';
	host.sup.pids = host.parent[CTL_PIDS][0] != '\0';
	host.sup.cpu = host.parent[CTL_CPU][0] != '\0';
	if (!host.sup.memory && !host.sup.pids && !host.sup.cpu) {
		say("%sno cgroup hierarchy runnerd may create cgroups in (needs root or a delegated subtree)",
		    host.sup.detail[0] ? "; " : "");
		return;
	}
	host.sup.detail[0] = '\0';
	say("cgroup %s:", host.sup.v2 ? "v2" : "v1");
	for (int c = 0; c < N_CTL; c++)
		if (host.parent[c][0]) {
			say(" %s (%s)", ctl_name[c], host.parent[c]);
			if (!host.sup.v2 || c == 0)
				sweep(host.parent[c]);
		}
}

const struct cgroup_support *
job_cgroup_support(void)
{
	pthread_once(&found, find_host);
	return &host.sup;
}

int
job_cgroup_check(const struct cgroup_limits *lim, rstatus *st)
{
	const struct cgroup_support *s = job_cgroup_support();
	const char *missing = lim->memory && !s->memory ? "limits.memory (the memory controller)"
			      : lim->pids && !s->pids	  ? "limits.processes (the pids controller)"
			      : lim->cpu_milli && !s->cpu ? "limits.cpus (the cpu controller)"
							  : NULL;

	if (missing != NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "cannot enforce %s: %s", missing, s->detail);
	return 0;
}

/* Earlier jobs' directories that were still emptying. */
static void
retry_pending(void)
{
	for (size_t i = 0; i < MAX_PENDING; i++)
		if (pending[i] != NULL && (rmdir(pending[i]) == 0 || errno == ENOENT)) {
			free(pending[i]);
			pending[i] = NULL;
		}
}

static int
set_value(const char *dir, const char *file, unsigned long long v, rstatus *st)
{
	char path[PATH_MAX + 64], text[32];
	int rv;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(text, sizeof(text), "%llu", v);
	if ((rv = write_text(path, text)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "cannot set %s", path);
	return 0;
}

/* Apply one controller's limit to `dir`. */
static int
apply(int c, const char *dir, const struct cgroup_limits *lim, rstatus *st)
{
	char path[PATH_MAX + 64], text[64];
	int rv;

	switch (c) {
	case CTL_MEMORY:
		if (host.sup.v2) {
			/* No swap either: a limit a job could swap past is none. */
			snprintf(path, sizeof(path), "%s/memory.swap.max", dir);
			(void) write_text(path, "0");
			return set_value(dir, "memory.max", (unsigned long long) lim->memory, st);
		}
		if ((rv = set_value(dir, "memory.limit_in_bytes", (unsigned long long) lim->memory, st)) < 0)
			return rv;
		snprintf(path, sizeof(path), "%s/memory.memsw.limit_in_bytes", dir);
		if (access(path, F_OK) == 0)
			(void) set_value(dir, "memory.memsw.limit_in_bytes", (unsigned long long) lim->memory, NULL);
		return 0;
	case CTL_PIDS:
		return set_value(dir, "pids.max", (unsigned long long) lim->pids, st);
	case CTL_CPU:
		if (host.sup.v2) {
			snprintf(path, sizeof(path), "%s/cpu.max", dir);
			snprintf(text, sizeof(text), "%llu 100000", (unsigned long long) lim->cpu_milli * 100u);
			if ((rv = write_text(path, text)) < 0)
				return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "cannot set %s", path);
			return 0;
		}
		if ((rv = set_value(dir, "cpu.cfs_period_us", 100000, st)) < 0)
			return rv;
		return set_value(dir, "cpu.cfs_quota_us", (unsigned long long) lim->cpu_milli * 100u, st);
	}
	return 0;
}

int
job_cgroup_create(const struct cgroup_limits *lim, struct job_cgroup **out, rstatus *st)
{
	uint64_t want[N_CTL] = { lim->memory, lim->pids, lim->cpu_milli };
	struct job_cgroup *cg;
	unsigned long n;
	int rv;

	*out = NULL;
	if ((rv = job_cgroup_check(lim, st)) < 0)
		return rv;
	if ((cg = calloc(1, sizeof(*cg))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	pthread_mutex_lock(&lock);
	n = ++counter;
	retry_pending();
	pthread_mutex_unlock(&lock);
	/* v1: a directory in each hierarchy with a limit to apply; v2: one
	 * directory (every parent is our own cgroup) for all of them. */
	for (int c = 0; c < N_CTL; c++) {
		const char *parent = host.parent[c];
		char *dir;
		if (want[c] == 0)
			continue;
		if (host.sup.v2 && cg->n == 1) {
			cg->of[c] = 0;
			continue;
		}
		cg->of[c] = cg->n;
		dir = cg->dir[cg->n];
		snprintf(dir, PATH_MAX, "%s/job-%ld-%lu", parent, (long) getpid(), n);
		if (mkdir(dir, 0755) != 0) {
			rv = rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "cannot create the cgroup %s", dir);
			dir[0] = '\0';
			goto fail;
		}
		snprintf(cg->procs[cg->n], PATH_MAX, "%s/job-%ld-%lu/cgroup.procs", parent, (long) getpid(), n);
		cg->n++;
	}
	for (int c = 0; c < N_CTL; c++)
		if (want[c] && (rv = apply(c, cg->dir[cg->of[c]], lim, st)) < 0)
			goto fail;
	*out = cg;
	return 0;
fail:
	job_cgroup_free(cg);
	return rv;
}

size_t
job_cgroup_procs(const struct job_cgroup *cg, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; cg != NULL && i < cg->n && n < max; i++)
		out[n++] = cg->procs[i];
	return n;
}

/* Kill each pid listed in a cgroup.procs until none is left (v1 has no
 * atomic kill; a fork racing the loop lands in the list of the next
 * round, and the pids limit bounds how long that can go on). */
static void
kill_listed(const char *procs)
{
	char buf[8192];

	for (int round = 0; round < 1000; round++) {
		bool any = false;
		if (read_text(procs, buf, sizeof(buf)) <= 0)
			return;
		for (char *p = buf, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0 && kill((pid_t) pid, SIGKILL) == 0)
				any = true;
		}
		if (!any)
			return;
	}
}

void
job_cgroup_kill(struct job_cgroup *cg)
{
	char path[PATH_MAX + 32];

	if (cg == NULL || cg->n == 0)
		return;
	if (host.sup.v2) {
		snprintf(path, sizeof(path), "%s/cgroup.kill", cg->dir[0]);
		if (write_text(path, "1") == 0)
			return;
	}
	/* Every hierarchy holds the same processes: one list suffices. */
	kill_listed(cg->procs[0]);
}

bool
job_cgroup_oom_killed(const struct job_cgroup *cg)
{
	char path[PATH_MAX + 32], buf[1024];
	const char *p;

	if (cg == NULL || !host.sup.memory)
		return false;
	for (size_t i = 0; i < cg->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", cg->dir[i], host.sup.v2 ? "memory.events" : "memory.oom_control");
		if (read_text(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "oom_kill ")) != NULL &&
		    strtoull(p + 9, NULL, 10) > 0)
			return true;
	}
	return false;
}

void
job_cgroup_free(struct job_cgroup *cg)
{
	if (cg == NULL)
		return;
	job_cgroup_kill(cg);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < cg->n; i++) {
		if (rmdir(cg->dir[i]) == 0 || errno == ENOENT)
			continue;
		/* Still emptying (the last processes are being torn down). */
		for (size_t k = 0; k < MAX_PENDING; k++)
			if (pending[k] == NULL) {
				pending[k] = strdup(cg->dir[i]);
				break;
			}
	}
	pthread_mutex_unlock(&lock);
	free(cg);
}
