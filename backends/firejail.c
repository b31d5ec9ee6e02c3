/* The firejail backend: the command runs in a firejail sandbox (firejail
 * 0.9.72), under runnerd-status so its real wait status comes back on
 * fd 3 (status_shim.h).
 *
 * The launch plan is one argv, no shell and no profile file:
 *
 *   RUNNERD-STATUS --launch [--join-cgroup=DIR] --
 *   [setpriv --reuid=U --regid=G --init-groups --]
 *   firejail --quiet --noprofile --deterministic-exit-code --keep-fd=3,4,5
 *            --caps.drop=all --nonewprivs --private-dev
 *            --protocol=inet,inet6 (unix,inet,inet6: unix_sockets listed)
 *            --seccomp.drop=io_uring_setup,io_uring_enter,io_uring_register
 *            --seccomp.32.drop=socketcall,io_uring_setup,io_uring_enter,io_uring_register
 *            [--net=none] [--private-tmp | --whitelist=P...]
 *            [--rlimit-cpu=N] [--rlimit-as=N]
 *            [--rlimit-nproc=N (no cgroup)] [--rlimit-fsize=N] [--rlimit-nofile=N]
 *            [--read-only=/]                      (restrict_writes)
 *            [--read-write=P | --read-only=P]...  (shallowest first)
 *            [--blacklist=/home --blacklist=/root] (hide_home)
 *            [--blacklist=P]...                   (hidden)
 *            [--blacklist=P]...   (the control plane; with unix_sockets, every
 *                                  other socket bound on the host)
 *            RUNNERD-STATUS 3 --from-env --end-sandbox --launched
 *                           [--scope-abstract]   (unix_sockets, host network)
 *                           [--tty]              (a terminal)
 *
 * and the command (resolved program path, argv, environment) travels in
 * RUNNERD_CMD_* variables (shim_env.h). Why it is shaped like this, all
 * checked on 0.9.72:
 *
 * - No "--" before the program: with it, firejail runs the command
 *   through `/bin/bash -c` with its own quoting.
 * - firejail takes at most 127 arguments of under 4128 bytes each and
 *   rewrites SHELL, PWD, container and more in the environment, so the
 *   command is not on its command line (shim_env.h).
 * - A private /tmp hides read_write/read_only paths under /tmp: then
 *   --whitelist=P for each of them gives the same fresh tmpfs /tmp with
 *   just those bound in.
 * - Options apply in order, the last one on a path wins: `--read-only=/`
 *   must come before the `--read-write` exceptions, and a read_only path
 *   inside a read_write one after it; blacklists come last.
 * - Left alone, firejail waits for every process left in the sandbox (a
 *   background `sleep 100`) and then exits with the status of whichever it
 *   reaped last. --deterministic-shutdown would end them, but after a fixed
 *   100 ms sleep that doubles the cost of a short run; runnerd-status
 *   --end-sandbox SIGKILLs them from inside the pid namespace at once, as
 *   runnerd kills a direct command's leftovers. --deterministic-exit-code
 *   keeps firejail's own status the command's (runnerd-status's).
 * - firejail's init traps SIGTERM: it forwards it to everything in the
 *   sandbox (so a command sees runnerd's SIGTERM twice) and sleeps 1 s
 *   before it exits: a stop takes about a second.
 * - --keep-fd=3,4,5: firejail closes everything above 2 by default (3:
 *   the status channel; 4, 5: the launcher's, see status_shim.c).
 * - firejail sometimes fails its own set-up ("Access error: ... invalid
 *   read-only mount", exit 1) when a mount appears meanwhile (a container
 *   starting, another sandbox starting): `runnerd-status --launch` in
 *   front of it runs it again, keeping the failed attempt's message out of
 *   the command's stderr.
 * - Without --caps.drop=all a root command could remount / read-write,
 *   unmount blacklists or raise its rlimits; without --private-dev it
 *   could write the host's /dev/shm or raw disks.
 * - RLIMIT_NPROC never binds uid 0 (the kernel exempts root), and for
 *   anyone else counts all the processes of the uid (other runs too): the
 *   process limit is a pids cgroup of the run's own (pids_cgroup.h)
 *   wherever one can be made, --rlimit-nproc only as a fallback for
 *   non-root commands.
 * - firejail refuses system users (uid < UID_MIN, "nobody") and users
 *   missing from firejail.users when that file exists, and makes only the
 *   user's own paths read-write: check() says so up front.
 * - No control plane (control_plane.h): a network namespace hides no
 *   filesystem socket, and with the host's network no abstract one, so the
 *   sandbox may not create unix sockets at all (firejail's --protocol, a
 *   seccomp filter on socket(); io_uring goes too, as IORING_OP_SOCKET
 *   would bypass it, and the 32-bit socketcall, which it does not cover).
 *   runnerd's sockets and state directory and the engines' sockets are
 *   blacklisted besides, last, so no rule reopens them. A profile listing unix_sockets gets unix back with every other
 *   socket bound on the host blacklisted at launch and, sharing the host's
 *   network namespace, the abstract ones scoped by Landlock inside
 *   (runnerd-status --scope-abstract); without Landlock ABI 6 that profile
 *   is refused. A path that cannot be blacklisted, or more blacklists than
 *   firejail's 127 arguments take, refuse the run: never a socket showing.
 *
 * - A terminal (--tty): firejail's private /dev has a devpts of its own,
 *   where a pty runnerd opened is not: `tty` would say "not a tty". So the
 *   shim opens the command's terminal inside, and the pty runnerd gives
 *   the launcher as fds 0-2 (raw, nobody's controlling terminal) only
 *   carries bytes and the window size (LAUNCH_TTY_WRAPPED).
 *
 * Every process of the sandbox stays in the process group runnerd
 * created, so its SIGTERM/SIGKILL reaches all of them; firejail's own pid
 * namespace takes down anything that escaped the group (setsid) once its
 * first process dies.
 */
