/* control_plane.h — what no sandbox may ever reach: runnerd's own unix
 * sockets (its request and stream listeners) and its state directory, and
 * the container engines' sockets (docker, containerd, podman, ...). A
 * command that reaches any of them controls the host: runnerd's socket runs
 * commands unsandboxed, the engine's starts privileged containers.
 *
 * The sandbox backends hide these paths in every sandbox (firejail:
 * blacklists; docker: mounts that would show them are refused) and refuse
 * a profile whose rules name them. The same module lists the host's bound
 * filesystem unix sockets, for profiles that may use some unix sockets and
 * must not see the others.
 */
#ifndef RUNNER_CONTROL_PLANE_H
#define RUNNER_CONTROL_PLANE_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>

#include "backend.h"

/* Take runnerd's own paths from its start-up configuration (copied; the
 * last call wins). Before any call, only the engines' paths are known. */
void control_plane_configure(const struct backend_config *cfg);

/* One protected path: absolute, symlinks in its existing part resolved. */
struct control_path {
	char path[PATH_MAX];
	const char *what; /* "runnerd's own request socket", "a container engine's socket", ... */
	bool exists;      /* now, on this host */
};

/* The protected paths: runnerd's, and the engines' that exist now. An
 * array of *n (free() it); NULL only when out of memory. */
struct control_path *control_plane_paths(size_t *n);

/* Whether `path` is a protected path or lies inside one, or with
 * `or_above` also whether it contains one (a bind mount of `path` would
 * show it); the first such path goes to *found. `path` is resolved as
 * control_plane_resolve does first. */
bool control_plane_touched_by(const char *path, bool or_above, struct control_path *found);

/* The host's bound filesystem unix sockets now, as /proc/net/unix lists
 * them for runnerd's network namespace: absolute, each a socket on this
 * filesystem, without duplicates. A NULL-terminated array in one
 * allocation (free() it); NULL with errno on failure. */
char **host_unix_sockets(void);

/* `path` with symlinks resolved as far as it exists, into out (PATH_MAX):
 * what a sandbox rule or bind mount of `path` refers to. */
void control_plane_resolve(const char *path, char *out, size_t outlen);

#endif
