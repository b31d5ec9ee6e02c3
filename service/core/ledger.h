/* ledger.h — a record on disk of the process groups runnerd has running,
 * so that a runnerd killed with SIGKILL leaves nothing running for long:
 * the next runnerd on the same state directory kills what its predecessor
 * left.
 *
 * One append-only file records each process group when it is spawned (pid
 * and spawn time) and when it is reaped — one write each — and is emptied
 * whenever nothing runs. The spawn time, compared with the process's start
 * time at recovery, guards against a recycled pid. PR_SET_PDEATHSIG is no substitute: it
 * covers only the direct child, and a setuid exec (firejail) clears it.
 */
#ifndef RUNNER_LEDGER_H
#define RUNNER_LEDGER_H

#include <sys/types.h>

#include "status.h"

/* Use `dir` (created 0700 if missing) and kill every group recorded there
 * whose leader still runs with the recorded start time. Returns the number
 * of groups killed, or a negative value. */
int ledger_open(const char *dir, rstatus *st);

/* Record / forget a process group led by `pid`. Best effort: a failure to
 * record never stops a command from running. No-ops before ledger_open. */
void ledger_add(pid_t pid);
void ledger_remove(pid_t pid);

#endif
