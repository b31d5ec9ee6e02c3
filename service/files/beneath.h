/* beneath.h — paths resolved beneath a root directory, with no way out.
 *
 * Every file operation opens its root for the request (beneath_root) and
 * walks from there with one openat2(2) call (beneath_open, beneath_parent),
 * so the kernel checks each step of the walk as it takes it:
 *
 *   RESOLVE_BENEATH        the walk never leaves the root: "..", an
 *                          absolute symlink, a symlink whose target climbs
 *                          out all fail (EXDEV) — also when swapped in
 *                          while the walk runs (no check-then-use window);
 *   RESOLVE_NO_MAGICLINKS  /proc/PID/root, /proc/PID/fd/N and the like are
 *                          never followed (ELOOP).
 *
 * RESOLVE_BENEATH rather than RESOLVE_IN_ROOT: IN_ROOT would re-anchor an
 * absolute symlink at the root, so a link to /etc/passwd would silently
 * mean ROOT/etc/passwd — right for a chroot, wrong for a workspace, where
 * such a link is a mistake or an attack: refusing it is clearer. And
 * rather than RESOLVE_NO_SYMLINKS everywhere: symlinks inside a workspace
 * that stay inside it (node_modules/.bin, a "current" link) keep working.
 * Where a walk must never pass a symlink at all (descending a tree to list
 * or remove it, temporary files) the callers add RESOLVE_NO_SYMLINKS.
 *
 * The root itself is opened with RESOLVE_NO_SYMLINKS: its path was
 * resolved when the profile or the parameter was checked, so a symlink in
 * it now means it was swapped since; that is refused, not followed.
 *
 * Every function here runs on a file worker, as the request's user.
 */
#ifndef RUNNER_FILES_BENEATH_H
#define RUNNER_FILES_BENEATH_H

#include <limits.h>
#include <stdint.h>

#include "status.h"

#define BENEATH_FLAGS_STRICT 1 /* beneath_open: no symlink at all on the walk */

/* Open the root `host` (O_PATH | O_DIRECTORY); `shown` names it in errors
 * (the path as the request knows it). */
int beneath_root(const char *host, const char *shown, int *fd, rstatus *st);

/* openat2(dirfd, rel, flags, mode) beneath dirfd (O_CLOEXEC added);
 * `strict`: no symlinks on the walk either. Errors name `shown`. */
int beneath_open(int dirfd, const char *rel, int flags, unsigned mode, int strict, const char *shown,
		 int *fd, rstatus *st);

/* The parent directory of `rel` (O_PATH) and its last component.
 * PERMISSION_DENIED when `rel` is "." (the root has no parent here). */
int beneath_parent(int rootfd, const char *rel, const char *shown, int *dirfd, char name[NAME_MAX + 1],
		   rstatus *st);

/* A status for errno `err` met on `shown` while doing `what` ("open",
 * "read", ...): NOT_FOUND, PERMISSION_DENIED, ALREADY_EXISTS,
 * FAILED_PRECONDITION, RESOURCE_EXHAUSTED, ... with a message saying
 * which. Returns the negative code. */
int files_errno(rstatus *st, int err, const char *shown, const char *what);

#endif