#include "firejail.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "argv_build.h"
#include "backend.h"
#include "control_plane.h"
#include "helper_path.h"
#include "job_cgroup.h"
#include "pids_cgroup.h"
#include "shim_env.h"
#include "spawn_child.h"
#include "spawn_sync.h"

/* Where firejail and setpriv are looked for: never the daemon's PATH. */
#define TOOL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* A command without PATH gets spawn_child's default. */
#define SHIM_NAME "runnerd-status"
#define STATUS_FD "3"
/* Tasks of a run besides the command's: launcher, firejail, its init, shim. */
#define WRAPPER_TASKS 4
#define PROBE_TIMEOUT_MS 20000
/* A success holds for good; a failure is probed again after this, so that
 * one unlucky probe at start-up does not disable the backend until runnerd
 * restarts (see probe_now). */
#define PROBE_RETRY_MS 10000
/* firejail refuses an argument of 4128 bytes or more ("--blacklist=" + path). */
#define MAX_FLAG_PATH 4000
#define FIREJAIL_USERS "/etc/firejail/firejail.users"
/* firejail refuses argc >= 128 ("too many arguments"). */
#define FIREJAIL_MAX_ARGS 127
/* Socket families a command may create: never netlink (no command of a
 * sandbox needs the kernel's routing, audit, uevent or socket-diagnostics
 * interfaces; sock_diag would list the host's sockets), and unix only when
 * the profile lists unix sockets. socketpair() is not filtered. */
#define PROTOCOLS "inet,inet6"
#define PROTOCOLS_WITH_UNIX "unix,inet,inet6"
/* io_uring creates sockets without socket() (IORING_OP_SOCKET, Linux
 * 5.19): it would bypass the family filter. */
#define NO_IO_URING "io_uring_setup,io_uring_enter,io_uring_register"
/* The 32-bit calls (int $0x80, from any process on x86_64) have a filter of
 * their own, and --protocol leaves i386 socketcall(SYS_SOCKET, ...) alone:
 * its family lies in memory a filter cannot read. So socketcall goes, as
 * io_uring does (modern 32-bit programs call socket() directly). */
#define NO_32BIT_SOCKETCALL "socketcall," NO_IO_URING
/* Landlock's abstract unix socket scoping (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)
 * arrived with ABI 6 (Linux 6.12). */
#define LANDLOCK_ABI_SCOPE 6
#define FIREJAIL_SANDBOX_DIR "/run/firejail/sandbox"

static char *const tool_env[] = { "PATH=" TOOL_PATH, NULL };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *shim_override, *program_override;
static bool probed;          /* probe_status and firejail_path hold a verdict */
static unsigned generation;  /* firejail_set_program calls */
static rstatus probe_status; /* code RS_OK: usable */
static char firejail_path[PATH_MAX];

void
firejail_set_shim_path(const char *path)
{
	pthread_mutex_lock(&lock);
	free(shim_override);
	shim_override = path ? strdup(path) : NULL;
	pthread_mutex_unlock(&lock);
}

void
firejail_set_program(const char *path)
{
	pthread_mutex_lock(&lock);
	free(program_override);
	program_override = path ? strdup(path) : NULL;
	probed = false;
	generation++;
	pthread_mutex_unlock(&lock);
}

/* The firejail to use: $RUNNERD_FIREJAIL (an absolute path), else the
 * first on the fixed tool PATH, never the daemon's own PATH. */
static void
fj_init(const struct backend_config *cfg)
{
	const char *prog = getenv("RUNNERD_FIREJAIL");

	if (prog != NULL && prog[0] != '\0')
		firejail_set_program(prog);
}

/* --- paths -------------------------------------------------------------- */

/* Bytes firejail gives a meaning to in a file name: its invalid_filename()
 * list, glob characters, macros ("${HOME}", "~"), plus a few a shell or a
 * profile line would. Values never reach a shell or a profile, but firejail
 * itself expands or rejects these. */
static const char unsafe_chars[] = "\\&!?\"'<>%^(){};,*[]$~`|#";

