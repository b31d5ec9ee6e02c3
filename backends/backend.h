/* backend.h — how a command becomes a process: one vtable per backend,
 * looked up by name ("exec", later "firejail", "docker").
 *
 * A backend turns a validated command into a launch plan (what to execve,
 * with which environment and cwd) and undoes whatever the plan created
 * (temp profiles, containers) once the process is gone. The service layer
 * owns the process itself: spawning through spawn.h, pipes, timeouts and
 * reaping are the same for every backend.
 */
#ifndef RUNNER_BACKEND_H
#define RUNNER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "command.h"
#include "policy.h"
#include "status.h"

struct backend_launch {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	/* The launched program is a wrapper (a sandbox) whose own exit status
	 * hides the command's: the command's real wait status arrives on fd 3
	 * from status_shim (see status_shim.h). */
	bool status_channel;
	void *priv; /* the backend's own state, released by ->release */
};

struct backend_ops {
	const char *name;
	/* Can this backend run here? 0, or fills st (FAILED_PRECONDITION /
	 * UNAVAILABLE) with why not. Called at startup and by Health. */
	int (*probe)(rstatus *st);
	/* Can this backend enforce every rule of `p`? 0, or FAILED_PRECONDITION
	 * naming the first rule it cannot enforce. Called at config load, so a
	 * profile is refused rather than a rule silently ignored. */
	int (*check)(const struct policy *p, rstatus *st);
	/* Build the launch plan for `cmd` under `p`; both outlive the plan. */
	int (*prepare)(const struct command *cmd, const struct policy *p, struct backend_launch *out,
		       rstatus *st);
	/* Undo prepare, after the process is reaped or failed to start; must
	 * accept a plan whose prepare failed half-way. */
	void (*release)(struct backend_launch *launch);
};

/* NULL when no backend has that name. */
const struct backend_ops *backend_find(const char *name);

/* Every backend built in, for Health and startup probes. */
const struct backend_ops *const *backend_all(size_t *count);

#endif
