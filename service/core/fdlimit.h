/* fdlimit.h — runnerd's file descriptors: the limit, raised at start, and a
 * reserve kept for connections.
 *
 * Every connection (accepted by nng in its own threads) and every process
 * runnerd starts (its pipes) take descriptors under one per-process limit,
 * RLIMIT_NOFILE. Were processes allowed to take the last ones, nng could not
 * accept: new clients would wait in the listen backlog for no answer. So a
 * start is refused with RESOURCE_EXHAUSTED while fewer than the reserve
 * (1/16 of the limit, 16 to 256 descriptors) plus what a start needs are
 * free; the reserve stays for connections, which then carry that answer,
 * and for everything already running (established clients, readers).
 *
 * Counting: Linux 6.2 and later report the number of open descriptors as the
 * size of /proc/self/fd (one stat); older kernels are counted by reading the
 * directory, which costs milliseconds with thousands open, so at most every
 * FDLIMIT_RECOUNT_MS (longer when a count was slow), each start admitted in
 * between counted as FDLIMIT_PER_START.
 *
 * A process-wide singleton, like the limit itself: fdlimit_raise at start
 * before any thread, fdlimit_check on the loop thread.
 */
#ifndef RUNNER_FDLIMIT_H
#define RUNNER_FDLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/resource.h>

#include "status.h"

#define FDLIMIT_PER_START 8    /* descriptors a start may need (pipes, both ends) */
#define FDLIMIT_RECOUNT_MS 100 /* the slow count, at most this often */

/* Raise the soft RLIMIT_NOFILE to the hard one and note the limit in force.
 * *start (may be NULL) gets the limit before (both values RLIM_INFINITY
 * when it cannot be read), *now (may be NULL) the soft limit after. 0, or
 * -errno when the limit could not be read or raised (the one in force then
 * stays, and is what the reserve is taken from). Commands get *start back
 * (main hands it to the spawners), so a program that walks every possible
 * fd, or uses select(), sees what it would have seen without runnerd. */
int fdlimit_raise(struct rlimit *start, uint64_t *now);

/* The soft limit in force, and the descriptors kept for connections. */
uint64_t fdlimit_limit(void);
unsigned fdlimit_reserve(void);

/* 0 when a start may take descriptors now; RS_RESOURCE_EXHAUSTED with a
 * message saying how many are open of how many otherwise. */
int fdlimit_check(rstatus *st);

/* Open descriptors of this process right now, counted exactly (the slow
 * way when `slow` or when the kernel does not report the number). -1 with
 * errno when they cannot be counted (EMFILE: no descriptor left to count
 * with). Any thread. */
long fdlimit_open_count(bool slow);

/* Count the slow way, as on kernels before 6.2 (for tests). */
void fdlimit_count_slowly(bool slowly);

#endif
