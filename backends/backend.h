/* backend.h — how a command becomes a process: one vtable per backend,
 * looked up by name ("exec", "firejail", "docker").
 *
 * A backend turns a validated command into a launch plan (what to execve,
 * with which environment and cwd) and undoes whatever the plan created
 * (temp profiles, containers) once the process is gone. The service layer
 * owns the process itself: spawning through spawn_child.h, pipes,
 * timeouts and reaping are the same for every backend.
 */
#ifndef RUNNER_BACKEND_H
#define RUNNER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "command.h"
#include "policy.h"
#include "status.h"
#include "user_ids.h"

struct job_cgroup;

/* What a wrapper's own report says about the command it ran, replacing
 * what the wrapper's wait status and rusage say (see backend_launch.exited). */
struct backend_outcome {
	int wstatus;          /* in: the wrapper's wait status; out: the command's */
	bool exec_failed;     /* out: the command never ran (exec_error says why) */
	int exec_errno;       /* out, with exec_failed (0: not an errno failure) */
	char exec_error[200]; /* out, with exec_failed */
	bool have_usage;      /* out: the command's own CPU time and peak RSS */
	uint64_t user_us, system_us, max_rss_kb;
	bool oom_killed;      /* out: the kernel's OOM killer ended it (or part of it) */
};

struct backend_launch {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	/* The launched program is a wrapper (a sandbox) whose own exit status
	 * hides the command's: the command's real wait status arrives on fd 3
	 * from status_shim (see status_shim.h). */
	bool status_channel;
	/* Set by prepare when it already knows the command's program cannot
	 * be executed (it resolved argv[0] itself, before wrapping it): an
	 * errno (ENOENT, EACCES, ...) and the message spawn_child would give
	 * ("execve NAME: ..."). Nothing is started; the job reports
	 * EXEC_FAILED exactly as for a direct spawn. 0: start argv. */
	int exec_errno;
	const char *exec_error;
	/* Optional, called on the loop thread, never blocking: the launched
	 * process was reaped (`out` holds its wait status, which the backend
	 * may replace with what its wrapper reported), or there is nothing to
	 * learn (`out` NULL): the job is being freed while the process still
	 * runs (it has been SIGKILLed), or the status channel already reported
	 * an exec failure. A
	 * wrapper that leaves something running when it is killed (a
	 * container) cleans that up here, at once, rather than at release. The
	 * launch must outlive the job that runs it. */
	void (*exited)(const struct backend_launch *launch, struct backend_outcome *out);
	/* A process the backend started ahead of time (a pooled container's
	 * CLI): adopt_pid > 0 means the job spawns nothing and takes over this
	 * child (its own process group) and its pipe ends adopt_fds (stdin,
	 * stdout, stderr): job_start takes them (and sets them to -1 here),
	 * release closes any still here (no job ever started). `preamble` is
	 * written to its stdin before anything else. */
	pid_t adopt_pid;
	int adopt_fds[3];
	const void *preamble;
	size_t preamble_len;
	/* With a terminal (command.tty_rows > 0), who makes it (pty.h):
	 *   LAUNCH_TTY_HERE: the job opens a pty; the launched program (the
	 *     command itself) gets the slave as fds 0-2 and as the controlling
	 *     terminal of its new session (the spawner's SPAWN_CTTY);
	 *   LAUNCH_TTY_WRAPPED: the job opens a pty in raw mode (it carries
	 *     bytes unchanged) and gives the slave to the wrapper as fds 0-2,
	 *     nobody's controlling terminal; the wrapper gives the command a
	 *     terminal of its own and relays between the two, following this
	 *     one's window size when the job sends it SIGWINCH after a resize
	 *     (firejail: runnerd-status --tty inside the sandbox);
	 *   LAUNCH_TTY_INSIDE: the wrapper makes the terminal (docker: inside
	 *     the container) and relays it on the pipes the job gives it as to
	 *     any command: its stdout is what the terminal shows, its stdin
	 *     what is typed, its stderr the wrapper's own messages; `resize`
	 *     hands a new window size over, and the job then sends SIGWINCH to
	 *     the wrapper, which applies it. */
	enum launch_tty { LAUNCH_TTY_HERE, LAUNCH_TTY_WRAPPED, LAUNCH_TTY_INSIDE } tty;
	int (*resize)(const struct backend_launch *launch, unsigned rows, unsigned cols, rstatus *st);
	/* What the launched program gets between fork and exec (the spawner
	 * does it, in this order: cgroups, rlimits, user; spawner_wire.h). */
	struct launch_setup {
		struct job_cgroup *cgroup;  /* joined; killed with the job's tree */
		struct {
			int resource;       /* RLIMIT_* */
			uint64_t value;     /* soft and hard */
		} rlimits[8];
		size_t n_rlimits;
		bool set_ids;               /* switch to ids (user_ids.h) */
		struct user_ids ids;
	} setup;
	void *priv; /* the backend's own state, released by ->release */
};

/* What runnerd tells every backend once, at start-up (backend_ops.init). */
struct backend_config {
	/* Stable across restarts of the same runnerd (derived from its state
	 * directory, else its first listen address), so that what a SIGKILLed
	 * predecessor left (containers) can be found: 16 hex digits. */
	const char *instance;
	const char *state_dir; /* NULL: none */
	/* runnerd's own unix sockets, NULL-terminated path lists (NULL: none):
	 * no sandbox may reach them (control_plane.h). */
	const char *const *request_sockets;
	const char *const *stream_sockets;
};

struct backend_ops {
	const char *name;
	/* Can this backend run here? 0, or fills st (FAILED_PRECONDITION /
	 * UNAVAILABLE) with why not. Each call looks afresh and may block
	 * (bounded: it may start a sandbox); runnerd calls it at start-up and
	 * then from its probe thread, never on the loop, and requests and
	 * Health read the last verdict (service/core/probes.h). */
	int (*probe)(rstatus *st);
	/* How long a verdict of probe holds before runnerd probes again: a
	 * success probe_ok_ms, a failure probe_failed_ms; 0: for good. */
	unsigned probe_ok_ms, probe_failed_ms;
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
	/* Optional: take runnerd's configuration, once, before profiles are
	 * loaded and before probe is first called. Cheap: no I/O beyond stat. */
	void (*init)(const struct backend_config *cfg);
	/* Optional: at start-up, before serving (never for --check-config),
	 * remove what a previous runnerd of the same instance left behind.
	 * Returns how many it removed (>= 0), or fills st. May block, bounded. */
	int (*recover)(rstatus *st);
};

/* NULL when no backend has that name. */
const struct backend_ops *backend_find(const char *name);

/* Every backend built in, for Health and startup probes. */
const struct backend_ops *const *backend_all(size_t *count);

/* Give runnerd's configuration to every backend (their init) and to the
 * control plane's protection (control_plane.h), once, at start-up. */
void backend_init_all(const struct backend_config *cfg);

#endif
