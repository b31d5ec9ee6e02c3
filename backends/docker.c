/* The docker backend: the command runs in a fresh container of the
 * profile's image, started by the docker CLI as the job's own child:
 *
 *   docker run -i --rm --name=runnerd-<instance>-<job> --label=... [policy
 *     flags...] --entrypoint=/.runnerd/init IMAGE /.runnerd/status
 *     [RLIMIT=N...] -- ARGV...
 *
 * Why the CLI, not the engine API: `docker run -i` is a process with
 * stdin, stdout and stderr, so runnerd's pipes, capture caps, stream
 * buffers and backpressure, timeouts and reaping work exactly as for exec
 * (a slow reader blocks the CLI, which stops reading the attach stream,
 * which blocks the container). Speaking the API ourselves would mean an
 * HTTP client, the hijacked attach protocol and its stream framing inside
 * runnerd's loop, for a saving of one process start. What the CLI cannot
 * do alone is covered here:
 *
 * - Exact outcome. `docker run` (and `docker inspect`) report 128+N for a
 *   command killed by signal N, and docker's own failures as 125-127. So
 *   the container's PID 1 is runnerd-docker-init (docker_init.c),
 *   statically linked and bind-mounted read-only; it writes the command's
 *   raw wait status, its CPU time and peak RSS, and the memory cgroup's
 *   OOM-kill count to a per-run host file bind-mounted at /.runnerd/status.
 *   After the CLI is reaped, `exited` reads that file (a local read, no
 *   docker round trip) and replaces the CLI's status with it. No record
 *   and an exit of 125-127 means docker never started the command
 *   (missing image, bad option): EXEC_FAILED, docker's message on stderr.
 * - Signals. The CLI proxies the signals it gets (SIGTERM at a timeout,
 *   Signal, shutdown) to PID 1, which forwards them to the command's
 *   process group.
 * - Cleanup. Killing the CLI (SIGKILL after the grace, a client's
 *   SIGKILL, a job freed while running) does not stop the container.
 *   Whenever the CLI ends without the container having reported its end,
 *   `docker rm -f NAME` is started in the background (never waited for:
 *   the loop thread must not block on the engine; runnerd reaps it like
 *   any child). A container that did report has exited, and the engine
 *   removes it itself (--rm is the engine's AutoRemove). At start-up,
 *   `recover` removes every container labelled with this runnerd's
 *   instance id, which is stable across restarts, so a SIGKILLed
 *   runnerd's containers go with its next start.
 *
 * - No control plane (control_plane.h). The container has a network
 *   namespace of its own (none or the bridge), so the host's abstract
 *   sockets are out of reach, and host files come in only through bind
 *   mounts: one that would show runnerd's sockets or state directory or an
 *   engine's sockets is refused (check at load; container_flags once
 *   templates are expanded). Unless the policy lists unix_sockets, the init
 *   lets the command create no unix socket (a seccomp filter of its own,
 *   stacked on docker's: --security-opt seccomp= would replace docker's);
 *   with them it passes --allow-unix, the listed sockets are bind-mounted,
 *   and any other host socket a mount shows is covered by an empty file.
 * - A terminal. `docker run -t` would make the CLI want a terminal of its
 *   own and stop passing signals on (--sig-proxy is off with -t), and a
 *   pooled container, created before the request, could not have one. So
 *   the CLI stays `docker run -i` on pipes, and the init gives the command
 *   a pty inside the container (docker_init.c --tty) and relays it over
 *   its stdin and stdout; the window size travels in a file and SIGWINCH
 *   (see write_window). Status, signals and cleanup stay as above.
 *
 * Client text never becomes a docker option: every value travels as its
 * own argv element glued to its flag ("--env=NAME=VALUE",
 * "--workdir=PATH"), the image comes from the profile, the command comes
 * after the image and after the init's "--". Values inside --mount's
 * comma-separated syntax (paths) are refused if they contain ',' or '"'.
 * The CLI gets a fixed environment of ours and an empty config directory
 * (no ~/.docker/config.json proxies or credential helpers).
 *
 * Note: environment values appear in the CLI's command line, which other
 * users on the host can read in /proc (mount /proc with hidepid=2 where
 * that matters); they are in `docker inspect` anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv_build.h"
#include "backend.h"
#include "control_plane.h"
#include "docker_pool.h"
#include "helper_path.h"
#include "spawn_child.h"
#include "spawn_sync.h"

#define INIT_NAME "runnerd-docker-init"
#define TOOL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_SOCKET "/var/run/docker.sock"
#define IN_INIT "/.runnerd/init"
#define IN_STATUS "/.runnerd/status"
#define IN_TTY "/.runnerd/tty"
#define RECOVER_TIMEOUT_MS 30000
/* How long a probe's verdict holds: the engine may stop or come back. */
#define PROBE_VALID_MS 1000

struct docker_run {
	struct argv_build args; /* the CLI's argv */
	char name[96];      /* the container's name */
	char status_path[PATH_MAX];
	bool status_created;
	char tty_dir[PATH_MAX - 8]; /* a terminal's window size for the init; "": none */
	bool complete;      /* argv is whole: a container may exist */
	bool handled;       /* its end was seen (or cleanup already started) */
	size_t flags_from, flags_to; /* argv[from..to): container_flags */
	char *signature;    /* pooled: its container flags and image, joined */
	char *header;       /* pooled, adopted: the request (docker_init.c) */
	size_t header_len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char instance[17] = "0000000000000000";
static char state_dir[PATH_MAX - 64];
static char work_dir[PATH_MAX - 32]; /* status files and the CLI's config dir */
static bool work_dir_ready;
static char docker_path[PATH_MAX]; /* "" : not found */
static char init_path[PATH_MAX];   /* "" : not found */
static char init_missing[PATH_MAX + 256];
static char socket_path[sizeof(((struct sockaddr_un *) 0)->sun_path)]; /* "": not unix */
static char *cli_env[8];
static docker_pool_take_fn pool_take;

#define POOL_HEADER_LIMIT 16384 /* fits an empty pipe whole */

/* --- small helpers ------------------------------------------------------- */

/* Text that goes inside --mount's comma-separated value (paths): none of
 * its separators or quotes, no control characters. */
static bool
mount_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f || *s == ',' || *s == '"')
			return false;
	return true;
}