static int
check_path(const char *field, const char *path, rstatus *st)
{
	size_t len;

	if (path == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: a path is missing", field);
	len = strlen(path);
	/* Messages quote only what was checked clean so far. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) path[i];
		int shown = (int) (i < 200 ? i : 200);
		if (c < 0x20 || c == 0x7f)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: path \"%.*s\" is followed by control byte 0x%02x", field, shown,
					    path, c);
		if (strchr(unsafe_chars, c) != NULL)
			return rstatus_fail(st, RS_INVALID_ARGUMENT,
					    "%s: path \"%.*s\" is followed by '%c', which firejail would interpret",
					    field, shown, path, c);
	}
	if (path[0] != '/')
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: \"%.200s\" is not an absolute path", field, path);
	if (len > MAX_FLAG_PATH)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: path \"%.100s...\" is longer than %d bytes",
				    field, path, MAX_FLAG_PATH);
	if (len > 1 && (path[len - 1] == '/' || strstr(path, "//") || strstr(path, "/./") ||
			strstr(path, "/../") || strcmp(path + len - 2, "/.") == 0 ||
			(len >= 3 && strcmp(path + len - 3, "/..") == 0)))
		return rstatus_fail(st, RS_INVALID_ARGUMENT,
				    "%s: path \"%.200s\" is not normalized (//, . or .. or a trailing /)", field,
				    path);
	return 0;
}

/* At config load a profile's paths may still hold template parameters
 * ("{{workdir}}/out"): those are checked with each parameter standing for
 * a plain absolute path (the profile layer validates the values, and
 * prepare sees, and checks, the expanded path). */
static int
check_path_at(const char *field, const char *path, bool templates, rstatus *st)
{
	char norm[MAX_FLAG_PATH + 64];
	size_t o = 0;

	if (!templates || path == NULL || strstr(path, "{{") == NULL)
		return check_path(field, path, st);
	for (const char *p = path; *p && o + 3 < sizeof(norm);) {
		const char *end;
		if (p[0] == '{' && p[1] == '{' && (end = strstr(p + 2, "}}")) != NULL) {
			if (o == 0)
				norm[o++] = '/';
			norm[o++] = 'P';
			p = end + 2;
		} else
			norm[o++] = *p++;
	}
	norm[o] = '\0';
	return check_path(field, norm, st);
}

static int
check_paths(const char *field, char **list, bool templates, rstatus *st)
{
	int rv;

	for (; list && *list; list++)
		if ((rv = check_path_at(field, *list, templates, st)) < 0)
			return rv;
	return 0;
}

/* Is `path` the directory `dir` or inside it? */
static bool
covers(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Directories every firejail sandbox gets a fresh, empty (or nearly)
 * copy of, --noprofile or not: what is there on the host is not visible. */
static const char *const firejail_private_dirs[] = { "/var/tmp", "/var/log", "/run/lock", "/dev" };

static int find_shim(char *out, size_t outlen, rstatus *st);

/* The shim under /tmp (a build tree there): a private /tmp must still
 * show it, bound in read-only like the profile's own /tmp paths. */
static bool
shim_in_tmp(char *shim, size_t len)
{
	rstatus ignored;

	return find_shim(shim, len, &ignored) == 0 && covers("/tmp", shim);
}

/* Under a private /tmp, the read_write and read_only paths inside /tmp
 * stay visible: firejail's --whitelist puts a fresh tmpfs on /tmp with
 * just them bound into it (see add_tmp_rules); so does the shim. */
static bool
exposed_in_private_tmp(const struct policy *p, const char *path)
{
	char shim[PATH_MAX];

	if (shim_in_tmp(shim, sizeof(shim)) && strcmp(shim, path) == 0)
		return true;
	for (char **rw = p->read_write; rw && *rw; rw++)
		if (covers("/tmp", *rw) && strcmp(*rw, "/tmp") != 0 && covers(*rw, path))
			return true;
	for (char **ro = p->read_only; ro && *ro; ro++)
		if (covers("/tmp", *ro) && strcmp(*ro, "/tmp") != 0 && covers(*ro, path))
			return true;
	return false;
}

/* The rule of `p` that makes `path` invisible inside the sandbox, or NULL. */
static const char *
hiding_rule(const struct policy *p, const char *path)
{
	for (char **h = p->hidden; h && *h; h++)
		if (covers(*h, path))
			return "filesystem.hidden";
	if (p->hide_home && (covers("/home", path) || covers("/root", path)))
		return "filesystem.hide_home";
	if (p->private_tmp && covers("/tmp", path) && !exposed_in_private_tmp(p, path))
		return "filesystem.private_tmp";
	for (size_t i = 0; i < sizeof(firejail_private_dirs) / sizeof(firejail_private_dirs[0]); i++)
		if (covers(firejail_private_dirs[i], path))
			return "firejail's private /var/tmp, /var/log, /run/lock and /dev";
	return NULL;
}

/* runnerd-status: the one set by firejail_set_shim_path, else where
 * helper_path finds it (beside runnerd, then the install's libexec). */
static int
find_shim(char *out, size_t outlen, rstatus *st)
{
	rstatus why;

	pthread_mutex_lock(&lock);
	if (shim_override != NULL) {
		snprintf(out, outlen, "%s", shim_override);
		pthread_mutex_unlock(&lock);
		if (!helper_is_executable(out))
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "firejail: %s (set as runnerd-status) is not an executable file", out);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	if (helper_path(SHIM_NAME, NULL, out, outlen, &why) < 0)
		return rstatus_fail(st, why.code, "firejail: %s", why.message);
	return 0;
}

/* --- users -------------------------------------------------------------- */

struct who {
	bool switch_user; /* run firejail through setpriv */
	uid_t uid;        /* the command's uid */
	gid_t gid;
	char name[64];
};

/* firejail's idea of a regular user: UID_MIN from login.defs, 1000 else. */
static unsigned long
uid_min(void)
{
	unsigned long v = 1000;
	char line[256];
	FILE *f = fopen("/etc/login.defs", "re");

	if (f == NULL)
		return v;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " UID_MIN %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* With no firejail.users file every regular user may use firejail. */
static bool
listed_in_firejail_users(const char *name)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(FIREJAIL_USERS, "re");

	if (f == NULL)
		return errno == ENOENT;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\r\n#")] = '\0';
		found = strcmp(line, name) == 0;
	}
	fclose(f);
	return found;
}

static int
resolve_user(const struct policy *p, struct who *w, rstatus *st)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	memset(w, 0, sizeof(*w));
	w->uid = getuid();
	w->gid = getgid();
	if (p->user == NULL)
		return 0;
	if (getpwnam_r(p->user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "profile %s: user: no user named \"%.64s\"",
				    p->profile ? p->profile : "?", p->user);
	snprintf(w->name, sizeof(w->name), "%s", pw.pw_name);
	w->uid = pw.pw_uid;
	w->gid = pw.pw_gid;
	if (pw.pw_uid == getuid())
		return 0;
	if (geteuid() != 0)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: user: runnerd runs as uid %u, not root: it cannot run commands as %s "
				    "(name runnerd's own user to run them as it)",
				    p->profile ? p->profile : "?", (unsigned) geteuid(), w->name);
	w->switch_user = true;
	if (pw.pw_uid != 0 && (pw.pw_uid < uid_min() || strcmp(pw.pw_name, "nobody") == 0))
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: user: firejail refuses system users, and %s (uid %u) is one "
				    "(regular users have uid >= UID_MIN %lu and are not nobody)",
				    p->profile ? p->profile : "?", w->name, (unsigned) pw.pw_uid, uid_min());
	if (pw.pw_uid != 0 && !listed_in_firejail_users(pw.pw_name))
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: user: %s is not listed in " FIREJAIL_USERS,
				    p->profile ? p->profile : "?", w->name);
	return 0;
}

