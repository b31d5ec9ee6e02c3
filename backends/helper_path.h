/* helper_path.h — where runnerd finds its helper executables, built and
 * installed with it: the programs it starts inside sandboxes and
 * containers (runnerd-status, runnerd-docker-init) and the one that
 * creates its commands (runnerd-spawner).
 *
 * Search order, first hit wins:
 *   1. the directory of the running executable (/proc/self/exe): the
 *      build tree keeps the helpers beside runnerd in service/;
 *   2. ../libexec/runnerd from there: an install moved as a whole (a
 *      prefix other than the one it was built for);
 *   3. RUNNERD_LIBEXECDIR, fixed at build time (the install's
 *      libexec/runnerd).
 * Never PATH and never the environment: a helper runs inside every
 * sandbox, so where it comes from is not the caller's to choose.
 */
#ifndef RUNNER_HELPER_PATH_H
#define RUNNER_HELPER_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* Find helper `name` (a bare file name) in the order above; a candidate
 * must be an executable regular file and, when `accept` is given, pass
 * it. 0 with the absolute path in `out`, or FAILED_PRECONDITION naming
 * both places searched. */
int helper_path(const char *name, bool (*accept)(const char *path), char *out, size_t outlen, rstatus *st);

/* An absolute path to an executable regular file (follows symlinks). */
bool helper_is_executable(const char *path);

#endif
