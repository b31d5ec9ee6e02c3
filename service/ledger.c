#include "ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dirfd_ = -1;

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static unsigned long long
start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (int field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

static int
kill_leftovers(void)
{
	DIR *dir;
	struct dirent *de;
	int killed = 0, fd;

	if ((fd = dup(dirfd_)) < 0 || (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(dir)) != NULL) {
		char buf[32] = { 0 };
		pid_t pid;
		int f;

		if (strncmp(de->d_name, "pg.", 3) != 0)
			continue;
		pid = (pid_t) atoi(de->d_name + 3);
		if ((f = openat(dirfd_, de->d_name, O_RDONLY | O_CLOEXEC)) >= 0) {
			(void) !read(f, buf, sizeof(buf) - 1);
			close(f);
		}
		unsigned long long started = pid > 1 ? start_time(pid) : 0;
		if (started != 0 && started == strtoull(buf, NULL, 10) && kill(-pid, SIGKILL) == 0)
			killed++;
		unlinkat(dirfd_, de->d_name, 0);
	}
	closedir(dir);
	return killed;
}

/* mkdir -p, owner-only for what it creates. */
static int
make_dirs(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int) sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0700) != 0 && errno != EEXIST ? -errno : 0;
}

int
ledger_open(const char *dir, rstatus *st)
{
	int rv;

	if ((rv = make_dirs(dir)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "mkdir %s", dir);
	if ((dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "open %s", dir);
	return kill_leftovers();
}

void
ledger_add(pid_t pid)
{
	char name[32], buf[32];
	int fd, n;

	if (dirfd_ < 0)
		return;
	snprintf(name, sizeof(name), "pg.%d", (int) pid);
	if ((fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%llu\n", start_time(pid));
	(void) !write(fd, buf, (size_t) n);
	close(fd);
}

void
ledger_remove(pid_t pid)
{
	char name[32];

	if (dirfd_ < 0)
		return;
	snprintf(name, sizeof(name), "pg.%d", (int) pid);
	unlinkat(dirfd_, name, 0);
}