/* Start argv in the background with /dev/null for 0-2; nobody waits for
 * it but runnerd's reaper, which reaps every child. */
static void
spawn_detached(char *const *argv)
{
	struct spawn_request sr = {
		.argv = argv, .envp = cli_env, .cwd = "/",
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .status_fd = -1,
	};
	rstatus st;
	pid_t pid;
	int err;

	(void) spawn_child(&sr, &pid, &err, &st);
}

static void
remove_container(struct docker_run *r)
{
	char *argv[] = { docker_path, "rm", "-f", r->name, NULL };

	if (r->handled || !r->complete)
		return;
	r->handled = true;
	spawn_detached(argv);
}

/* --- configuration ------------------------------------------------------- */

/* runnerd-docker-init where helper_path finds it, at a path --mount can
 * carry. */
static void
find_init(void)
{
	rstatus why;

	init_missing[0] = '\0';
	if (helper_path(INIT_NAME, mount_safe, init_path, sizeof(init_path), &why) < 0)
		snprintf(init_missing, sizeof(init_missing), "docker: %s", why.message);
}

static void
docker_init(const struct backend_config *cfg)
{
	char *tool_env[] = { "PATH=" TOOL_PATH, NULL };
	const char *host = getenv("DOCKER_HOST"), *prog = getenv("RUNNERD_DOCKER");
	size_t n = 0;

	pthread_mutex_lock(&lock);
	snprintf(instance, sizeof(instance), "%s", cfg->instance);
	snprintf(state_dir, sizeof(state_dir), "%s", cfg->state_dir ? cfg->state_dir : "");
	/* The CLI: RUNNERD_DOCKER (an absolute path), else the fixed tool PATH,
	 * never the daemon's own PATH. */
	if (prog != NULL && prog[0] == '/') {
		snprintf(docker_path, sizeof(docker_path), "%s", prog);
		if (!helper_is_executable(docker_path))
			docker_path[0] = '\0';
	} else if (spawn_resolve("docker", tool_env, NULL, docker_path, sizeof(docker_path)) != 0) {
		docker_path[0] = '\0';
	}
	find_init();
	/* The engine's socket, for the probe: DOCKER_HOST=unix://PATH or the
	 * default; another scheme is not probed here (the CLI reports). */
	if (host == NULL || host[0] == '\0')
		snprintf(socket_path, sizeof(socket_path), "%s", DEFAULT_SOCKET);
	else if (strncmp(host, "unix://", 7) == 0)
		snprintf(socket_path, sizeof(socket_path), "%s", host + 7);
	else
		socket_path[0] = '\0';
	/* What the CLI sees of the environment: ours, fixed. */
	for (char **e = cli_env; *e; e++)
		free(*e);
	memset(cli_env, 0, sizeof(cli_env));
	cli_env[n++] = strdup("PATH=" TOOL_PATH);
	cli_env[n++] = strdup("HOME=/");
	if (host != NULL && host[0] != '\0' && asprintf(&cli_env[n], "DOCKER_HOST=%s", host) > 0)
		n++;
	/* DOCKER_CONFIG is added once the work directory exists. */
	work_dir_ready = false;
	pthread_mutex_unlock(&lock);
}

/* <state dir>/docker, else a private temporary directory: per-run status
 * files and the CLI's (empty) config directory. Created on first use. */
static int
ensure_work_dir(rstatus *st)
{
	char cfgdir[PATH_MAX + 16];
	size_t n = 0;
	int fd;

	if (work_dir_ready)
		return 0;
	if (state_dir[0] != '\0' && mount_safe(state_dir)) {
		snprintf(work_dir, sizeof(work_dir), "%s/docker", state_dir);
		(void) mkdir(state_dir, 0700);
		if (mkdir(work_dir, 0700) != 0 && errno != EEXIST)
			return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "docker: mkdir %s", work_dir);
	} else {
		snprintf(work_dir, sizeof(work_dir), "/tmp/runnerd-docker-XXXXXX");
		if (mkdtemp(work_dir) == NULL)
			return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "docker: mkdtemp");
	}
	/* What a host socket inside a mount is covered with (socket_mounts). */
	snprintf(cfgdir, sizeof(cfgdir), "%s/empty", work_dir);
	if ((fd = open(cfgdir, O_WRONLY | O_CREAT | O_CLOEXEC, 0444)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "docker: %s", cfgdir);
	close(fd);
	snprintf(cfgdir, sizeof(cfgdir), "%s/cli-config", work_dir);
	if (mkdir(cfgdir, 0700) != 0 && errno != EEXIST)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "docker: mkdir %s", cfgdir);
	while (cli_env[n] != NULL)
		n++;
	if (n + 1 < sizeof(cli_env) / sizeof(cli_env[0]) && asprintf(&cli_env[n], "DOCKER_CONFIG=%s", cfgdir) < 0)
		cli_env[n] = NULL;
	work_dir_ready = true;
	return 0;
}