static int
find_tool(const char *name, char *out, size_t outlen)
{
	return spawn_resolve(name, tool_env, NULL, out, outlen);
}

/* --- probe -------------------------------------------------------------- */

/* Start one real sandbox with the options every run uses: the verdict in
 * *verdict, the firejail used in `path`. Touches no shared state. */
static void
run_probe(const char *override, char *path, size_t pathlen, rstatus *verdict)
{
	char truepath[PATH_MAX], err[1024];
	char *argv[] = { path, "--quiet", "--noprofile", "--deterministic-exit-code", "--caps.drop=all",
			 "--nonewprivs", "--private-dev", "--protocol=" PROTOCOLS, "--seccomp.drop=" NO_IO_URING,
			 "--seccomp.32.drop=" NO_32BIT_SOCKETCALL, "--net=none", truepath, NULL };
	struct spawn_sync r = {
		.argv = argv, .envp = tool_env, .cwd = "/", .timeout_ms = PROBE_TIMEOUT_MS,
		.err = err, .err_size = sizeof(err),
	};
	int rv, status, exec_errno;
	rstatus st;

	rstatus_clear(verdict);
	if (override != NULL)
		rv = override[0] == '/' ? spawn_resolve(override, tool_env, NULL, path, pathlen) : -ENOENT;
	else
		rv = find_tool("firejail", path, pathlen);
	if (rv < 0) {
		rstatus_fail_errno(verdict, RS_FAILED_PRECONDITION, -rv, "firejail is not installed (%s)",
				   override ? override : "not found in " TOOL_PATH);
		return;
	}
	if (find_tool("true", truepath, sizeof(truepath)) < 0)
		snprintf(truepath, sizeof(truepath), "/bin/true");
	if ((status = spawn_run_sync(&r, &exec_errno, &st)) < 0) {
		if (exec_errno != 0)
			rstatus_fail_errno(verdict, RS_FAILED_PRECONDITION, exec_errno, "firejail cannot be run: %s",
					   path);
		else
			rstatus_fail(verdict, st.code, "firejail probe: %s", st.message);
		return;
	}
	if (r.timed_out)
		snprintf(err, sizeof(err), "no answer within %d ms", PROBE_TIMEOUT_MS);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	err[strcspn(err, "\n")] = '\0';
	if (err[0] != '\0')
		rstatus_fail(verdict, RS_FAILED_PRECONDITION, "firejail (%s) cannot create sandboxes here: %.300s",
			     path, err);
	else if (WIFSIGNALED(status))
		rstatus_fail(verdict, RS_FAILED_PRECONDITION,
			     "firejail (%s) cannot create sandboxes here: killed by signal %d", path, WTERMSIG(status));
	else
		rstatus_fail(verdict, RS_FAILED_PRECONDITION,
			     "firejail (%s) cannot create sandboxes here: exit status %d", path, WEXITSTATUS(status));
}

/* Probe firejail now (blocking, up to 2 x PROBE_TIMEOUT_MS, without
 * holding the lock) and keep the verdict and the firejail path for
 * prepare. A failure that is not "not installed" is tried once more at
 * once: firejail sometimes fails for a moment ("Access error ... invalid
 * read-only mount" while docker adds or removes an overlay mount under
 * /var during its remount). 0 with the path in `path` (may be NULL), or
 * fills st. */
static int
probe_now(char *path, size_t pathlen, rstatus *st)
{
	char override[PATH_MAX], found[PATH_MAX];
	bool have_override;
	unsigned gen;
	rstatus verdict;

	pthread_mutex_lock(&lock);
	have_override = program_override != NULL;
	if (have_override)
		snprintf(override, sizeof(override), "%s", program_override);
	gen = generation;
	pthread_mutex_unlock(&lock);
	run_probe(have_override ? override : NULL, found, sizeof(found), &verdict);
	if (verdict.code != RS_OK && strstr(verdict.message, "cannot create sandboxes")) {
		usleep(200000);
		run_probe(have_override ? override : NULL, found, sizeof(found), &verdict);
	}
	pthread_mutex_lock(&lock);
	/* A verdict on a program no longer configured is dropped. */
	if (gen == generation) {
		probe_status = verdict;
		snprintf(firejail_path, sizeof(firejail_path), "%s", found);
		probed = true;
	}
	pthread_mutex_unlock(&lock);
	if (verdict.code != RS_OK) {
		*st = verdict;
		return -verdict.code;
	}
	if (path != NULL)
		snprintf(path, pathlen, "%s", found);
	return 0;
}

/* The last verdict on firejail and its path, for prepare, which must not
 * block: it probes only when nothing has yet (runnerd probes every backend
 * before it serves; a library user may not have). */
static int
last_verdict(char *path, size_t pathlen, rstatus *st)
{
	int code;

	pthread_mutex_lock(&lock);
	if (!probed) {
		pthread_mutex_unlock(&lock);
		return probe_now(path, pathlen, st);
	}
	code = probe_status.code;
	if (code != RS_OK)
		*st = probe_status;
	else
		snprintf(path, pathlen, "%s", firejail_path);
	pthread_mutex_unlock(&lock);
	return code == RS_OK ? 0 : -code;
}

