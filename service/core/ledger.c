#include "core/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One append-only file, "ledger": "+ PID TICKS" (the leader's start time)
 * when a group starts, "- PID" when it is reaped — one write(2) each, on the
 * hot path of every Run. It is
 * emptied whenever nothing runs, and replayed at start-up. */
#define LEDGER_FILE "ledger"

struct ledger {
	int fd;
	unsigned live; /* groups added and not yet removed */
};

/* Clock ticks since boot, the unit of /proc/PID/stat's start time: what
 * ledger_add records when the process's own start time cannot be read. */
static unsigned long long
now_ticks(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (unsigned long long) ts.tv_sec * (unsigned long long) hz +
	       (unsigned long long) ts.tv_nsec / (1000000000ull / (unsigned long long) hz);
}

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

struct entry {
	pid_t pid;
	unsigned long long ticks;
};

/* Replay the file: what was added and never removed was running when the
 * previous runnerd died. Kill those whose leader still is the process we
 * started (its start time within two ticks of the recorded spawn). */
static int
kill_leftovers(FILE *f)
{
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	char line[128];
	int killed = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		struct entry e = { 0 };
		char op;

		if (sscanf(line, "%c %d %llu", &op, &e.pid, &e.ticks) < 2 || e.pid <= 1)
			continue;
		if (op == '-') {
			for (size_t i = 0; i < n; i++)
				if (v[i].pid == e.pid)
					v[i] = v[--n];
			continue;
		}
		if (n == cap) {
			struct entry *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n++] = e;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned long long started = start_time(v[i].pid);
		if (started != 0 && started + 2 >= v[i].ticks && started <= v[i].ticks + 2 &&
		    kill(-v[i].pid, SIGKILL) == 0)
			killed++;
	}
	free(v);
	return killed;
}

void
ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

int
ledger_open(struct ledger **out, const char *dir, rstatus *st)
{
	char path[PATH_MAX];
	struct ledger *l;
	FILE *f;
	int rv, killed = 0;

	*out = NULL;
	if ((rv = make_dirs(dir)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, -rv, "mkdir %s", dir);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	snprintf(path, sizeof(path), "%s/" LEDGER_FILE, dir);
	if ((l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		rv = rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "open %s", path);
		ledger_free(l);
		return rv;
	}
	if ((f = fdopen(dup(l->fd), "r")) != NULL) {
		killed = kill_leftovers(f);
		fclose(f);
	}
	if (ftruncate(l->fd, 0) != 0) {
		rv = rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "truncate %s", path);
		ledger_free(l);
		return rv;
	}
	*out = l;
	return killed;
}

static void
append(struct ledger *l, const char *line, int len)
{
	(void) !write(l->fd, line, (size_t) len);
}

void
ledger_add(struct ledger *l, pid_t pid)
{
	char line[64];
	unsigned long long started;

	if (l == NULL)
		return;
	/* The process's own start time (the loop may add it well after the
	 * spawn on a loaded machine, and the pid-reuse check allows two
	 * ticks); it is still there for a child that already exited, which
	 * is not reaped before it is added. */
	if ((started = start_time(pid)) == 0)
		started = now_ticks();
	l->live++;
	append(l, line, snprintf(line, sizeof(line), "+ %d %llu\n", (int) pid, started));
}

void
ledger_remove(struct ledger *l, pid_t pid)
{
	char line[32];

	if (l == NULL)
		return;
	/* Nothing runs: nothing to remember. Keeps the file small. */
	if (l->live > 0 && --l->live == 0) {
		(void) !ftruncate(l->fd, 0);
		return;
	}
	append(l, line, snprintf(line, sizeof(line), "- %d\n", (int) pid));
}