/* --- probe and check ----------------------------------------------------- */

static int
engine_reachable(rstatus *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rv;

	if (socket_path[0] == '\0')
		return 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return rstatus_fail_errno(st, RS_UNAVAILABLE, errno, "docker: socket");
	rv = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
	if (rv != 0 && errno != EAGAIN && errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		return rstatus_fail_errno(st, RS_UNAVAILABLE, err,
					  "docker: the engine does not answer at unix://%s (start dockerd, e.g. "
					  "deploy/docker/ensure-engine.sh)",
					  socket_path);
	}
	close(fd);
	return 0;
}

/* The CLI and the init must be here (FAILED_PRECONDITION: this machine
 * cannot run the backend); the engine must answer (UNAVAILABLE: it may
 * come back): a connect() on its unix socket. */
static int
docker_probe(rstatus *st)
{
	int rv = 0;

	pthread_mutex_lock(&lock);
	if (docker_path[0] == '\0')
		rv = rstatus_fail(st, RS_FAILED_PRECONDITION,
				  "docker: no docker CLI (looked on " TOOL_PATH " and $RUNNERD_DOCKER)");
	else if (init_path[0] == '\0')
		rv = rstatus_fail(st, RS_FAILED_PRECONDITION, "%s", init_missing[0] ? init_missing : "docker: not initialised");
	else
		rv = engine_reachable(st);
	pthread_mutex_unlock(&lock);
	return rv;
}

static bool
within(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A hidden path must not be visible through a bind mount, nor home
 * directories when hide_home, nor runnerd's sockets and state directory
 * or a container engine's sockets ever (control_plane.h): the mount of
 * `source` (profile field `field`) would show whatever lies below it. */
static int
check_visibility(const struct policy *p, const char *field, const char *source, rstatus *st)
{
	const char *prof = p->profile ? p->profile : "?";
	struct control_path cp;

	for (char **h = p->hidden; h && *h; h++)
		if (within(*h, source))
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "profile %s: docker cannot hide %s inside the bind mount of %s", prof, *h,
					    source);
	if (p->hide_home && (within(source, "/home") || within(source, "/root") || within("/home", source) ||
			     within("/root", source)))
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: filesystem.hide_home, but %s is bind-mounted", prof, source);
	if (control_plane_touched_by(source, true, &cp))
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: %s: a bind mount of %s would expose %s (%s); no container may reach it",
				    prof, field, source, cp.path, cp.what);
	return 0;
}

static int
check_list(const struct policy *p, const char *field, char **list, rstatus *st)
{
	int rv;

	for (; list && *list; list++)
		if (strstr(*list, "{{") == NULL && (rv = check_visibility(p, field, *list, st)) < 0)
			return rv;
	return 0;
}

/* Everything a policy says can be enforced in a container; what the host
 * shows is only what is bind-mounted, so hidden paths, hide_home and the
 * control plane stay out unless a mount exposes them: such mounts are
 * refused here, and those that come from templates at prepare. */
static int
docker_check(const struct policy *p, rstatus *st)
{
	int rv;

	if (p->docker.image == NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "profile %s: backend docker needs docker.image",
				    p->profile ? p->profile : "?");
	for (char **u = p->unix_sockets; u && *u; u++)
		if ((*u)[0] != '/' || !mount_safe(*u))
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "profile %s: unix_sockets: \"%.200s\" is not an absolute path --mount can carry",
					    p->profile ? p->profile : "?", *u);
	if ((rv = check_list(p, "filesystem.read_only", p->read_only, st)) < 0 ||
	    (rv = check_list(p, "filesystem.read_write", p->read_write, st)) < 0 ||
	    (rv = check_list(p, "unix_sockets", p->unix_sockets, st)) < 0)
		return rv;
	for (size_t i = 0; p->docker.mounts && i < p->docker.n_mounts; i++)
		if (strstr(p->docker.mounts[i].source, "{{") == NULL &&
		    (rv = check_visibility(p, "docker.mounts.source", p->docker.mounts[i].source, st)) < 0)
			return rv;
	return 0;
}

/* --- prepare ------------------------------------------------------------- */

static int
bind_mount(struct docker_run *r, const char *source, const char *target, bool rw, rstatus *st)
{
	if (!mount_safe(source) || !mount_safe(target) || source[0] != '/' || target[0] != '/')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "docker: path \"%.200s\" cannot be mounted", source);
	return argv_add(&r->args, "--mount=type=bind,source=%s,target=%s%s", source, target, rw ? "" : ",readonly");
}

static int
tmpfs_mount(struct docker_run *r, const char *target, uint64_t size)
{
	if (size > 0)
		return argv_add(&r->args, "--mount=type=tmpfs,destination=%s,tmpfs-size=%llu", target, (unsigned long long) size);
	return argv_add(&r->args, "--mount=type=tmpfs,destination=%s", target);
}

/* An rlimit, set by the init (docker's --ulimit knows no RLIMIT_AS). */
static int
rlimit_arg(struct docker_run *r, const char *name, uint64_t v)
{
	if (v == 0)
		return 0;
	return argv_add(&r->args, "%s=%llu", name, (unsigned long long) v);
}

static int container_flags(struct docker_run *r, const struct policy *p, rstatus *st);

/* Append one argument to r's argv, or fail the enclosing function; both
 * argv builders below take `r` and `st`. */