static int
fj_probe(rstatus *st)
{
	char shim[PATH_MAX];
	int rv;

	if ((rv = probe_now(NULL, 0, st)) < 0)
		return rv;
	return find_shim(shim, sizeof(shim), st);
}

/* --- process limit ------------------------------------------------------ */

/* Switches tests turn off (firejail.h), read and written under the lock. */
static bool cgroups_disabled, landlock_disabled;

static void
set_switch(bool *disabled, bool use)
{
	pthread_mutex_lock(&lock);
	*disabled = !use;
	pthread_mutex_unlock(&lock);
}

static bool
switched_off(const bool *disabled)
{
	bool v;

	pthread_mutex_lock(&lock);
	v = *disabled;
	pthread_mutex_unlock(&lock);
	return v;
}

void
firejail_use_pids_cgroup(bool use)
{
	set_switch(&cgroups_disabled, use);
}

void
firejail_use_landlock(bool use)
{
	set_switch(&landlock_disabled, use);
}

/* The process limit is a pids cgroup of the run's own whenever one can be
 * made: it counts the run's processes alone, and binds root. Otherwise
 * --rlimit-nproc, which counts every process of the command's uid on the
 * whole system (other runs as that user included), and not at all root's. */
static bool
use_pids_cgroup(rstatus *why)
{
	char cg[PATH_MAX];

	if (switched_off(&cgroups_disabled)) {
		rstatus_fail(why, RS_FAILED_PRECONDITION, "pids cgroups are switched off");
		return false;
	}
	return pids_cgroup_parent(cg, sizeof(cg), why) == 0;
}

/* --- abstract unix sockets ---------------------------------------------- */

/* Abstract unix sockets have no path to hide: they belong to a network
 * namespace. A profile with network none gets a namespace of its own; one
 * with network allowed shares the host's, and its commands could reach
 * every abstract socket there once unix sockets are allowed at all — unless
 * Landlock scopes them (runnerd-status --scope-abstract, inside). */
static bool
abstract_scoping_available(void)
{
	long abi;

	if (switched_off(&landlock_disabled))
		return false;
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi >= LANDLOCK_ABI_SCOPE;
}

/* --- control plane ------------------------------------------------------- */

/* A rule of `p` naming (or lying inside) runnerd's sockets or state
 * directory or a container engine's sockets: refused, never quietly
 * overridden by the blacklists. A rule above them is fine: the blacklists
 * come last and win. */
static int
check_control_plane(const struct policy *p, const char *field, char **list, bool templates, rstatus *st)
{
	struct control_path cp;

	for (; list && *list; list++) {
		if (templates && strstr(*list, "{{") != NULL)
			continue; /* checked once expanded, at prepare */
		if (control_plane_touched_by(*list, false, &cp))
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "profile %s: %s: %s would expose %s (%s); no sandbox may reach it",
					    p->profile ? p->profile : "?", field, *list, cp.path, cp.what);
	}
	return 0;
}

/* --- check -------------------------------------------------------------- */

