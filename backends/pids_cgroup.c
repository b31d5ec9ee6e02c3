/* One pids cgroup per firejail run whose command is root's: see
 * pids_cgroup.h. */
#include "pids_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PENDING 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static bool swept;
/* Our own run cgroups that were still emptying when their run ended. */
static char *pending[MAX_PENDING];

/* Is `word` one of the comma-separated items of `list`? */
static bool
has_item(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *end = strchrnul(p, ',');
		if ((size_t) (end - p) == n && strncmp(p, word, n) == 0)
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* The mount point and mount root of the first mount of `fstype` whose
 * super options include `opt` (NULL: any). */
static int
find_mount(const char *fstype, const char *opt, char *mnt, size_t mlen, char *root, size_t rlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int rv = -ENOENT;

	if (f == NULL)
		return -errno;
	while (rv != 0 && fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], m[PATH_MAX], type[64], super[1024];
		const char *sep = strstr(line, " - ");

		line[strcspn(line, "\n")] = '\0';
		if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, super) != 2)
			continue;
		if (strcmp(type, fstype) != 0 || (opt != NULL && !has_item(super, opt)))
			continue;
		snprintf(mnt, mlen, "%s", m);
		snprintf(root, rlen, "%s", r);
		rv = 0;
	}
	fclose(f);
	return rv;
}

/* Our cgroup path in the v1 hierarchy holding `controller`, or (NULL) in
 * the v2 one. */
static int
own_cgroup(const char *controller, char *path, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int rv = -ENOENT;

	if (f == NULL)
		return -errno;
	while (rv != 0 && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		line[strcspn(c2 + 1, "\n") + (size_t) (c2 + 1 - line)] = '\0';
		if (controller ? has_item(c1 + 1, controller) : (c1[1] == '\0' && strncmp(line, "0:", 2) == 0)) {
			snprintf(path, len, "%s", c2 + 1);
			rv = 0;
		}
	}
	fclose(f);
	return rv;
}

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

static bool
file_has_item(const char *path, const char *word)
{
	char buf[1024] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strcmp(tok, word) == 0)
			return true;
	return false;
}

/* v2: make pids available to the children of `dir`. */
static int
enable_pids_below(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir) >= (int) sizeof(path))
		return -ENAMETOOLONG;
	if (file_has_item(path, "pids"))
		return 0;
	return write_text(path, "+pids");
}

/* Remove empty run cgroups of runnerds that are gone. */
static void
sweep_dead(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid;
		char path[PATH_MAX];

		if (sscanf(e->d_name, "run-%ld-", &pid) != 1 || pid <= 0 || pid == getpid() ||
		    kill((pid_t) pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", parent, e->d_name) < (int) sizeof(path))
			(void) rmdir(path);
	}
	closedir(d);
}

int
pids_cgroup_parent(char *dir, size_t len, rstatus *st)
{
	char mnt[PATH_MAX], root[PATH_MAX], cg[PATH_MAX], base[PATH_MAX];
	const char *rel;
	bool v2 = false;
	int rv;

	if (find_mount("cgroup", "pids", mnt, sizeof(mnt), root, sizeof(root)) == 0 &&
	    own_cgroup("pids", cg, sizeof(cg)) == 0) {
		/* cgroup v1 with a pids hierarchy */
	} else if (find_mount("cgroup2", NULL, mnt, sizeof(mnt), root, sizeof(root)) == 0 &&
		   own_cgroup(NULL, cg, sizeof(cg)) == 0) {
		v2 = true;
	} else
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "no pids cgroup hierarchy is mounted");
	if (strcmp(root, "/") == 0)
		rel = cg;
	else if (strncmp(cg, root, strlen(root)) == 0)
		rel = cg + strlen(root);
	else
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "runnerd's cgroup %s is outside the mounted hierarchy (%s)", cg, root);
	if (snprintf(base, sizeof(base), "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel) >= (int) sizeof(base))
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "cgroup path too long");
	if (v2) {
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/cgroup.controllers", base) >= (int) sizeof(path) ||
		    !file_has_item(path, "pids"))
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "the pids controller is not available in %s", base);
		if ((rv = enable_pids_below(base)) < 0)
			return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv,
						  "cannot enable the pids controller below %s", base);
	}
	if (snprintf(dir, len, "%s/" PIDS_CGROUP_PARENT, base) >= (int) len)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "cgroup path too long");
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "cannot create %s", dir);
	if (v2 && (rv = enable_pids_below(dir)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv,
					  "cannot enable the pids controller below %s", dir);
	if (access(dir, W_OK) != 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "%s", dir);
	pthread_mutex_lock(&lock);
	if (!swept) {
		swept = true;
		sweep_dead(dir);
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

int
pids_cgroup_create(unsigned long long max, char *dir, size_t len, rstatus *st)
{
	char parent[PATH_MAX - 64], path[PATH_MAX], value[32];
	unsigned long n;
	int rv;

	if ((rv = pids_cgroup_parent(parent, sizeof(parent), st)) < 0)
		return rv;
	pthread_mutex_lock(&lock);
	n = ++counter;
	pthread_mutex_unlock(&lock);
	if (snprintf(dir, len, "%s/run-%ld-%lu", parent, (long) getpid(), n) >= (int) len)
		return rstatus_fail(st, RS_INTERNAL, "cgroup path too long");
	if (mkdir(dir, 0755) != 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "cannot create %s", dir);
	snprintf(value, sizeof(value), "%llu", max);
	if (snprintf(path, sizeof(path), "%s/pids.max", dir) >= (int) sizeof(path))
		rv = -ENAMETOOLONG;
	else
		rv = write_text(path, value);
	if (rv < 0) {
		rmdir(dir);
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "cannot set %s", path);
	}
	return 0;
}

void
pids_cgroup_remove(const char *dir)
{
	pthread_mutex_lock(&lock);
	/* Earlier ones that were still emptying. */
	for (size_t i = 0; i < MAX_PENDING; i++) {
		if (pending[i] != NULL && (rmdir(pending[i]) == 0 || errno == ENOENT)) {
			free(pending[i]);
			pending[i] = NULL;
		}
	}
	if (dir != NULL && dir[0] != '\0' && rmdir(dir) != 0 && errno != ENOENT) {
		for (size_t i = 0; i < MAX_PENDING; i++) {
			if (pending[i] == NULL) {
				pending[i] = strdup(dir);
				break;
			}
		}
	}
	pthread_mutex_unlock(&lock);
}
