/* firejail.h — knobs of the firejail backend (backend_firejail in
 * registry.c) that are not part of the backend vtable. */
#ifndef RUNNER_FIREJAIL_H
#define RUNNER_FIREJAIL_H

#include <stdbool.h>

/* Use this runnerd-status instead of looking for one beside runnerd's own
 * executable or in the install libexec directory; NULL: look again. The
 * string is copied. For tests and unusual installs. */
void firejail_set_shim_path(const char *path);

/* Use this firejail executable (an absolute path) instead of the one found
 * on the fixed PATH; NULL: search again. Forgets the last probe's verdict
 * (and drops that of a probe of the old one still running). For tests. */
void firejail_set_program(const char *path);

/* Whether the process limit may use a pids cgroup per run (the default,
 * where one can be made) or must fall back to RLIMIT_NPROC. For tests. */
void firejail_use_pids_cgroup(bool use);

/* Whether Landlock may scope abstract unix sockets where the kernel can
 * (the default), or must be taken as missing: then a profile listing unix
 * sockets with the network allowed is refused. For tests. */
void firejail_use_landlock(bool use);

#endif
