/* pids_cgroup.h — a process limit per run: one pids cgroup per run.
 *
 * RLIMIT_NPROC never binds uid 0 (the kernel exempts root from it), and
 * for other uids counts every process of the uid on the system, so the
 * firejail backend limits the number of processes with the pids
 * controller wherever it can: a fresh cgroup per run
 * under <runnerd's own pids cgroup>/runnerd-firejail/, joined by
 * `runnerd-status --join-cgroup=DIR --` just before firejail starts, so
 * everything the run creates (firejail itself included) is counted.
 *
 * Works with a cgroup v1 pids hierarchy, or with cgroup v2 when the pids
 * controller can be enabled below runnerd's cgroup (the root cgroup, or one
 * without processes of its own). Directories are named after the runnerd
 * that made them, so a sweep only ever removes its own or a dead
 * runnerd's, and only empty ones (the kernel refuses the others).
 */
#ifndef RUNNER_PIDS_CGROUP_H
#define RUNNER_PIDS_CGROUP_H

#include <stddef.h>

#include "status.h"

#define PIDS_CGROUP_PARENT "runnerd-firejail"

/* Is there a pids cgroup this process may create children in? 0 and the
 * parent directory (…/runnerd-firejail, created if need be), or fills st
 * (FAILED_PRECONDITION) with why not. */
int pids_cgroup_parent(char *dir, size_t len, rstatus *st);

/* Create a cgroup for one run allowing `max` tasks; its path in `dir`. */
int pids_cgroup_create(unsigned long long max, char *dir, size_t len, rstatus *st);

/* Remove a run's cgroup (best effort: it may still be emptying), then any
 * empty one this runnerd or a dead one left earlier. */
void pids_cgroup_remove(const char *dir);

#endif
