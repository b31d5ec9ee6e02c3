#include "core/fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define RESERVE_MIN 16u
#define RESERVE_MAX 256u
/* A slow count is not repeated sooner than this many times what it took. */
#define RECOUNT_COST_FACTOR 50u
/* A stale estimate is counted again before it refuses a start. */
#define RECOUNT_BEFORE_REFUSING_MS 10u

static uint64_t limit; /* the soft limit in force; 0: not read yet */
static bool slow_only;

/* The slow count (kernels before 6.2): when, what it found, what it cost,
 * and the starts admitted since. Loop thread only. */
static uint64_t counted_at_us, count_cost_us;
static long counted = -1;
static unsigned admitted_since;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static uint64_t
from_rlimit(rlim_t v)
{
	return v == RLIM_INFINITY || v > INT_MAX ? (uint64_t) INT_MAX : (uint64_t) v;
}

static uint64_t
current_limit(void)
{
	struct rlimit rl;

	if (limit == 0)
		limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? from_rlimit(rl.rlim_cur) : 1024;
	return limit;
}

int
fdlimit_raise(struct rlimit *start, uint64_t *now)
{
	struct rlimit rl;
	int rv = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		rv = -errno;
		if (start != NULL)
			start->rlim_cur = start->rlim_max = RLIM_INFINITY;
		return rv;
	}
	if (start != NULL)
		*start = rl;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
		else
			rv = -errno;
	}
	limit = from_rlimit(rl.rlim_cur);
	if (now != NULL)
		*now = limit;
	return rv;
}

uint64_t
fdlimit_limit(void)
{
	return current_limit();
}

unsigned
fdlimit_reserve(void)
{
	uint64_t r = current_limit() / 16;

	return r < RESERVE_MIN ? RESERVE_MIN : r > RESERVE_MAX ? RESERVE_MAX : (unsigned) r;
}

/* Linux 6.2+: the size of /proc/self/fd is the number open. */
static long
count_by_size(void)
{
	struct stat sb;

	return stat("/proc/self/fd", &sb) == 0 && sb.st_size > 0 ? (long) sb.st_size : -1;
}

/* -1 with errno when the directory cannot be read (EMFILE among others). */
static long
count_by_reading(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* not the directory's own */
}

long
fdlimit_open_count(bool slow)
{
	long n;

	if (!slow && (n = count_by_size()) >= 0)
		return n;
	return count_by_reading();
}

/* The slow way: counted again when the last count is old (or `stale_ms`
 * old and about to refuse), else estimated. -1: out of descriptors to
 * count with; -2: cannot be counted at all. */
static long
estimate(uint64_t stale_ms)
{
	uint64_t t = now_us(), every = FDLIMIT_RECOUNT_MS * 1000u;

	if (every < count_cost_us * RECOUNT_COST_FACTOR)
		every = count_cost_us * RECOUNT_COST_FACTOR;
	if (counted < 0 || t - counted_at_us >= every || t - counted_at_us >= stale_ms * 1000u) {
		errno = 0;
		counted = count_by_reading();
		counted_at_us = t;
		count_cost_us = now_us() - t;
		admitted_since = 0;
		if (counted < 0)
			return errno == EMFILE || errno == ENFILE ? -1 : -2;
	}
	return counted + (long) admitted_since * FDLIMIT_PER_START;
}

int
fdlimit_check(rstatus *st)
{
	uint64_t lim = current_limit();
	unsigned reserve = fdlimit_reserve();
	long open = slow_only ? -1 : count_by_size();
	bool slow = open < 0;

	if (slow && (open = estimate(UINT64_MAX / 1000u)) >= 0 &&
	    (uint64_t) open + FDLIMIT_PER_START + reserve > lim)
		open = estimate(RECOUNT_BEFORE_REFUSING_MS);
	if (open == -2)
		return 0; /* no /proc: nothing to go by */
	if (open == -1)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
				    "runnerd is out of file descriptors (limit %llu): no process can start now",
				    (unsigned long long) lim);
	if ((uint64_t) open + FDLIMIT_PER_START + reserve > lim)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED,
				    "runnerd has %ld of its %llu file descriptors open and keeps %u for "
				    "connections: no process can start now",
				    open, (unsigned long long) lim, reserve);
	if (slow)
		admitted_since++;
	return 0;
}

void
fdlimit_count_slowly(bool slowly)
{
	slow_only = slowly;
	counted = -1;
}
