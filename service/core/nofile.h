/* nofile.h — runnerd's own limit on open files (RLIMIT_NOFILE).
 *
 * Every live session holds pipe ends in runnerd (one while idle, three
 * while in use: spawner_wire.h), every Run up to four, so the usual soft
 * limit of 1024 would cap runnerd at a few hundred sessions. At start
 * runnerd raises its soft limit to the hard one (the hard one is the
 * operator's: LimitNOFILE in the systemd unit; below it core/fdlimit.h
 * keeps a reserve and refuses starts). The commands it starts get
 * the limits it started with back (the spawner restores them), so a
 * program that walks every possible fd, or uses select(), sees what it
 * would have seen without runnerd.
 */
#ifndef RUNNER_NOFILE_H
#define RUNNER_NOFILE_H

#include <stdbool.h>
#include <sys/resource.h>

struct nofile {
	struct rlimit start; /* what runnerd started with (children get it back) */
	struct rlimit now;   /* in force after nofile_raise */
	rlim_t want;         /* what was asked for */
};

/* Raise the soft limit to the hard one; fills *n. Returns true when it
 * reaches `want` fds (what runnerd's --max-sessions and --max-inflight
 * could use). */
bool nofile_raise(rlim_t want, struct nofile *n);

#endif