#define PUSH(...)                                                                 \
	do {                                                                      \
		if (argv_add(&r->args, __VA_ARGS__) < 0)                          \
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory"); \
	} while (0)

/* cmd NULL: a pooled container's (docker_pool.h). */
static int
build_argv(struct docker_run *r, const struct command *cmd, const struct policy *p, const char *job,
	   rstatus *st)
{
	const struct policy_docker *dk = &p->docker;
	bool unix_ok = p->unix_sockets && p->unix_sockets[0];
	int rv = 0;

	PUSH("%s", docker_path);
	PUSH("run");
	PUSH("-i");
	PUSH("--rm");
	PUSH("--pull=never");
	PUSH("--name=%s", r->name);
	PUSH("--label=runnerd.instance=%s", instance);
	PUSH("--label=runnerd.session=%s", job);
	/* Output goes to runnerd only, never to a log file on the host. */
	PUSH("--log-driver=none");
	PUSH("--cap-drop=ALL");
	PUSH("--security-opt=no-new-privileges");
	PUSH("--entrypoint=" IN_INIT);
	if ((rv = bind_mount(r, init_path, IN_INIT, false, st)) < 0 ||
	    (rv = bind_mount(r, r->status_path, IN_STATUS, true, st)) < 0 ||
	    (r->tty_dir[0] != '\0' && (rv = bind_mount(r, r->tty_dir, IN_TTY, false, st)) < 0))
		return rv;
	r->flags_from = r->args.argc;
	if ((rv = container_flags(r, p, st)) < 0)
		return rv;
	r->flags_to = r->args.argc;
	if (cmd == NULL) {
		/* A pooled container: the request brings the rest (docker_init.c). */
		PUSH("--workdir=/");
		PUSH("%s", dk->image);
		PUSH(IN_STATUS);
		if (unix_ok)
			PUSH("--allow-unix");
		PUSH("--pool");
		return 0;
	}
	PUSH("--workdir=%s", cmd->cwd && cmd->cwd[0] ? cmd->cwd : "/");
	for (char **e = cmd->envp; e && *e; e++)
		PUSH("--env=%s", *e);
	PUSH("%s", dk->image);
	PUSH(IN_STATUS);
	if (unix_ok)
		PUSH("--allow-unix");
	if (cmd->tty_rows > 0)
		PUSH("--tty");
	if (rlimit_arg(r, "cpu", p->limits.cpu_seconds) < 0 || rlimit_arg(r, "as", p->limits.address_space) < 0 ||
	    rlimit_arg(r, "fsize", p->limits.file_size) < 0 || rlimit_arg(r, "nofile", p->limits.open_files) < 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	PUSH("--");
	for (char **a = cmd->argv; *a; a++)
		PUSH("%s", *a);
	return 0;
}

/* The mounts of `p` as host path -> container path pairs. */
static size_t
mount_pairs(const struct policy *p, const char **src, const char **dst, size_t max)
{
	size_t n = 0;

	for (char **v = p->read_only; v && *v && n < max; v++, n++)
		src[n] = dst[n] = *v;
	for (char **v = p->read_write; v && *v && n < max; v++, n++)
		src[n] = dst[n] = *v;
	for (size_t i = 0; i < p->docker.n_mounts && n < max; i++, n++) {
		src[n] = p->docker.mounts[i].source;
		dst[n] = p->docker.mounts[i].target;
	}
	return n;
}

/* Unix sockets allowed (the profile lists some): each listed socket that
 * exists is bind-mounted at its own path (read-only: connecting needs no
 * write access to the mount), and every other socket bound on the host
 * now that a mount would show gets an empty read-only file mounted over
 * it in the container. */
static int
socket_mounts(struct docker_run *r, const struct policy *p, rstatus *st)
{
	const char *src[2 * 256 + 64], *dst[2 * 256 + 64];
	size_t n = mount_pairs(p, src, dst, sizeof(src) / sizeof(src[0]));
	char **socks, empty[PATH_MAX + 8];
	struct stat sb;
	int rv = 0;

	for (char **u = p->unix_sockets; *u; u++)
		if (stat(*u, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
		    ((rv = check_visibility(p, "unix_sockets", *u, st)) < 0 || (rv = bind_mount(r, *u, *u, false, st)) < 0))
			return rv;
	if (n == 0)
		return 0;
	if ((socks = host_unix_sockets()) == NULL)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno,
					  "docker: cannot list the host's unix sockets (/proc/net/unix) to hide them");
	snprintf(empty, sizeof(empty), "%s/empty", work_dir);
	for (char **s = socks; *s && rv == 0; s++) {
		char real[PATH_MAX], listed_real[PATH_MAX];
		bool listed = false;

		control_plane_resolve(*s, real, sizeof(real));
		for (char **u = p->unix_sockets; *u && !listed; u++) {
			control_plane_resolve(*u, listed_real, sizeof(listed_real));
			listed = strcmp(listed_real, real) == 0;
		}
		for (size_t i = 0; i < n && rv == 0 && !listed; i++) {
			char target[PATH_MAX];
			if (!within(real, src[i]))
				continue;
			snprintf(target, sizeof(target), "%s%s", strcmp(dst[i], "/") == 0 ? "" : dst[i],
				 real + (strcmp(src[i], "/") == 0 ? 0 : strlen(src[i])));
			/* Fail closed: a socket that cannot be covered stays reachable. */
			if (!mount_safe(target))
				rv = rstatus_fail(st, RS_FAILED_PRECONDITION,
						  "docker: the host socket %.200s cannot be hidden in the container", real);
			else
				rv = bind_mount(r, empty, target, false, st);
		}
	}
	free(socks);
	return rv;
}

/* The tighter of two limits, 0 meaning none. */
static uint64_t
tighter(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 || a < b ? a : b;
}

/* Everything fixed when a container is created, from the policy alone:
 * what a pooled container bakes in, and what a request must match to use
 * one. */
static int
container_flags(struct docker_run *r, const struct policy *p, rstatus *st)
{
	const struct policy_docker *dk = &p->docker;
	uint64_t pids = dk->pids, memory, cpus;
	int rv = 0;

	PUSH("--network=%s", p->network ? "bridge" : "none");
	if (p->restrict_writes)
		PUSH("--read-only");
	if (p->private_tmp && tmpfs_mount(r, "/tmp", dk->tmpfs_size) < 0)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (char **t = dk->tmpfs; t && *t; t++) {
		if (p->private_tmp && strcmp(*t, "/tmp") == 0)
			continue;
		if (!mount_safe(*t))
			return rstatus_fail(st, RS_INVALID_ARGUMENT, "docker.tmpfs: \"%.200s\"", *t);
		if (tmpfs_mount(r, *t, dk->tmpfs_size) < 0)
			return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	/* Host paths the policy names appear at the same path. */
	for (char **v = p->read_only; v && *v; v++)
		if ((rv = check_visibility(p, "filesystem.read_only", *v, st)) < 0 ||
		    (rv = bind_mount(r, *v, *v, false, st)) < 0)
			return rv;
	for (char **v = p->read_write; v && *v; v++)
		if ((rv = check_visibility(p, "filesystem.read_write", *v, st)) < 0 ||
		    (rv = bind_mount(r, *v, *v, true, st)) < 0)
			return rv;
	for (size_t i = 0; i < dk->n_mounts; i++)
		if ((rv = check_visibility(p, "docker.mounts.source", dk->mounts[i].source, st)) < 0 ||
		    (rv = bind_mount(r, dk->mounts[i].source, dk->mounts[i].target, dk->mounts[i].rw, st)) < 0)
			return rv;
	if (p->unix_sockets && p->unix_sockets[0] && (rv = socket_mounts(r, p, st)) < 0)
		return rv;
	/* limits.memory/cpus and the docker mapping's own: the tighter. */
	memory = tighter(dk->memory, p->limits.memory);
	cpus = tighter(dk->cpus_milli, p->limits.cpus_milli);
	if (memory > 0) {
		/* Swap included: the limit is the limit, and an allocation past
		 * it ends in the OOM killer, not in swapping. */
		PUSH("--memory=%llu", (unsigned long long) memory);
		PUSH("--memory-swap=%llu", (unsigned long long) memory);
	}
	if (cpus > 0)
		PUSH("--cpus=%llu.%03llu", (unsigned long long) (cpus / 1000), (unsigned long long) (cpus % 1000));
	/* RLIMIT_NPROC counts a uid's processes host-wide; a container's own
	 * count is its pids cgroup. */
	if (p->limits.processes > 0 && (pids == 0 || p->limits.processes < pids))
		pids = p->limits.processes;
	if (pids > 0)
		PUSH("--pids-limit=%llu", (unsigned long long) pids);
	if (p->user != NULL)
		PUSH("--user=%s", p->user);
#undef PUSH
	return 0;
}

static void docker_exited(const struct backend_launch *launch, struct backend_outcome *out);
static int docker_resize(const struct backend_launch *launch, unsigned rows, unsigned cols, rstatus *st);
static int write_window(struct docker_run *r, unsigned rows, unsigned cols, rstatus *st);
static int make_window_dir(struct docker_run *r, const char *job, unsigned rows, unsigned cols, rstatus *st);
static void remove_window_dir(char *dir);
static int new_run(struct docker_run *r, const struct command *cmd, const struct policy *p,
		   struct backend_launch *out, rstatus *st);
static void free_run(struct docker_run *r);

/* The container flags and image of `p` as one string; NULL: no memory or
 * a flag refused (then no pool either). */
static char *
signature_of(const struct docker_run *r, const char *image)
{
	size_t len = strlen(image) + 1;
	char *s, *w;

	for (size_t i = r->flags_from; i < r->flags_to; i++)
		len += strlen(r->args.argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	w = s;
	for (size_t i = r->flags_from; i < r->flags_to; i++)
		w += sprintf(w, "%s\n", r->args.argv[i]);
	strcpy(w, image);
	return s;
}

static int
put_token(char **buf, size_t *len, size_t *cap, char kind, const char *fmt, ...)
{
	va_list ap;
	char *t;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (*len + (size_t) n + 2 > *cap) {
		size_t c = (*len + (size_t) n + 2) * 2;
		char *b = realloc(*buf, c);
		if (b == NULL) {
			free(t);
			return -1;
		}
		*buf = b;
		*cap = c;
	}
	(*buf)[(*len)++] = kind;
	memcpy(*buf + *len, t, (size_t) n + 1);
	*len += (size_t) n + 1;
	free(t);
	return 0;
}

/* The request as a pooled container's init reads it (docker_init.c). */
static char *
pool_header(const struct command *cmd, const struct policy *p, size_t *len_out)
{
	static const char *const names[] = { "cpu", "as", "fsize", "nofile" };
	uint64_t vals[] = { p->limits.cpu_seconds, p->limits.address_space, p->limits.file_size,
			    p->limits.open_files };
	size_t len = 4, cap = 256;
	char *buf = malloc(cap);
	int bad = buf == NULL;

	if (!bad)
		bad |= put_token(&buf, &len, &cap, 'C', "%s", cmd->cwd && cmd->cwd[0] ? cmd->cwd : "/");
	for (size_t i = 0; i < 4 && !bad; i++)
		if (vals[i] > 0)
			bad |= put_token(&buf, &len, &cap, 'L', "%s=%llu", names[i], (unsigned long long) vals[i]);
	if (cmd->tty_rows > 0 && !bad)
		bad |= put_token(&buf, &len, &cap, 'T', "%s", "");
	for (char **e = cmd->envp; e && *e && !bad; e++)
		bad |= put_token(&buf, &len, &cap, 'E', "%s", *e);
	for (char **a = cmd->argv; *a && !bad; a++)
		bad |= put_token(&buf, &len, &cap, 'A', "%s", *a);
	if (bad) {
		free(buf);
		return NULL;
	}
	buf[0] = (char) ((len - 4) >> 24);
	buf[1] = (char) ((len - 4) >> 16);
	buf[2] = (char) ((len - 4) >> 8);
	buf[3] = (char) (len - 4);
	*len_out = len;
	return buf;
}

/* Hand the request to a ready pooled container of the same signature:
 * 1 (out filled), 0 (none: start cold), -1 (no memory). */
static int
try_pool(const struct command *cmd, const struct policy *p, struct backend_launch *out)
{
	struct docker_run probe = { 0 };
	struct docker_pooled got;
	struct docker_run *r;
	char *sig, *header;
	size_t header_len;
	rstatus st;
	bool ok;

	probe.flags_to = container_flags(&probe, p, &st) == 0 ? probe.args.argc : 0;
	sig = probe.flags_to > 0 ? signature_of(&probe, p->docker.image) : NULL;
	argv_build_free(&probe.args);
	if (sig == NULL)
		return probe.flags_to > 0 ? -1 : 0;
	if ((header = pool_header(cmd, p, &header_len)) == NULL) {
		free(sig);
		return -1;
	}
	ok = header_len <= POOL_HEADER_LIMIT && pool_take(p->profile ? p->profile : "", sig, &got);
	free(sig);
	if (!ok) {
		free(header);
		return 0;
	}
	r = got.run;
	r->header = header;
	r->header_len = header_len;
	/* Every pooled container has the window file; the init reads it once
	 * it has the header. */
	if (cmd->tty_rows > 0 && write_window(r, cmd->tty_rows, cmd->tty_cols, &st) < 0)
		r->tty_dir[0] = '\0'; /* it starts at 24x80 */
	out->priv = r;
	out->argv = r->args.argv;
	out->envp = cli_env;
	out->cwd = "/";
	out->status_channel = false;
	out->exited = docker_exited;
	out->tty = LAUNCH_TTY_INSIDE;
	out->resize = docker_resize;
	out->adopt_pid = got.pid;
	memcpy(out->adopt_fds, got.fds, sizeof(got.fds));
	out->preamble = header;
	out->preamble_len = header_len;
	return 1;
}

void
docker_pool_set_take(docker_pool_take_fn fn)
{
	pool_take = fn;
}

int
docker_pool_plan(const struct policy *p, char *const **argv, char *const **envp, void **run,
		 const char **signature, rstatus *st)
{
	struct backend_launch la = { 0 };
	struct docker_run *r;
	int rv;

	*run = NULL;
	pthread_mutex_lock(&lock);
	rv = ensure_work_dir(st);
	pthread_mutex_unlock(&lock);
	if (rv < 0)
		return rv;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	*run = r;
	if ((rv = new_run(r, NULL, p, &la, st)) < 0)
		return rv;
	if ((r->signature = signature_of(r, p->docker.image)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	*argv = r->args.argv;
	*envp = cli_env;
	*signature = r->signature;
	return 0;
}

void
docker_pool_discard(void *run)
{
	free_run(run);
}

void
docker_pool_discard_all(void **runs, size_t n)
{
	char **argv = calloc(n + 4, sizeof(char *));
	size_t k = 0;

	if (argv != NULL) {
		argv[k++] = docker_path;
		argv[k++] = "rm";
		argv[k++] = "-f";
		for (size_t i = 0; i < n; i++) {
			struct docker_run *r = runs[i];
			if (r != NULL && r->complete && !r->handled) {
				argv[k++] = r->name;
				r->handled = true;
			}
		}
		if (k > 3)
			spawn_detached(argv);
		free(argv);
	}
	for (size_t i = 0; i < n; i++)
		if (runs[i] != NULL)
			free_run(runs[i]);
}

static int
docker_prepare(const struct command *cmd, const struct policy *p, struct backend_launch *out,
	       rstatus *st)
{
	struct docker_run *r;
	int rv;

	out->priv = NULL;
	if (p->docker.image == NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "profile %s: backend docker needs docker.image",
				    p->profile ? p->profile : "?");
	if (cmd->argv == NULL || cmd->argv[0] == NULL || cmd->argv[0][0] == '\0')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command.argv: empty");
	/* Never an option, wherever it lands. */
	if (cmd->argv[0][0] == '-')
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "command.argv[0]: \"%.64s\" starts with '-' (refused by the docker backend)",
				    cmd->argv[0]);
	if (cmd->cwd != NULL && cmd->cwd[0] != '\0' && cmd->cwd[0] != '/')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "command.cwd: not absolute (docker backend)");
	pthread_mutex_lock(&lock);
	rv = ensure_work_dir(st);
	pthread_mutex_unlock(&lock);
	if (rv < 0)
		return rv;
	if (p->docker.pool > 0 && pool_take != NULL && (rv = try_pool(cmd, p, out)) != 0)
		return rv < 0 ? rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory") : 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	out->priv = r;
	return new_run(r, cmd, p, out, st);
}

/* A fresh record with its status file and argv; cmd NULL: pooled. */
static int
new_run(struct docker_run *r, const struct command *cmd, const struct policy *p, struct backend_launch *out,
	rstatus *st)
{
	uint8_t raw[8];
	char job[17];
	int fd, rv;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "getrandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(job + 2 * i, 3, "%02x", raw[i]);
	snprintf(r->name, sizeof(r->name), "runnerd-%s-%s", instance, job);
	snprintf(r->status_path, sizeof(r->status_path), "%s/%s.status", work_dir, job);
	/* Written by the init as the container's user, whoever that is; only
	 * root can reach it on the host (the directory is 0700). */
	if ((fd = open(r->status_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno, "docker: %s", r->status_path);
	r->status_created = true;
	if (fchmod(fd, 0622) != 0) {
		rv = errno;
		close(fd);
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, rv, "docker: chmod %s", r->status_path);
	}
	close(fd);
	/* A terminal's window size, for the init: a pooled container may
	 * serve a request with one. */
	if ((cmd == NULL || cmd->tty_rows > 0) &&
	    (rv = make_window_dir(r, job, cmd ? cmd->tty_rows : 24, cmd ? cmd->tty_cols : 80, st)) < 0)
		return rv;
	if ((rv = build_argv(r, cmd, p, job, st)) < 0)
		return rv;
	r->complete = true;
	out->argv = r->args.argv;
	out->envp = cli_env;
	out->cwd = "/";
	out->status_channel = false;
	out->exited = docker_exited;
	out->tty = LAUNCH_TTY_INSIDE;
	out->resize = docker_resize;
	return 0;
}

/* --- a terminal's window -------------------------------------------------- */

/* A command on a terminal gets it from the container's init (docker_init.c:
 * --tty), inside the container, where `tty` can name it. The window size
 * goes in through a directory of the run's own, bind-mounted read-only at
 * /.runnerd/tty: the file `size` ("ROWS COLS") is replaced by a rename (a
 * bind-mounted file would keep showing the old inode), and the init reads
 * it at start and on SIGWINCH, which the docker CLI passes on to it
 * (docker kill --signal=WINCH, as for every signal it gets). */
static int
write_window(struct docker_run *r, unsigned rows, unsigned cols, rstatus *st)
{
	char tmp[PATH_MAX + 8], path[PATH_MAX + 8], line[32];
	int fd, n = snprintf(line, sizeof(line), "%u %u\n", rows, cols), err;

	snprintf(tmp, sizeof(tmp), "%s/size.new", r->tty_dir);
	snprintf(path, sizeof(path), "%s/size", r->tty_dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "docker: %s", tmp);
	if (fchmod(fd, 0644) != 0 || write(fd, line, (size_t) n) != n) {
		err = errno;
		close(fd);
		return rstatus_fail_errno(st, RS_INTERNAL, err, "docker: %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) != 0)
		return rstatus_fail_errno(st, RS_INTERNAL, errno, "docker: %s", path);
	return 0;
}

static int
make_window_dir(struct docker_run *r, const char *job, unsigned rows, unsigned cols, rstatus *st)
{
	snprintf(r->tty_dir, sizeof(r->tty_dir), "%s/%.16s.tty", work_dir, job);
	/* Read by the container's user, whoever that is. */
	if (mkdir(r->tty_dir, 0755) != 0 || chmod(r->tty_dir, 0755) != 0) {
		int err = errno;
		r->tty_dir[0] = '\0';
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, err, "docker: mkdir %s/%s.tty", work_dir, job);
	}
	return write_window(r, rows, cols, st);
}

static void
remove_window_dir(char *dir)
{
	char path[PATH_MAX + 16];

	if (dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/size", dir);
	(void) unlink(path);
	snprintf(path, sizeof(path), "%s/size.new", dir);
	(void) unlink(path);
	(void) rmdir(dir);
	dir[0] = '\0';
}

static int
docker_resize(const struct backend_launch *launch, unsigned rows, unsigned cols, rstatus *st)
{
	struct docker_run *r = launch->priv;

	if (r == NULL || r->tty_dir[0] == '\0')
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "docker: this container has no window to resize");
	return write_window(r, rows, cols, st);
}

/* --- the end of a run ---------------------------------------------------- */

/* The init's record (docker_init.c); false when there is none. */
static bool
read_record(const char *path, struct backend_outcome *out)
{
	char buf[512], *line, *save = NULL;
	bool have = false;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long u, s;
		long m, k;
		int v;
		if (sscanf(line, "status %d", &v) == 1) {
			out->wstatus = v;
			have = true;
		} else if (sscanf(line, "exec %d", &v) == 1) {
			out->exec_failed = true;
			out->exec_errno = v;
			snprintf(out->exec_error, sizeof(out->exec_error), "execve (inside the container): %s",
				 strerror(v));
			have = true;
		} else if (sscanf(line, "rusage %llu %llu %ld", &u, &s, &m) == 3) {
			out->have_usage = true;
			out->user_us = u;
			out->system_us = s;
			out->max_rss_kb = m > 0 ? (uint64_t) m : 0;
		} else if (sscanf(line, "oom %ld", &k) == 1) {
			out->oom_killed = k > 0;
		}
	}
	return have;
}

static void
docker_exited(const struct backend_launch *launch, struct backend_outcome *out)
{
	struct docker_run *r = launch->priv;
	int cli;

	if (r == NULL)
		return;
	/* No window to resize any more (the session's result may stay long). */
	remove_window_dir(r->tty_dir);
	if (out == NULL) {
		/* The CLI is being killed: the container would run on. */
		remove_container(r);
		return;
	}
	cli = out->wstatus;
	if (read_record(r->status_path, out)) {
		/* PID 1 ended: the container is gone or going (the engine's
		 * AutoRemove), however the CLI ended. */
		r->handled = true;
		return;
	}
	out->wstatus = cli;
	remove_container(r);
	/* No record: the command never started. 125: docker failed (no such
	 * image, a refused option); 126/127: the init could not be run. */
	if (WIFEXITED(cli) && WEXITSTATUS(cli) >= 125 && WEXITSTATUS(cli) <= 127) {
		out->exec_failed = true;
		out->exec_errno = 0;
		snprintf(out->exec_error, sizeof(out->exec_error),
			 "docker run exited %d before the command started (docker's message is on stderr)",
			 WEXITSTATUS(cli));
	}
}

static void
free_run(struct docker_run *r)
{
	if (r == NULL)
		return;
	/* Never reaped here (the spawn failed) or never reported: make sure. */
	remove_container(r);
	if (r->status_created)
		unlink(r->status_path);
	remove_window_dir(r->tty_dir);
	argv_build_free(&r->args);
	free(r->signature);
	free(r->header);
	free(r);
}

static void
docker_release(struct backend_launch *launch)
{
	/* An adopted container no job took: EOF on its stdin ends its init
	 * (and remove_container makes sure). */
	if (launch->adopt_pid > 0)
		for (int i = 0; i < 3; i++)
			if (launch->adopt_fds[i] >= 0) {
				close(launch->adopt_fds[i]);
				launch->adopt_fds[i] = -1;
			}
	free_run(launch->priv);
	launch->priv = NULL;
}

/* --- start-up ------------------------------------------------------------ */

/* Run a docker CLI command to completion within the deadline, its stdout
 * into buf (NUL-terminated; *truncated when it did not fit). Returns its
 * wait status, or a negative value (fills st). */
static int
run_cli(char *const *argv, char *buf, size_t len, bool *truncated, uint64_t deadline_ms, rstatus *st)
{
	uint64_t now = spawn_sync_clock_ms();
	struct spawn_sync r = {
		.argv = argv, .envp = cli_env, .cwd = "/", .out = buf, .out_size = len,
		.timeout_ms = now < deadline_ms ? (unsigned) (deadline_ms - now) : 1,
	};
	int err, status;

	if ((status = spawn_run_sync(&r, &err, st)) < 0)
		return status;
	if (r.timed_out)
		return rstatus_fail(st, RS_UNAVAILABLE, "docker: %s %s did not finish in time", argv[0], argv[1]);
	if (truncated != NULL)
		*truncated = r.out_total >= len;
	return status;
}

/* Status files of runs that ended with a predecessor (nothing of ours
 * runs yet). */
static void
remove_stale_status_files(void)
{
	DIR *dir = opendir(work_dir);
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len > 7 && strcmp(de->d_name + len - 7, ".status") == 0)
			(void) unlinkat(dirfd(dir), de->d_name, 0);
		if (len > 4 && strcmp(de->d_name + len - 4, ".tty") == 0) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", work_dir, de->d_name);
			remove_window_dir(path);
		}
	}
	closedir(dir);
}

/* Remove every container labelled with our instance id (a SIGKILLed
 * predecessor's), and the status files it left. */
static int
docker_recover(rstatus *st)
{
	char filter[64], out[16384], *ids[128 + 5], *cut;
	char *ps[] = { docker_path, "ps", "-aq", "--no-trunc", "--filter", filter, NULL };
	uint64_t deadline = spawn_sync_clock_ms() + RECOVER_TIMEOUT_MS;
	size_t n = 0;
	int status, removed = 0;
	bool truncated;
	struct stat sb;

	/* A runnerd with a state directory that never started a container
	 * (no <state>/docker yet) has nothing to clean: no docker round trip
	 * at every start of every runnerd. */
	if (state_dir[0] != '\0' && mount_safe(state_dir)) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/docker", state_dir);
		if (stat(dir, &sb) != 0)
			return 0;
	}
	pthread_mutex_lock(&lock);
	status = ensure_work_dir(st);
	pthread_mutex_unlock(&lock);
	if (status < 0)
		return status;
	snprintf(filter, sizeof(filter), "label=runnerd.instance=%s", instance);
	if ((status = run_cli(ps, out, sizeof(out), &truncated, deadline, st)) < 0)
		return status;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return rstatus_fail(st, RS_UNAVAILABLE, "docker: docker ps failed (status %d)", status);
	/* More than fits: the last id may be cut; the rest go with the next
	 * start. */
	if (truncated && (cut = strrchr(out, '\n')) != NULL)
		cut[1] = '\0';
	else if (truncated)
		out[0] = '\0';
	ids[n++] = docker_path;
	ids[n++] = "rm";
	ids[n++] = "-f";
	for (char *save = NULL, *id = strtok_r(out, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
		if (n == 128 + 3) {
			/* A batch at a time. */
			ids[n] = NULL;
			if ((status = run_cli(ids, NULL, 0, NULL, deadline, st)) < 0)
				return status;
			n = 3;
		}
		ids[n++] = id;
		removed++;
	}
	if (n > 3) {
		ids[n] = NULL;
		if ((status = run_cli(ids, NULL, 0, NULL, deadline, st)) < 0)
			return status;
	}
	remove_stale_status_files();
	return removed;
}

const struct backend_ops backend_docker = {
	.name = "docker",
	.probe = docker_probe,
	.probe_ok_ms = PROBE_VALID_MS,
	.probe_failed_ms = PROBE_VALID_MS,
	.check = docker_check,
	.prepare = docker_prepare,
	.release = docker_release,
	.init = docker_init,
	.recover = docker_recover,
};
