/* job_cgroup.h — a cgroup per command that runs on the host (exec and
 * firejail backends): memory, process and CPU limits that bind root too,
 * a kill of the whole tree however it tried to escape its process group,
 * and whether the kernel's OOM killer struck.
 *
 * Where: below runnerd's own cgroup. With cgroup v2 the controllers must
 * be enabled for children, which the kernel allows only in a cgroup with
 * no processes of its own: unless runnerd sits in the root cgroup, it
 * moves itself into a leaf "<own>/runnerd" first and creates jobs beside
 * it ("<own>/job-…") — the layout systemd expects of a unit with
 * Delegate=yes. With cgroup v1 (separate memory, pids and cpu
 * hierarchies, as on hosts whose Docker still uses them) each job gets a
 * directory in the hierarchy of each controller it needs, under
 * "<own>/runnerd-jobs". runnerd needs write access there: root, or a
 * delegated subtree (systemd Delegate=yes, a container's own cgroup).
 *
 * A job joins its cgroups between fork and exec (the spawner writes to
 * each cgroup.procs file, spawner_wire.h), so nothing it runs escapes them.
 * Directories carry runnerd's pid; one left by a runnerd that is gone is
 * removed (once empty) when the next runnerd first creates one.
 */
#ifndef RUNNER_JOB_CGROUP_H
#define RUNNER_JOB_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* What a job's cgroup enforces; 0: no limit. */
struct cgroup_limits {
	uint64_t memory;    /* bytes of memory (and swap, where it is accounted) */
	uint64_t pids;      /* tasks */
	uint64_t cpu_milli; /* thousandths of a CPU of bandwidth */
};

/* What this host offers runnerd, found once (thread-safe, cached). */
struct cgroup_support {
	bool v2;                  /* the unified hierarchy, else v1 */
	bool memory, pids, cpu;   /* controllers runnerd can use for jobs */
	char detail[400];         /* where, or why not */
};
const struct cgroup_support *job_cgroup_support(void);

/* Can `lim` be enforced here? 0, or FAILED_PRECONDITION naming the first
 * limit whose controller is missing (never a silent downgrade). */
int job_cgroup_check(const struct cgroup_limits *lim, rstatus *st);

struct job_cgroup;

/* Create the cgroup(s) for one job with `lim` applied. */
int job_cgroup_create(const struct cgroup_limits *lim, struct job_cgroup **out, rstatus *st);

/* The cgroup.procs files a process writes itself to, to join: one with
 * v2, one per controller with v1. Pointers stay valid until free. */
size_t job_cgroup_procs(const struct job_cgroup *cg, const char **out, size_t max);

/* SIGKILL every process in it: cgroup.kill with v2, each listed pid with
 * v1 (until none is left). Safe to call any number of times. */
void job_cgroup_kill(struct job_cgroup *cg);

/* Did the OOM killer kill anything in it? */
bool job_cgroup_oom_killed(const struct job_cgroup *cg);

/* Kill what is left and remove the directories (those still emptying are
 * removed later); accepts NULL. */
void job_cgroup_free(struct job_cgroup *cg);

#endif
