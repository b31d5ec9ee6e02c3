/* spawner_wire.h — the messages between runnerd and runnerd-spawner.
 *
 * runnerd does not create job processes itself: a spawner process does
 * (spawner_main.c). It is a small single-threaded program with a handful of
 * fds and a few hundred KiB of memory, so that
 *   - spawning costs the same with 10 live sessions or 10,000 (the kernel
 *     copies the parent's fd table for every child; runnerd's grows with
 *     sessions, the spawner's does not),
 *   - a child's ru_maxrss is its own peak: a vfork child inherits its
 *     parent's RSS high-water mark at exec, and the spawner's is tiny,
 *   - a child can join cgroups, take rlimits and drop privileges between
 *     fork and exec in plain code (the spawner has no threads, so nothing
 *     but the child runs in its memory meanwhile),
 *   - several spawns proceed in parallel (runnerd starts one spawner per
 *     CPU) while runnerd's loop goes on serving.
 *
 * The channel is a SOCK_STREAM unix socketpair. Every message is a header
 * followed by `len` body bytes; fds travel as SCM_RIGHTS with the message
 * that names them (a SPAWN request carries the fds its fd_map uses; SPAWNED
 * and FD replies carry runnerd's ends of the pipes the spawner made). All
 * integers are in host order: both ends are on the same machine, built from
 * the same tree.
 *
 * Pipes. A SPAWN may ask the spawner to make the child's stdio pipes
 * (fd_map SPAWNER_FD_PIPE): the child gets one end, runnerd the other,
 * non-blocking. runnerd's end comes back with SPAWNED, or, for the ends in
 * the request's `park` mask, stays in the spawner until it is wanted: an
 * output end (1-3) comes back by itself (FD) once it is readable or hung
 * up, stdin's (0) when runnerd asks for it (TAKE). So an idle session costs
 * runnerd one fd (its stdout), not three: 10,000 of them fit a 20,000-fd
 * limit. The spawner keeps what it parks above SPAWNER_PARK_BASE and makes
 * children sharing its fd table until they unshare just the low fds they
 * need, so its parked fds cost a spawn nothing either.
 *
 * runnerd → spawner:
 *   SPAWN   id, body = spawner_req (encoded by spawner_req_encode)
 *   SIGNAL  id, body = int32 signal: to the child's process group (or the
 *           child alone without SPAWN_SETSID) while it is not yet reaped;
 *           a no-op afterwards, so a recycled pid is never hit.
 *   TAKE    id, body = uint32 fd: send runnerd's parked end of that fd (FD)
 *   DROP    id, body = uint32 fd: close runnerd's parked end of that fd
 *   FORGET  id: runnerd no longer cares: close every end parked for it
 * spawner → runnerd:
 *   SPAWNED id, body = int32 pid, uint32 mask: runnerd's pipe ends for the
 *           child fds in `mask` are attached, in increasing fd order
 *   FAILED  id, body = int32 stage, int32 errno: the child never ran the
 *           program (stage says which step failed); it is reaped already,
 *           and every pipe made for it closed
 *   EXITED  id, body = spawner_exit: the child was reaped (after its group
 *           was killed, with SPAWN_KILL_GROUP)
 *   FD      id, body = spawner_fd: a parked end, attached, leaves the
 *           spawner (or, with SPAWNER_FD_CLOSED, no fd: the end is gone —
 *           an output pipe that hung up empty, or one never parked)
 *
 * When runnerd's end closes (runnerd exited or was killed), the spawner
 * kills every child's process group and cgroups it still has, reaps them
 * and exits: nothing outlives runnerd for long.
 */
#ifndef RUNNER_SPAWNER_WIRE_H
#define RUNNER_SPAWNER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum spawner_msg {
	SPAWNER_SPAWN = 1,
	SPAWNER_SIGNAL = 2,
	SPAWNER_SPAWNED = 3,
	SPAWNER_FAILED = 4,
	SPAWNER_EXITED = 5,
	SPAWNER_TAKE = 6,
	SPAWNER_DROP = 7,
	SPAWNER_FORGET = 8,
	SPAWNER_FD = 9,
};