static int
check_policy(const struct policy *p, bool templates, struct who *w, rstatus *st)
{
	const char *prof = p->profile ? p->profile : "?";
	char shim[PATH_MAX], tool[PATH_MAX];
	const char *rule;
	rstatus ignored, why;
	int rv;

	/* The docker mapping means nothing to firejail: refuse, never ignore. */
	const struct policy_docker *d = &p->docker;
	if (d->image || (d->tmpfs && d->tmpfs[0]) || d->n_mounts || d->memory || d->cpus_milli || d->pids)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: docker: settings apply to the docker backend only, not firejail",
				    prof);
	if ((rv = check_paths("filesystem.read_only", p->read_only, templates, st)) < 0 ||
	    (rv = check_paths("filesystem.read_write", p->read_write, templates, st)) < 0 ||
	    (rv = check_paths("filesystem.hidden", p->hidden, templates, st)) < 0 ||
	    (rv = check_paths("unix_sockets", p->unix_sockets, false, st)) < 0 ||
	    (p->workdir && (rv = check_path_at("workdir", p->workdir, templates, st)) < 0))
		return rv;
	char *wd[] = { (char *) p->workdir, NULL };
	if ((rv = check_control_plane(p, "unix_sockets", p->unix_sockets, false, st)) < 0 ||
	    (rv = check_control_plane(p, "filesystem.read_write", p->read_write, templates, st)) < 0 ||
	    (rv = check_control_plane(p, "filesystem.read_only", p->read_only, templates, st)) < 0 ||
	    (rv = check_control_plane(p, "workdir", wd, templates, st)) < 0)
		return rv;
	if (p->unix_sockets && p->unix_sockets[0] && p->network && !abstract_scoping_available())
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: unix_sockets with network: allowed: the sandbox would share the "
				    "host's network namespace and every abstract unix socket in it, and this kernel "
				    "cannot scope them (Landlock ABI %d, Linux 6.12); set network: none",
				    prof, LANDLOCK_ABI_SCOPE);
	for (char **u = p->unix_sockets; u && *u; u++)
		if ((rule = hiding_rule(p, *u)) != NULL)
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "profile %s: unix_sockets: %s is not visible in the sandbox (%s)", prof,
					    *u, rule);
	if ((rv = resolve_user(p, w, st)) < 0)
		return rv;
	if (w->switch_user && find_tool("setpriv", tool, sizeof(tool)) < 0)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: user: setpriv (util-linux) is not installed (searched " TOOL_PATH ")",
				    prof);
	/* Memory and CPU bandwidth are a cgroup's, joined (by the spawner)
	 * before the launcher, so firejail and the whole sandbox are in it. */
	{
		struct cgroup_limits cl = { .memory = p->limits.memory, .cpu_milli = p->limits.cpus_milli };
		if ((rv = job_cgroup_check(&cl, &why)) < 0)
			return rstatus_fail(st, RS_FAILED_PRECONDITION, "profile %s: %.400s", prof, why.message);
	}
	/* RLIMIT_NPROC never binds root: there, only a pids cgroup will do. */
	if (p->limits.processes > 0 && w->uid == 0 && !use_pids_cgroup(&why))
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: limits.processes: RLIMIT_NPROC does not bind uid 0 (the "
				    "kernel exempts root) and no pids cgroup is usable (%s); set user to a "
				    "regular user",
				    prof, why.message);
	/* A writable path the sandbox cannot even see is a rule not enforced. */
	for (char **rw = p->read_write; rw && *rw; rw++)
		if ((rule = hiding_rule(p, *rw)) != NULL)
			return rstatus_fail(st, RS_FAILED_PRECONDITION,
					    "profile %s: filesystem.read_write: %s is not visible in the sandbox (%s)",
					    prof, *rw, rule);
	/* firejail silently leaves other users' paths read-only for a user. */
	if (w->uid != 0) {
		for (char **rw = p->read_write; rw && *rw; rw++) {
			struct stat sb;
			if (lstat(*rw, &sb) == 0 && sb.st_uid != w->uid)
				return rstatus_fail(st, RS_FAILED_PRECONDITION,
						    "profile %s: filesystem.read_write: %s belongs to uid %u, and "
						    "firejail makes only uid %u's own paths writable",
						    prof, *rw, (unsigned) sb.st_uid, (unsigned) w->uid);
		}
	}
	/* The sandbox must still see the shim (if it is installed at all:
	 * that is probe's business). */
	if (find_shim(shim, sizeof(shim), &ignored) == 0 && (rule = hiding_rule(p, shim)) != NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: %s would hide %s, which firejail runs must start", prof, rule, shim);
	if (p->workdir && (rule = hiding_rule(p, p->workdir)) != NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: %s hides the workdir %s inside the sandbox", prof, rule, p->workdir);
	return 0;
}

static int
fj_check(const struct policy *p, rstatus *st)
{
	struct who w;

	return check_policy(p, true, &w, st);
}

/* --- prepare ------------------------------------------------------------ */

struct plan {
	struct argv_build args;
	char **env;
	char cgroup[PATH_MAX]; /* the run's pids cgroup; "": none */
	struct job_cgroup *job_cg; /* memory and CPU bandwidth (job_cgroup.h) */
	char exec_error[sizeof(((rstatus *) 0)->message)];
};

static int
add(struct plan *pl, rstatus *st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
add(struct plan *pl, rstatus *st, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = argv_vadd(&pl->args, fmt, ap);
	va_end(ap);
	return rv < 0 ? rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory") : 0;
}

static void
plan_free(struct plan *pl)
{
	if (pl == NULL)
		return;
	argv_build_free(&pl->args);
	free(pl->env);
	job_cgroup_free(pl->job_cg);
	free(pl);
}

struct fs_rule {
	const char *path;
	bool read_only;
	size_t depth, order;
};

static int
rule_cmp(const void *a, const void *b)
{
	const struct fs_rule *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	/* On the same path read-only wins: it comes last. */
	if (x->read_only != y->read_only)
		return x->read_only ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static size_t
depth(const char *path)
{
	size_t d = 0;

	if (strcmp(path, "/") == 0)
		return 0;
	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* read_only and read_write as flags, each path after every path that
 * contains it, so the more specific rule is the one that holds. */
static int
add_fs_rules(struct plan *pl, const struct policy *p, rstatus *st)
{
	size_t n = 0, k = 0;
	struct fs_rule *rules;
	int rv = 0;

	for (char **s = p->read_only; s && *s; s++)
		n++;
	for (char **s = p->read_write; s && *s; s++)
		n++;
	if (n == 0)
		return 0;
	if ((rules = calloc(n, sizeof(*rules))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (char **s = p->read_write; s && *s; s++, k++)
		rules[k] = (struct fs_rule){ *s, false, depth(*s), k };
	for (char **s = p->read_only; s && *s; s++, k++)
		rules[k] = (struct fs_rule){ *s, true, depth(*s), k };
	qsort(rules, n, sizeof(*rules), rule_cmp);
	for (size_t i = 0; i < n && rv == 0; i++)
		rv = add(pl, st, "--%s=%s", rules[i].read_only ? "read-only" : "read-write", rules[i].path);
	free(rules);
	return rv;
}

/* A private /tmp: --private-tmp, or, when read_write or read_only paths
 * lie inside /tmp, --whitelist for each of them: the same fresh tmpfs on
 * /tmp, with those paths bound into it (their rw/ro flags follow). */
static int
add_tmp_rules(struct plan *pl, const struct policy *p, rstatus *st)
{
	char **lists[] = { p->read_write, p->read_only };
	char shim[PATH_MAX];
	bool any = false;
	int rv;

	if (shim_in_tmp(shim, sizeof(shim))) {
		if ((rv = add(pl, st, "--whitelist=%s", shim)) < 0 ||
		    (rv = add(pl, st, "--read-only=%s", shim)) < 0)
			return rv;
		any = true;
	}
	for (size_t l = 0; l < 2; l++)
		for (char **s = lists[l]; s && *s; s++)
			if (covers("/tmp", *s) && strcmp(*s, "/tmp") != 0) {
				if ((rv = add(pl, st, "--whitelist=%s", *s)) < 0)
					return rv;
				any = true;
			}
	return any ? 0 : add(pl, st, "--private-tmp");
}

/* Blacklist `path` unless another rule of `p` hides it already. */
static int
add_hide(struct plan *pl, const struct policy *p, const char *path, rstatus *st)
{
	rstatus why;

	if (hiding_rule(p, path) != NULL)
		return 0;
	/* Fail closed: a path that cannot be blacklisted stays visible. */
	if (check_path("--blacklist", path, &why) < 0)
		return rstatus_fail(st, RS_FAILED_PRECONDITION, "%s cannot be hidden from the sandbox: %s", path,
				    why.message);
	return add(pl, st, "--blacklist=%s", path);
}

/* runnerd's sockets and state directory and the engines' sockets are
 * hidden in every sandbox, whatever the profile says (control_plane.h). */
static int
add_control_plane_rules(struct plan *pl, const struct policy *p, rstatus *st)
{
	struct control_path *v;
	size_t n;
	int rv = 0;

	if ((v = control_plane_paths(&n)) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < n && rv == 0; i++)
		if (v[i].exists)
			rv = add_hide(pl, p, v[i].path, st);
	free(v);
	return rv;
}

static bool
listed_socket(const struct policy *p, const char *resolved)
{
	char real[PATH_MAX];

	for (char **u = p->unix_sockets; u && *u; u++) {
		control_plane_resolve(*u, real, sizeof(real));
		if (strcmp(real, resolved) == 0)
			return true;
	}
	return false;
}

/* Unix sockets allowed (the profile lists some): every other socket bound
 * on the host now is blacklisted, but those another rule hides already. */
static int
add_host_socket_rules(struct plan *pl, const struct policy *p, rstatus *st)
{
	char **socks = host_unix_sockets(), real[PATH_MAX];
	struct control_path cp;
	int rv = 0;

	if (socks == NULL)
		return rstatus_fail_errno(st, RS_FAILED_PRECONDITION, errno,
					  "cannot list the host's unix sockets (/proc/net/unix) to hide them");
	for (char **s = socks; *s && rv == 0; s++) {
		control_plane_resolve(*s, real, sizeof(real));
		if (listed_socket(p, real) || (control_plane_touched_by(real, false, &cp) && cp.exists))
			continue; /* allowed, or hidden with the control plane */
		rv = add_hide(pl, p, real, st);
	}
	free(socks);
	return rv;
}

/* The sandbox is gone: nothing of it may outlive it, and an OOM kill in
 * its cgroup is reported. */
static void
fj_exited(const struct backend_launch *launch, struct backend_outcome *out)
{
	struct plan *pl = launch->priv;

	job_cgroup_kill(pl->job_cg);
	if (out != NULL)
		out->oom_killed = job_cgroup_oom_killed(pl->job_cg);
}

static int
fj_prepare(const struct command *cmd, const struct policy *p, struct backend_launch *out,
	   rstatus *st)
{
	char fj[PATH_MAX], shim[PATH_MAX], tool[PATH_MAX], program[PATH_MAX];
	const struct policy_limits *l = &p->limits;
	const char *cwd = p->workdir ? p->workdir : cmd->cwd ? cmd->cwd : "/", *rule;
	struct plan *pl;
	struct who w;
	int rv;

	memset(out, 0, sizeof(*out));
	if ((rv = last_verdict(fj, sizeof(fj), st)) < 0 || (rv = find_shim(shim, sizeof(shim), st)) < 0 ||
	    (rv = check_policy(p, false, &w, st)) < 0)
		return rv;
	if ((rule = hiding_rule(p, cwd)) != NULL)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "cwd %s is not visible in the sandbox (profile %s: %s)", cwd,
				    p->profile ? p->profile : "?", rule);
	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	out->priv = pl;
	if (l->memory || l->cpus_milli) {
		struct cgroup_limits cl = { .memory = l->memory, .cpu_milli = l->cpus_milli };
		if ((rv = job_cgroup_create(&cl, &pl->job_cg, st)) < 0)
			return rv;
		out->setup.cgroup = pl->job_cg;
		out->exited = fj_exited;
	}

	/* Not runnable here: report it exactly as a direct spawn would, and
	 * start nothing. */
	if ((rv = spawn_resolve(cmd->argv[0], cmd->envp, cwd, program, sizeof(program))) < 0) {
		snprintf(pl->exec_error, sizeof(pl->exec_error), "execve %s: %s", cmd->argv[0],
			 strerror(-rv));
		out->exec_errno = -rv;
		out->exec_error = pl->exec_error;
		out->argv = cmd->argv;
		out->envp = cmd->envp;
		out->cwd = cwd;
		return 0;
	}

	/* The process limit: the run's own pids cgroup, joined before firejail
	 * starts (pids_cgroup.h), where the launcher, firejail, its init and
	 * runnerd-status are four more tasks; else RLIMIT_NPROC (check() made
	 * sure that binds, i.e. that the command is not root's). */
	rstatus why;
	bool cgroup = l->processes && use_pids_cgroup(&why);
	if (cgroup && (rv = pids_cgroup_create((unsigned long long) l->processes + WRAPPER_TASKS, pl->cgroup,
					       sizeof(pl->cgroup), st)) < 0)
		return rv;
	/* The launcher: retries firejail's racy set-up, joins the cgroup. */
	if ((rv = add(pl, st, "%s", shim)) < 0 || (rv = add(pl, st, "--launch")) < 0 ||
	    (cgroup && (rv = add(pl, st, "--join-cgroup=%s", pl->cgroup)) < 0) || (rv = add(pl, st, "--")) < 0)
		return rv;
	if (w.switch_user) {
		if (find_tool("setpriv", tool, sizeof(tool)) < 0)
			return rstatus_fail(st, RS_FAILED_PRECONDITION, "setpriv (util-linux) is not installed");
		if ((rv = add(pl, st, "%s", tool)) < 0 || (rv = add(pl, st, "--reuid=%u", (unsigned) w.uid)) < 0 ||
		    (rv = add(pl, st, "--regid=%u", (unsigned) w.gid)) < 0 ||
		    (rv = add(pl, st, "--init-groups")) < 0 || (rv = add(pl, st, "--")) < 0)
			return rv;
	}
	size_t fj_at = pl->args.argc;
	bool unix_ok = p->unix_sockets && p->unix_sockets[0];
	if ((rv = add(pl, st, "%s", fj)) < 0 || (rv = add(pl, st, "--quiet")) < 0 ||
	    (rv = add(pl, st, "--noprofile")) < 0 || (rv = add(pl, st, "--deterministic-exit-code")) < 0 ||
	    (rv = add(pl, st, "--keep-fd=3,4,5")) < 0 || (rv = add(pl, st, "--caps.drop=all")) < 0 ||
	    (rv = add(pl, st, "--nonewprivs")) < 0 || (rv = add(pl, st, "--private-dev")) < 0 ||
	    (rv = add(pl, st, "--protocol=%s", unix_ok ? PROTOCOLS_WITH_UNIX : PROTOCOLS)) < 0 ||
	    (rv = add(pl, st, "--seccomp.drop=" NO_IO_URING)) < 0 ||
	    (rv = add(pl, st, "--seccomp.32.drop=" NO_32BIT_SOCKETCALL)) < 0 ||
	    (!p->network && (rv = add(pl, st, "--net=none")) < 0) ||
	    (p->private_tmp && (rv = add_tmp_rules(pl, p, st)) < 0) ||
	    (l->cpu_seconds && (rv = add(pl, st, "--rlimit-cpu=%llu", (unsigned long long) l->cpu_seconds)) < 0) ||
	    (l->address_space &&
	     (rv = add(pl, st, "--rlimit-as=%llu", (unsigned long long) l->address_space)) < 0) ||
	    (l->processes && !cgroup &&
	     (rv = add(pl, st, "--rlimit-nproc=%llu", (unsigned long long) l->processes)) < 0) ||
	    (l->file_size && (rv = add(pl, st, "--rlimit-fsize=%llu", (unsigned long long) l->file_size)) < 0) ||
	    (l->open_files && (rv = add(pl, st, "--rlimit-nofile=%llu", (unsigned long long) l->open_files)) < 0) ||
	    (p->restrict_writes && (rv = add(pl, st, "--read-only=/")) < 0) ||
	    (rv = add_fs_rules(pl, p, st)) < 0 ||
	    (p->hide_home && ((rv = add(pl, st, "--blacklist=/home")) < 0 ||
			      (rv = add(pl, st, "--blacklist=/root")) < 0)))
		return rv;
	for (char **h = p->hidden; h && *h; h++)
		if ((rv = add(pl, st, "--blacklist=%s", *h)) < 0)
			return rv;
	if ((rv = add_control_plane_rules(pl, p, st)) < 0 || (unix_ok && (rv = add_host_socket_rules(pl, p, st)) < 0))
		return rv;
	if ((rv = add(pl, st, "%s", shim)) < 0 || (rv = add(pl, st, STATUS_FD)) < 0 ||
	    (rv = add(pl, st, "--from-env")) < 0 || (rv = add(pl, st, "--end-sandbox")) < 0 ||
	    (rv = add(pl, st, "--launched")) < 0 ||
	    (unix_ok && p->network && (rv = add(pl, st, "--scope-abstract")) < 0) ||
	    (cmd->tty_rows > 0 && (rv = add(pl, st, "--tty")) < 0))
		return rv;
	if (pl->args.argc - fj_at > FIREJAIL_MAX_ARGS)
		return rstatus_fail(st, RS_FAILED_PRECONDITION,
				    "profile %s: the sandbox needs %zu firejail arguments and firejail takes at most %d "
				    "(rules, and with unix_sockets a blacklist per socket bound on the host)",
				    p->profile ? p->profile : "?", pl->args.argc - fj_at, FIREJAIL_MAX_ARGS);
	/* A terminal: runnerd's (raw) carries the bytes and the window size in,
	 * the shim makes the command's inside (status_shim.c). */
	out->tty = LAUNCH_TTY_WRAPPED;

	if ((pl->env = shim_env_encode(cwd[0] == '/' ? cwd : NULL, program, cmd->argv, cmd->envp)) == NULL)
		return errno == E2BIG ? rstatus_fail(st, RS_INVALID_ARGUMENT,
						     "command: argv and env are too large to pass through firejail")
				      : rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	out->argv = pl->args.argv;
	out->envp = pl->env;
	out->cwd = cwd;
	out->status_channel = true;
	return 0;
}

/* firejail records each sandbox as /run/firejail/sandbox/<its pid> and
 * removes the file when it exits; a firejail runnerd had to SIGKILL (a
 * command that outlived SIGTERM and the grace) cannot, and nothing else
 * ever does. Remove the records of firejails that no longer exist: the
 * file of a live firejail (any, ours or not) names a live pid. */
static void
sweep_dead_sandbox_records(void)
{
	DIR *d;
	struct dirent *e;

	if (geteuid() != 0 || (d = opendir(FIREJAIL_SANDBOX_DIR)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		if (kill((pid_t) pid, 0) != 0 && errno == ESRCH)
			(void) unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

static void
fj_release(struct backend_launch *launch)
{
	/* Only a plan that started something can have left a record. */
	struct plan *pl = launch->priv;

	if (pl != NULL && launch->status_channel)
		sweep_dead_sandbox_records();
	if (pl != NULL && pl->cgroup[0] != '\0')
		pids_cgroup_remove(pl->cgroup);
	plan_free(pl);
	launch->priv = NULL;
	launch->argv = NULL;
	launch->envp = NULL;
}

const struct backend_ops backend_firejail = {
	.name = "firejail",
	.probe = fj_probe,
	.probe_ok_ms = 0,
	.probe_failed_ms = PROBE_RETRY_MS,
	.check = fj_check,
	.prepare = fj_prepare,
	.release = fj_release,
	.init = fj_init,
};
