/* status_shim.h — the record runnerd-status writes on its status fd.
 *
 * A sandbox wrapper such as firejail reports "128+N" for a command killed
 * by signal N, indistinguishable from a command that exited 128+N, and an
 * exec failure inside the sandbox as some exit code. So inside the sandbox
 * runnerd runs `runnerd-status FD -- PROGRAM ARGS...`, which starts the
 * program, waits for it, and writes one line to FD before exiting the same
 * way the program did:
 *
 *   "status W\n"   W = the raw wait status (WIFEXITED/WIFSIGNALED apply)
 *   "exec E\n"     the program could not be executed: errno E
 *
 * runnerd trusts the line only from its own shim on its own pipe.
 */
#ifndef RUNNER_STATUS_SHIM_H
#define RUNNER_STATUS_SHIM_H

#include <stdbool.h>

/* Parse a record; returns true and sets *is_exec and *value on success. */
bool status_record_parse(const char *buf, bool *is_exec, int *value);

#endif