struct spawner_hdr {
	uint32_t type; /* enum spawner_msg */
	uint32_t len;  /* body bytes that follow */
	uint64_t id;   /* chosen by runnerd, echoed in every reply */
};

/* A SPAWN body is at most this long (argv + env are bounded far below by
 * runnerd's request size; this only bounds what the spawner allocates). */
#define SPAWNER_MAX_BODY (16u << 20)
#define SPAWNER_MAX_GROUPS 64
#define SPAWNER_MAX_RLIMITS 16
#define SPAWNER_MAX_CGROUPS 8

enum spawner_flags {
	SPAWN_SETSID = 1u << 0,     /* a new session: the child leads its own group */
	SPAWN_KILL_GROUP = 1u << 1, /* when it exits, SIGKILL what it left in its group */
	SPAWN_SET_IDS = 1u << 2,    /* setgroups/setresgid/setresuid before exec */
	SPAWN_NO_NEW_PRIVS = 1u << 3,
	/* fd 0 is a terminal (a pty slave): make it the controlling terminal
	 * of the child's new session (needs SPAWN_SETSID), so that the child's
	 * group is its foreground group: ^C, ^Z and SIGWINCH reach it. */
	SPAWN_CTTY = 1u << 4,
};

/* Which step of preparing the child failed (FAILED). */
enum spawner_stage {
	STAGE_SPAWN = 1, /* vfork itself: no child */
	STAGE_CGROUP,
	STAGE_RLIMIT,
	STAGE_CHDIR,
	STAGE_IDS,
	STAGE_FDS,
	STAGE_EXEC,
	STAGE_CTTY, /* TIOCSCTTY on fd 0 (SPAWN_CTTY) */
};

struct spawner_rlimit {
	uint32_t resource; /* RLIMIT_* */
	uint64_t cur, max;
};

/* fd_map: the spawner makes a pipe (see the top of this file). */
#define SPAWNER_FD_PIPE (-2)
/* Parked ends are kept at or above this fd number, children's stdio
 * sources below it. */
#define SPAWNER_PARK_BASE 1024

/* Where each of the child's fds 0-3 comes from: the n-th fd passed with
 * the request (0..3), SPAWNER_FD_PIPE, or -1: /dev/null for 0-2, nothing
 * for 3. `park`: bit t set keeps runnerd's end of pipe t in the spawner
 * until wanted (only for SPAWNER_FD_PIPE entries). */
struct spawner_req {
	uint32_t flags;
	int8_t fd_map[4];
	uint32_t park;
	uint32_t uid, gid;
	uint32_t n_groups;
	uint32_t groups[SPAWNER_MAX_GROUPS];
	uint32_t n_rlimits;
	struct spawner_rlimit rlimits[SPAWNER_MAX_RLIMITS];
	const char *path;    /* what to execve: already resolved */
	const char *cwd;     /* NULL: the spawner's ("/") */
	char *const *argv;   /* NULL-terminated */
	char *const *envp;   /* NULL-terminated */
	/* cgroup directories the child joins (writes itself to cgroup.procs)
	 * before anything else; at most SPAWNER_MAX_CGROUPS. */
	const char *const *cgroups;
	uint32_t n_cgroups;
};

/* FD body. */
#define SPAWNER_FD_CLOSED 1u /* no fd attached: that end is gone */
struct spawner_fd {
	uint32_t fd; /* which of the child's fds (0-3) the end belongs to */
	uint32_t flags;
};

struct spawner_exit {
	int32_t wstatus;
	uint32_t pad;
	uint64_t user_us, system_us, max_rss_kb;
};

/* Encode `req` into a malloc'ed body; returns its length, or 0 when it
 * does not fit SPAWNER_MAX_BODY or memory ran out. */
size_t spawner_req_encode(const struct spawner_req *req, uint8_t **out);

/* Decode a body in place: strings point into `body`, which must stay;
 * arrays (argv, envp, cgroups) are malloc'ed into *owned (free it). Returns
 * false on any malformed input. */
bool spawner_req_decode(uint8_t *body, size_t len, struct spawner_req *req, void **owned);

/* "cgroup", "setrlimit", ... for messages. */
const char *spawner_stage_name(int stage);

#endif
