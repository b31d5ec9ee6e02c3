#include "core/nofile.h"

#include <stdio.h>

/* fs.nr_open: no process may have more fds, whatever its limit. */
static rlim_t
nr_open(void)
{
	unsigned long long v = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f != NULL) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 1048576;
		fclose(f);
	}
	return (rlim_t) v;
}

bool
nofile_raise(rlim_t want, struct nofile *n)
{
	struct rlimit rl;

	n->want = want;
	if (getrlimit(RLIMIT_NOFILE, &n->start) != 0) {
		n->start.rlim_cur = n->start.rlim_max = RLIM_INFINITY;
		n->now = n->start;
		return false;
	}
	n->now = n->start;
	rl = n->start;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit higher = { .rlim_cur = want, .rlim_max = want };
		rlim_t cap = nr_open();

		if (higher.rlim_max > cap)
			higher.rlim_cur = higher.rlim_max = cap;
		/* Only with CAP_SYS_RESOURCE; without it the hard limit stays. */
		if (higher.rlim_max > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &higher) == 0)
			rl = higher;
	}
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl = n->start;
	}
	n->now = rl;
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want;
}
