/* ledger.h — a record on disk of the process groups runnerd has running,
 * so that a runnerd killed with SIGKILL leaves nothing running for long:
 * the next runnerd on the same state directory kills what its predecessor
 * left.
 *
 * One append-only file records each process group when it is spawned (pid
 * and the leader's start time) and when it is reaped — one write each — and
 * is emptied whenever nothing runs. The recorded start time, compared with
 * the process's at recovery, guards against a recycled pid. PR_SET_PDEATHSIG is no substitute: it
 * covers only the direct child, and a setuid exec (firejail) clears it.
 */
#ifndef RUNNER_LEDGER_H
#define RUNNER_LEDGER_H

#include <sys/types.h>

#include "status.h"

struct ledger;

/* Use `dir` (created 0700 if missing) and kill every group recorded there
 * whose leader still runs with the recorded start time. Returns the number
 * of groups killed (>= 0) with the ledger in *out, or a negative value. The
 * daemon owns the one ledger of its state directory and hands it to what
 * spawns (job_spec.ledger, docker_pools_config.ledger). */
int ledger_open(struct ledger **out, const char *dir, rstatus *st);
/* Accepts NULL. */
void ledger_free(struct ledger *l);

/* Record / forget a process group led by `pid`. Best effort: a failure to
 * record never stops a command from running. No-ops on a NULL ledger (no
 * state directory). */
void ledger_add(struct ledger *l, pid_t pid);
void ledger_remove(struct ledger *l, pid_t pid);

#endif
