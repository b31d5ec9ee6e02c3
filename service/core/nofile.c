#include "core/nofile.h"

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
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl = n->start;
	}
	n->now = rl;
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want;
}
