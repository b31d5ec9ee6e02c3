/* Unit tests of the firejail backend on the real firejail: jobs driven by a
 * real loop and reaper, as runnerd drives them, each restriction shown to
 * hold and its opposite shown to work. Each test runs in check's forked
 * child, which becomes a subreaper like runnerd. Needs root (user
 * switching, pids cgroups) and a regular user firejail accepts (uid >=
 * 1000, not nobody): an existing one, else one made for the run and
 * removed after. The programs the sandboxes run (runnerd-status,
 * fj_helper) are copied outside /tmp, /home and /root first, so that a
 * build tree in any of those still works with private_tmp and hide_home.
 * Safe to run concurrently with itself (markers carry the pid; runs as the
 * shared user take turns). */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "control_plane.h"
#include "firejail.h"
#include "job_harness.h"
#include "pids_cgroup.h"
#include "core/reaper.h"
#include "shim_env.h"
#include "unit_run.h"

#define PATH_ENV "PATH=/usr/local/bin:/usr/bin:/bin"

static char *base_env[] = { PATH_ENV, NULL };
static const struct backend_ops *fj;
static char fj_user[64];     /* a regular user firejail accepts */
/* Copies of runnerd-status and fj_helper outside /tmp, /home and /root
 * (where a build tree may well be), so that hide_home and private_tmp
 * leave them visible; scratch directories go there too. */
static char stage[256], shim_path[300], helper_path[300];
static bool created_user;

/* --- harness ------------------------------------------------------------ */

static const struct policy open_policy = { .profile = "t", .network = true };

struct harness {
	struct job_harness jh; /* its callbacks' arg */
	struct backend_launch launch;
	bool launched;
	struct job *job;
	const char *stdin_data; /* fed to the command's stdin (then EOF); NULL: none */
};

static void
harness_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	jh_init(&h->jh);
	fj = backend_find("firejail");
	ck_assert_ptr_nonnull(fj);
	firejail_set_shim_path(shim_path);
}

/* Prepare and run argv under `p` to completion; the result stays readable
 * until finish(). */
static const Runner__V1__RunResult *
run_env(struct harness *h, const struct policy *p, char **argv, char **envp, const char *cwd,
	uint64_t timeout_ms)
{
	struct command cmd = { .argv = argv, .envp = envp, .cwd = (char *) (cwd ? cwd : "/") };
	size_t in_len = h->stdin_data ? strlen(h->stdin_data) : 0;
	struct job_spec spec = {
		.launch = &h->launch,
		.stdin_pipe = in_len > 0,
		.timeout_ms = timeout_ms,
		.grace_ms = 5000,
		.linger_ms = 200,
	};
	rstatus st;

	jh_loop_open(&h->jh); /* a loop per run: a stopped loop stays stopped */
	ck_assert_int_eq(collect_init(&h->jh.io, (const uint8_t *) h->stdin_data, in_len, 1 << 20, 1 << 20, &st), 0);
	h->launched = true;
	if (fj->prepare(&cmd, p, &h->launch, &st) < 0)
		ck_abort_msg("prepare: %s", st.message);
	if (jh_run(&h->jh, &spec, &h->job, &st) < 0)
		ck_abort_msg("job_start: %s", st.message);
	const Runner__V1__RunResult *r = job_result(h->job);
	/* What firejail itself says when it fails (tests rarely expect it). */
	if (r->stderr.len > 0 && memmem(r->stderr.data, r->stderr.len, "Error", 5) != NULL)
		fprintf(stderr, "[%s] reason %d exit %d stderr: %.*s\n", argv[0], r->reason, r->exit_code,
			(int) r->stderr.len, (const char *) r->stderr.data);
	return r;
}

static const Runner__V1__RunResult *
run(struct harness *h, const struct policy *p, char **argv, uint64_t timeout_ms)
{
	return run_env(h, p, argv, base_env, "/", timeout_ms);
}

static void
finish(struct harness *h)
{
	job_free(h->job);
	h->job = NULL;
	jh_loop_close(&h->jh);
	if (h->launched)
		fj->release(&h->launch);
	h->launched = false;
	collect_free(&h->jh.io);
	memset(&h->jh.io, 0, sizeof(h->jh.io));
	h->jh.stopped = false;
	h->stdin_data = NULL;
}

/* stdout as a string (static, per call site copy needed). */
static char *
out_of(const Runner__V1__RunResult *r)
{
	static char buf[1 << 16];
	size_t n = r->stdout.len < sizeof(buf) - 1 ? r->stdout.len : sizeof(buf) - 1;

	memcpy(buf, r->stdout.data, n);
	buf[n] = '\0';
	return buf;
}

static char *
err_of(const Runner__V1__RunResult *r)
{
	static char buf[1 << 14];
	size_t n = r->stderr.len < sizeof(buf) - 1 ? r->stderr.len : sizeof(buf) - 1;

	memcpy(buf, r->stderr.data, n);
	buf[n] = '\0';
	return buf;
}

#define SH(script) ((char *[]){ "sh", "-c", (char *) (script), NULL })

/* `s` with each '@' replaced by this process's pid: process markers (the
 * "sleep 100.<pid>1" of a test) that no concurrent run of these tests
 * shares. */
static const char *
tagged(const char *s)
{
	static char bufs[8][512];
	static int next;
	char *out = bufs[next++ % 8], *o = out;

	for (; *s && o < out + 480; s++)
		o += *s == '@' ? sprintf(o, "%d", (int) getpid()) : (*o = *s, 1);
	*o = '\0';
	return out;
}

/* Processes whose command line contains `needle` (never ourselves). */
static int
count_procs(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL) {
		char path[300], buf[4096];
		ssize_t len;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		n += strstr(buf, needle) != NULL;
	}
	closedir(d);
	return n;
}

/* Wait (reaping what comes back to us) until nothing matches; the count. */
static int
wait_gone(const char *needle, int ms)
{
	int n;

	while ((n = count_procs(needle)) > 0 && ms > 0) {
		reaper_collect();
		usleep(20000);
		ms -= 20;
	}
	return n;
}

/* Entries firejail left in its per-sandbox state directories
 * (/run/firejail/sandbox/<pid> and the like) for firejails that are gone. */
static int
firejail_state_entries(void)
{
	const char *dirs[] = { "/run/firejail/sandbox", "/run/firejail/profile", "/run/firejail/name",
			       "/run/firejail/network", "/run/firejail/bandwidth" };
	int n = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;
		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			int pid = atoi(e->d_name);
			if (e->d_name[0] != '.' && (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))) {
				fprintf(stderr, "stale: %s/%s\n", dirs[i], e->d_name);
				n++;
			}
		}
		closedir(d);
	}
	return n;
}

/* Run cgroups of this process left under …/runnerd-firejail. */
static int
own_cgroups(void)
{
	char parent[4096], prefix[64];
	rstatus st;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (pids_cgroup_parent(parent, sizeof(parent), &st) < 0 || (d = opendir(parent)) == NULL)
		return -1;
	snprintf(prefix, sizeof(prefix), "run-%ld-", (long) getpid());
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
	close(fd);
	chmod(path, mode);
}

static char *
make_dir(char *tmpl)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	chmod(tmpl, 0755);
	return tmpl;
}

static void
rm_rf(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", path, (char *) NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* --- probe, check, prepare ------------------------------------------------ */

START_TEST(test_probe)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-probe-XXXXXX", script[300];
	rstatus st;

	harness_init(&h);
	ck_assert_msg(fj->probe(&st) == 0, "probe: %s", st.message);
	/* Each call looks afresh (runnerd caches verdicts in its probes). */
	ck_assert_int_eq(fj->probe(&st), 0);

	firejail_set_program("/nonexistent/firejail");
	ck_assert_int_lt(fj->probe(&st), 0);
	ck_assert_int_eq(st.code, RS_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(st.message, "not installed"));

	/* A firejail that cannot create sandboxes: its first stderr line. */
	make_dir(dir);
	snprintf(script, sizeof(script), "%s/firejail", dir);
	write_file(script, "#!/bin/sh\necho 'Error: cannot create namespaces' >&2\necho more >&2\nexit 1\n",
		   0755);
	firejail_set_program(script);
	ck_assert_int_lt(fj->probe(&st), 0);
	ck_assert_int_eq(st.code, RS_FAILED_PRECONDITION);
	ck_assert_msg(strstr(st.message, "cannot create sandboxes here: Error: cannot create namespaces") &&
			      !strstr(st.message, "more"),
		      "%s", st.message);

	firejail_set_program(NULL);
	ck_assert_msg(fj->probe(&st) == 0, "probe: %s", st.message);

	/* No shim: unusable, and why. */
	firejail_set_shim_path("/nonexistent/runnerd-status");
	ck_assert_int_lt(fj->probe(&st), 0);
	ck_assert_ptr_nonnull(strstr(st.message, "runnerd-status"));
	rm_rf(dir);
}
END_TEST

static size_t argv_index(char *const *argv, const char *s);

static int
check_fails(const struct policy *p, int code, const char *needle)
{
	rstatus st;

	ck_assert_int_lt(fj->check(p, &st), 0);
	ck_assert_int_eq(st.code, code);
	ck_assert_msg(strstr(st.message, needle) != NULL, "\"%s\" not in \"%s\"", needle, st.message);
	return 0;
}

START_TEST(test_check)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-check-XXXXXX", shim[300], cmdline[400];
	rstatus st;
	harness_init(&h);

	/* Everything firejail can enforce passes. */
	char *ro[] = { "/usr", NULL }, *rw[] = { "/srv", NULL }, *hid[] = { "/etc/shadow", NULL };
	struct policy ok = { .profile = "t", .network = false, .read_only = ro, .read_write = rw,
			     .hidden = hid, .restrict_writes = true, .private_tmp = true, .hide_home = true,
			     .limits = { .cpu_seconds = 1, .address_space = 1 << 30, .file_size = 1 << 20,
					 .open_files = 64 } };
	ck_assert_msg(fj->check(&ok, &st) == 0, "%s", st.message);

	/* Paths firejail would interpret, or that are not plain absolute paths. */
	const char *bad[] = { "relative/x", "/a/$HOME", "/a/*", "/a/b,c", "/a/\"q", "/a/back\\slash",
			      "/a/~", "/a/[x]", "/a/../etc", "/a//b", "/a/", "/a/{x}", "/a/%x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *list[] = { (char *) bad[i], NULL };
		struct policy p = { .profile = "t", .network = true, .hidden = list };
		check_fails(&p, RS_INVALID_ARGUMENT, "filesystem.hidden");
		struct policy q = { .profile = "t", .network = true, .read_only = list };
		check_fails(&q, RS_INVALID_ARGUMENT, "filesystem.read_only");
	}
	/* Template parameters of a profile at config load stand for paths;
	 * prepare sees them expanded (and "{{" left in a path is refused). */
	char *tmpl[] = { "{{workdir}}", "/srv/{{project}}/out", NULL };
	struct policy pt1 = { .profile = "t", .network = true, .read_write = tmpl, .workdir = "{{workdir}}" };
	ck_assert_msg(fj->check(&pt1, &st) == 0, "%s", st.message);
	char *tmplbad[] = { "{{workdir}}/a,b", NULL };
	struct policy pt2 = { .profile = "t", .network = true, .read_write = tmplbad };
	check_fails(&pt2, RS_INVALID_ARGUMENT, "followed by ','");
	char *ctl[] = { "/a/new\nline", NULL };
	struct policy pc = { .profile = "t", .network = true, .read_write = ctl };
	check_fails(&pc, RS_INVALID_ARGUMENT, "control byte 0x0a");

	/* Hiding runnerd-status would make every run fail. */
	char *hide_shim[] = { (char *) "/work", NULL };
	snprintf(cmdline, sizeof(cmdline), "%s", shim_path);
	*strchr(cmdline + 1, '/') = '\0'; /* its top directory */
	hide_shim[0] = cmdline;
	struct policy ph = { .profile = "t", .network = true, .hidden = hide_shim };
	check_fails(&ph, RS_FAILED_PRECONDITION, "filesystem.hidden would hide");
	/* ... or a private /tmp, for a shim in /tmp. */
	make_dir(dir);
	snprintf(shim, sizeof(shim), "%s/runnerd-status", dir);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/cp", "cp", shim_path, shim, (char *) NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	firejail_set_shim_path(shim);
	/* ... while a private /tmp keeps a shim in /tmp visible: bound into the
	 * fresh /tmp, read-only. */
	struct policy pt = { .profile = "t", .network = true, .private_tmp = true };
	ck_assert_msg(fj->check(&pt, &st) == 0, "check: %s", st.message);
	{
		char *targv[] = { "true", NULL }, *tenv[] = { PATH_ENV, NULL }, want[400];
		struct command tcmd = { .argv = targv, .envp = tenv, .cwd = "/" };
		struct backend_launch tl;

		ck_assert_msg(fj->prepare(&tcmd, &pt, &tl, &st) == 0, "%s", st.message);
		snprintf(want, sizeof(want), "--whitelist=%s", shim);
		argv_index(tl.argv, want);
		snprintf(want, sizeof(want), "--read-only=%s", shim);
		argv_index(tl.argv, want);
		fj->release(&tl);
	}
	firejail_set_shim_path(shim_path);
	rm_rf(dir);

	/* Docker-only settings are refused, not ignored. */
	struct policy pdk = { .profile = "t", .network = true, .docker = { .memory = 1 << 30 } };
	check_fails(&pdk, RS_FAILED_PRECONDITION, "docker backend only");

	/* A workdir the sandbox cannot see. */
	struct policy pw = { .profile = "t", .network = true, .hide_home = true, .workdir = "/root" };
	check_fails(&pw, RS_FAILED_PRECONDITION, "hides the workdir");

	/* A writable path the sandbox does not see: under firejail's own
	 * private /var/tmp, or hidden. (Under a private /tmp is fine: it is
	 * whitelisted into it.) */
	char *rwtmp[] = { "/tmp/somewhere", NULL }, *rwvartmp[] = { "/var/tmp/x", NULL };
	char *hidtmp[] = { "/tmp", NULL };
	struct policy prt = { .profile = "t", .network = true, .private_tmp = true, .read_write = rwtmp,
			      .workdir = "/tmp/somewhere/sub" };
	ck_assert_msg(fj->check(&prt, &st) == 0, "%s", st.message);
	struct policy prh = { .profile = "t", .network = true, .hidden = hidtmp, .read_write = rwtmp };
	check_fails(&prh, RS_FAILED_PRECONDITION, "/tmp/somewhere is not visible in the sandbox (filesystem.hidden)");
	struct policy prv = { .profile = "t", .network = true, .read_write = rwvartmp };
	check_fails(&prv, RS_FAILED_PRECONDITION, "firejail's private /var/tmp");

	/* Users: unknown, system users firejail refuses, root and nproc. */
	struct policy pu = { .profile = "t", .network = true, .user = "no-such-user-rd" };
	check_fails(&pu, RS_FAILED_PRECONDITION, "no user named");
	struct policy pn = { .profile = "t", .network = true, .user = "nobody" };
	check_fails(&pn, RS_FAILED_PRECONDITION, "firejail refuses system users");
	struct policy pd = { .profile = "t", .network = true, .user = "daemon" };
	check_fails(&pd, RS_FAILED_PRECONDITION, "firejail refuses system users");
	/* Root's process limit is a pids cgroup (usable here). */
	struct policy pr = { .profile = "t", .network = true, .limits = { .processes = 10 } };
	ck_assert_msg(fj->check(&pr, &st) == 0, "%s", st.message);
	struct policy pr2 = { .profile = "t", .network = true, .user = fj_user, .limits = { .processes = 10 } };
	ck_assert_msg(fj->check(&pr2, &st) == 0, "%s", st.message);
	/* firejail only makes the user's own paths writable. */
	char *rootowned[] = { "/usr/share", NULL };
	struct policy po = { .profile = "t", .network = true, .user = fj_user, .read_write = rootowned,
			     .restrict_writes = true };
	check_fails(&po, RS_FAILED_PRECONDITION, "belongs to uid 0");

	/* Listed unix sockets with the host network need Landlock's abstract
	 * socket scoping; without it only network none will do. */
	char *socks[] = { "/srv/app.sock", NULL };
	struct policy pl = { .profile = "t", .network = true, .unix_sockets = socks };
	firejail_use_landlock(false);
	check_fails(&pl, RS_FAILED_PRECONDITION, "every abstract unix socket in it");
	pl.network = false;
	ck_assert_msg(fj->check(&pl, &st) == 0, "%s", st.message);
	firejail_use_landlock(true);
	/* A listed socket the sandbox cannot see is a rule not enforced. */
	char *tmpsock[] = { "/tmp/app.sock", NULL };
	struct policy pts = { .profile = "t", .private_tmp = true, .unix_sockets = tmpsock };
	check_fails(&pts, RS_FAILED_PRECONDITION, "unix_sockets: /tmp/app.sock is not visible");
	/* runnerd's own sockets and state: never listed, never under a rule
	 * (a rule above them is fine: their blacklists come last). */
	const char *reqs[] = { "/srv/rd-own/r.sock", NULL }, *strs[] = { "/srv/rd-own/r-stream.sock", NULL };
	struct backend_config bc = { .instance = "0", .state_dir = "/srv/rd-own/r.state",
				     .request_sockets = reqs, .stream_sockets = strs };
	char *own_sock[] = { "/srv/rd-own/r-stream.sock", NULL }, *own_state[] = { "/srv/rd-own/r.state/x", NULL },
	     *above[] = { "/srv", NULL };
	control_plane_configure(&bc);
	struct policy pown = { .profile = "t", .unix_sockets = own_sock };
	check_fails(&pown, RS_FAILED_PRECONDITION, "unix_sockets: /srv/rd-own/r-stream.sock would expose "
						   "/srv/rd-own/r-stream.sock (runnerd's own stream socket)");
	struct policy pst = { .profile = "t", .user = fj_user, .read_only = own_state };
	check_fails(&pst, RS_FAILED_PRECONDITION, "filesystem.read_only: /srv/rd-own/r.state/x would expose "
						  "/srv/rd-own/r.state (runnerd's state directory)");
	struct policy pab = { .profile = "t", .read_only = above };
	ck_assert_msg(fj->check(&pab, &st) == 0, "%s", st.message);
	bc.request_sockets = bc.stream_sockets = NULL;
	bc.state_dir = NULL;
	control_plane_configure(&bc);
}
END_TEST

static size_t
argv_index(char *const *argv, const char *s)
{
	for (size_t i = 0; argv[i]; i++)
		if (strcmp(argv[i], s) == 0)
			return i;
	ck_abort_msg("%s not in argv", s);
	return 0;
}

START_TEST(test_argv_layout)
{
	struct harness h;
	char *ro[] = { "/srv/data/ro", "/usr", NULL }, *rw[] = { "/srv/data", "/srv/data/ro/rw", NULL };
	char *hid[] = { "/etc/shadow", NULL };
	struct policy p = { .profile = "t", .network = false, .read_only = ro, .read_write = rw,
			    .hidden = hid, .restrict_writes = true, .private_tmp = true, .hide_home = true,
			    .limits = { .cpu_seconds = 2, .address_space = 1 << 28, .file_size = 4096,
					.open_files = 32 } };
	char *argv[] = { "printf", "%s\\n", "a b", "--net=eth0", NULL };
	char *envp[] = { PATH_ENV, "SHELL=/bin/custom", NULL };
	struct command cmd = { .argv = argv, .envp = envp, .cwd = "/" };
	struct backend_launch l;
	struct shim_cmd dec;
	rstatus st;

	harness_init(&h);
	ck_assert_msg(fj->prepare(&cmd, &p, &l, &st) == 0, "%s", st.message);
	/* The launcher first, then firejail. */
	ck_assert_str_eq(l.argv[0], shim_path);
	ck_assert_str_eq(l.argv[1], "--launch");
	ck_assert_str_eq(l.argv[2], "--");
	char *const *a = l.argv + 3;
	const char *expect_head[] = { "--quiet", "--noprofile", "--deterministic-exit-code", "--keep-fd=3,4,5",
				      "--caps.drop=all", "--nonewprivs", "--private-dev", "--protocol=inet,inet6",
				      "--seccomp.drop=io_uring_setup,io_uring_enter,io_uring_register",
				      "--seccomp.32.drop=socketcall,io_uring_setup,io_uring_enter,io_uring_register",
				      "--net=none",
				      "--private-tmp", "--rlimit-cpu=2", "--rlimit-as=268435456",
				      "--rlimit-fsize=4096", "--rlimit-nofile=32", "--read-only=/",
				      "--read-only=/usr", "--read-write=/srv/data", "--read-only=/srv/data/ro",
				      "--read-write=/srv/data/ro/rw", "--blacklist=/home", "--blacklist=/root",
				      "--blacklist=/etc/shadow", NULL };
	const char *expect_tail[] = { shim_path, "3", "--from-env", "--end-sandbox", "--launched", NULL };
	size_t k = 1, n_cp;
	struct control_path *cp = control_plane_paths(&n_cp);
	ck_assert_ptr_nonnull(strstr(a[0], "firejail"));
	for (size_t i = 0; expect_head[i]; i++, k++)
		ck_assert_msg(a[k] && strcmp(a[k], expect_head[i]) == 0, "argv[%zu] = %s, want %s", k,
			      a[k] ? a[k] : "(end)", expect_head[i]);
	/* Then the control plane, hidden in every sandbox: the engines'
	 * sockets that exist here (no runnerd configured this process). */
	for (size_t i = 0; i < n_cp; i++, k++) {
		char want[PATH_MAX + 16];
		ck_assert(cp[i].exists);
		snprintf(want, sizeof(want), "--blacklist=%s", cp[i].path);
		ck_assert_msg(a[k] && strcmp(a[k], want) == 0, "argv[%zu] = %s, want %s", k, a[k] ? a[k] : "(end)",
			      want);
	}
	free(cp);
	for (size_t i = 0; expect_tail[i]; i++, k++)
		ck_assert_msg(a[k] && strcmp(a[k], expect_tail[i]) == 0, "argv[%zu] = %s, want %s", k,
			      a[k] ? a[k] : "(end)", expect_tail[i]);
	ck_assert_ptr_null(a[k]);
	/* No "--" in firejail's arguments: firejail 0.9.72 would run the
	 * command through bash. */
	for (size_t i = 0; a[i]; i++)
		ck_assert_str_ne(a[i], "--");
	ck_assert(l.status_channel);
	ck_assert_int_eq(l.exec_errno, 0);
	ck_assert_str_eq(l.cwd, "/");
	/* The command is in the environment, resolved, argv[0] as given. */
	ck_assert_int_eq(strncmp(l.envp[0], SHIM_ENV_PREFIX "0=", strlen(SHIM_ENV_PREFIX) + 2), 0);
	ck_assert_ptr_null(l.envp[1]);
	ck_assert_int_eq(shim_env_decode(l.envp, &dec), 0);
	ck_assert_str_eq(dec.cwd, "/");
	ck_assert_str_eq(dec.path, "/usr/bin/printf");
	for (size_t i = 0; argv[i]; i++)
		ck_assert_str_eq(dec.argv[i], argv[i]);
	ck_assert_ptr_null(dec.argv[4]);
	ck_assert_str_eq(dec.envp[0], PATH_ENV);
	ck_assert_str_eq(dec.envp[1], "SHELL=/bin/custom");
	ck_assert_ptr_null(dec.envp[2]);
	shim_cmd_free(&dec);
	fj->release(&l);

	/* More rules than firejail's 127 arguments: refused, not started. */
	{
		static char paths[130][32];
		char *many[131];
		for (int i = 0; i < 130; i++) {
			snprintf(paths[i], sizeof(paths[i]), "/srv/hidden-%d", i);
			many[i] = paths[i];
		}
		many[130] = NULL;
		struct policy pm = { .profile = "t", .network = true, .hidden = many };
		ck_assert_int_lt(fj->prepare(&cmd, &pm, &l, &st), 0);
		ck_assert_msg(strstr(st.message, "firejail takes at most 127"), "%s", st.message);
		fj->release(&l);
	}

	/* A user: setpriv first, numeric ids. */
	struct passwd *pw = getpwnam(fj_user);
	char reuid[64];
	struct policy pu = { .profile = "t", .network = true, .user = fj_user };
	ck_assert_msg(fj->prepare(&cmd, &pu, &l, &st) == 0, "%s", st.message);
	snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned) pw->pw_uid);
	ck_assert_ptr_nonnull(strstr(l.argv[3], "setpriv"));
	ck_assert_str_eq(l.argv[4], reuid);
	ck_assert_int_eq(argv_index(l.argv + 3, "--init-groups"), 3);
	ck_assert_int_eq(argv_index(l.argv + 3, "--"), 4);
	ck_assert_ptr_nonnull(strstr(l.argv[8], "firejail"));
	fj->release(&l);

	/* Root with a process limit: the run's own pids cgroup, joined first;
	 * no --rlimit-nproc (it would not bind root); removed by release. */
	struct policy pp = { .profile = "t", .network = true, .limits = { .processes = 7 } };
	char maxpath[600], maxval[32] = "";
	ck_assert_msg(fj->prepare(&cmd, &pp, &l, &st) == 0, "%s", st.message);
	ck_assert_str_eq(l.argv[0], shim_path);
	ck_assert_str_eq(l.argv[1], "--launch");
	ck_assert_int_eq(strncmp(l.argv[2], "--join-cgroup=", 14), 0);
	ck_assert_str_eq(l.argv[3], "--");
	ck_assert_ptr_nonnull(strstr(l.argv[4], "firejail"));
	for (size_t i = 0; l.argv[i]; i++)
		ck_assert_int_ne(strncmp(l.argv[i], "--rlimit-nproc", 14), 0);
	snprintf(maxpath, sizeof(maxpath), "%s/pids.max", l.argv[2] + 14);
	int mfd = open(maxpath, O_RDONLY);
	ck_assert_int_ge(mfd, 0);
	ck_assert_int_gt(read(mfd, maxval, sizeof(maxval) - 1), 0);
	close(mfd);
	ck_assert_str_eq(maxval, "11\n"); /* 7 + launcher, firejail, its init, runnerd-status */
	snprintf(maxpath, sizeof(maxpath), "%s", l.argv[2] + 14);
	fj->release(&l);
	ck_assert_int_eq(access(maxpath, F_OK), -1);

	/* A prepare that fails half-way is released all the same. */
	char *bad[] = { "/ok", "/not,ok", NULL };
	struct policy pb = { .profile = "t", .network = true, .hidden = bad };
	ck_assert_int_lt(fj->prepare(&cmd, &pb, &l, &st), 0);
	ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	ck_assert_msg(strstr(st.message, "filesystem.hidden: path \"/not\" is followed by ','"), "%s", st.message);
	fj->release(&l);
}
END_TEST

/* The command's trip through the environment: big, '%'-laden strings
 * split over many variables come back byte for byte. */
START_TEST(test_shim_env)
{
	size_t big = 300000;
	char *a = malloc(big + 1), *e = malloc(big + 1), **enc;
	struct shim_cmd dec;
	size_t n = 0;

	for (size_t i = 0; i < big; i++) {
		a[i] = (i % 7 == 0 || i % 65536 < 3) ? '%' : (char) ('a' + i % 26);
		e[i] = (i % 5 == 0) ? '%' : (char) ('A' + i % 26);
	}
	a[big] = e[big] = '\0';
	memcpy(e, "BIG=", 4);
	char *argv[] = { "prog", a, "", "%", "%a%e%%", NULL }, *envp[] = { e, "X=%", NULL };
	ck_assert_ptr_nonnull(enc = shim_env_encode("/some dir/%c", "/bin/prog", argv, envp));
	for (; enc[n]; n++) {
		ck_assert_uint_le(strlen(enc[n]), strlen(SHIM_ENV_PREFIX) + 4 + SHIM_ENV_CHUNK);
		char name[48];
		snprintf(name, sizeof(name), SHIM_ENV_PREFIX "%zu=", n);
		ck_assert_int_eq(strncmp(enc[n], name, strlen(name)), 0);
	}
	ck_assert_uint_gt(n, 8);
	/* Order in the environment does not matter, and strangers are ignored. */
	char **mixed = calloc(n + 3, sizeof(char *));
	mixed[0] = "container=firejail";
	for (size_t i = 0; i < n; i++)
		mixed[1 + i] = enc[n - 1 - i];
	mixed[n + 1] = "SHELL=/bin/bash";
	ck_assert_int_eq(shim_env_decode(mixed, &dec), 0);
	ck_assert_str_eq(dec.cwd, "/some dir/%c");
	ck_assert_str_eq(dec.path, "/bin/prog");
	for (size_t i = 0; argv[i]; i++)
		ck_assert_str_eq(dec.argv[i], argv[i]);
	ck_assert_ptr_null(dec.argv[5]);
	ck_assert_str_eq(dec.envp[0], e);
	ck_assert_str_eq(dec.envp[1], "X=%");
	ck_assert_ptr_null(dec.envp[2]);
	shim_cmd_free(&dec);
	free(enc);
	free(mixed);

	/* Malformed or missing. */
	char *none[] = { "A=b", NULL }, *badesc[] = { SHIM_ENV_PREFIX "0=/p%aprog%x%a", NULL },
	     *unterminated[] = { SHIM_ENV_PREFIX "0=/p%aprog", NULL },
	     *noargv[] = { SHIM_ENV_PREFIX "0=/p%a", NULL },
	     *envfirst[] = { SHIM_ENV_PREFIX "0=A=1%e/p%aprog%a", NULL };
	ck_assert_int_eq(shim_env_decode(none, &dec), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(shim_env_decode(badesc, &dec), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(shim_env_decode(unterminated, &dec), -1);
	ck_assert_int_eq(shim_env_decode(noargv, &dec), -1);
	/* Out of order: an argument after an environment entry. */
	ck_assert_int_eq(shim_env_decode(envfirst, &dec), -1);
	ck_assert_int_eq(errno, EINVAL);
	free(a);
	free(e);
}
END_TEST

/* firejail's racy set-up ("Access error: ... invalid read-only mount"):
 * run again, the failed attempts' messages kept out of the command's
 * stderr; any other set-up failure is final and shown. */
START_TEST(test_setup_retry)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-retry-XXXXXX", fake[300], count[300], script[2048], buf[16] = "";
	const Runner__V1__RunResult *r;
	rstatus st;
	int fd;

	harness_init(&h);
	make_dir(dir);
	snprintf(fake, sizeof(fake), "%s/firejail", dir);
	snprintf(count, sizeof(count), "%s/count", dir);
	/* Fails while the counter file says fewer than 2 failures so far (or
	 * always with MODE=hard), else is the real firejail. */
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "if [ -f %s ]; then n=$(cat %s); n=$((n+1)); echo $n > %s\n"
		 "  if [ -f %s/hard ]; then echo 'Error: not transient' >&2; exit 1; fi\n"
		 "  if [ $n -le 2 ]; then echo 'Access error: uid 0, last mount name:/ dir:/x type:overlay - "
		 "invalid read-only mount' >&2; exit 1; fi\n"
		 "fi\n"
		 "exec /usr/bin/firejail \"$@\"\n",
		 count, count, count, dir);
	write_file(fake, script, 0755);
	firejail_set_program(fake);
	ck_assert_msg(fj->probe(&st) == 0, "%s", st.message);
	write_file(count, "0\n", 0644);

	r = run(&h, &open_policy, SH("echo ok; echo err >&2"), 0);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_str_eq(out_of(r), "ok\n");
	ck_assert_str_eq(err_of(r), "err\n");
	finish(&h);
	fd = open(count, O_RDONLY);
	ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	ck_assert_str_eq(buf, "3\n"); /* two failures, then the real one */

	/* Not the racy kind: once, and its message is the command's stderr. */
	write_file(count, "0\n", 0644);
	snprintf(script, sizeof(script), "%s/hard", dir);
	write_file(script, "", 0644);
	r = run(&h, &open_policy, SH("echo ok"), 0);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_eq(r->exit_code, 1);
	ck_assert_str_eq(out_of(r), "");
	ck_assert_str_eq(err_of(r), "Error: not transient\n");
	finish(&h);
	fd = open(count, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	ck_assert_str_eq(buf, "1\n");
	firejail_set_program(NULL);
	rm_rf(dir);
}
END_TEST

/* --- outcomes ------------------------------------------------------------- */


START_TEST(test_exit_code)
{
	struct harness h;
	harness_init(&h);
	const Runner__V1__RunResult *r = run(&h, &open_policy, SH("echo out; echo err >&2; exit 3"), 0);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_eq(r->exit_code, 3);
	ck_assert_str_eq(out_of(r), "out\n");
	ck_assert_str_eq(err_of(r), "err\n");
	ck_assert_int_gt(r->pid, 0);
	finish(&h);
	ck_assert_int_eq(firejail_state_entries(), 0);
}
END_TEST

START_TEST(test_signal_exact)
{
	struct harness h;
	harness_init(&h);
	const Runner__V1__RunResult *r = run(&h, &open_policy, SH("kill -9 $$"), 0);

	/* Not firejail's "exit 137". */
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_int_eq(r->signal, 9);
	ck_assert_int_eq(r->exit_code, 0);
	finish(&h);
	r = run(&h, &open_policy, SH("exit 137"), 0);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_eq(r->exit_code, 137);
	finish(&h);
}
END_TEST

START_TEST(test_not_found)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-nf-XXXXXX", file[300];
	harness_init(&h);
	const Runner__V1__RunResult *r = run(&h, &open_policy, (char *[]){ "no-such-program-rd", NULL }, 0);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(r->exec_errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(r->exec_error, "no-such-program-rd"));
	ck_assert_int_eq(r->pid, 0); /* nothing was started */
	finish(&h);

	/* Found but not executable. */
	make_dir(dir);
	snprintf(file, sizeof(file), "%s/tool", dir);
	write_file(file, "#!/bin/sh\necho hi\n", 0644);
	r = run(&h, &open_policy, (char *[]){ file, NULL }, 0);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(r->exec_errno, EACCES);
	finish(&h);

	/* Present outside, absent inside (the private /tmp): the shim reports
	 * the exec failure from within the sandbox. */
	chmod(file, 0755);
	r = run(&h, &open_policy, (char *[]){ file, NULL }, 0);
	ck_assert_msg(r->reason == RUNNER__V1__TERMINATION__EXITED && strcmp(out_of(r), "hi\n") == 0,
		      "reason %d exit %d errno %d out \"%s\" err \"%s\"", r->reason, r->exit_code, r->exec_errno,
		      out_of(r), err_of(r));
	finish(&h);
	struct policy pt = { .profile = "t", .network = true, .private_tmp = true };
	r = run(&h, &pt, (char *[]){ file, NULL }, 0);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(r->exec_errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(r->exec_error, "inside the sandbox"));
	finish(&h);
	rm_rf(dir);
}
END_TEST

START_TEST(test_env_and_cwd)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-cwd-XXXXXX";
	char *envp[] = { PATH_ENV, "FOO=bar baz", "SHELL=/bin/custom", "PWD=/elsewhere",
			 "PCT=100%a%e%%", "EMPTY=", NULL };
	harness_init(&h);
	make_dir(dir);

	/* Exactly the environment given: none of firejail's additions
	 * (container=, FIREJAIL_QUIET=, SHLVL=, ...), none of its overrides. */
	const Runner__V1__RunResult *r = run_env(&h, &open_policy, (char *[]){ "env", NULL }, envp, dir, 0);
	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_str_eq(out_of(r), PATH_ENV "\nFOO=bar baz\nSHELL=/bin/custom\nPWD=/elsewhere\n"
					    "PCT=100%a%e%%\nEMPTY=\n");
	finish(&h);

	/* The request's cwd, then the profile's workdir over it. */
	r = run_env(&h, &open_policy, (char *[]){ "pwd", NULL }, base_env, dir, 0);
	ck_assert_str_eq(out_of(r), strcat(strcpy((char[64]){ 0 }, dir), "\n"));
	finish(&h);
	struct policy pw = { .profile = "t", .network = true, .workdir = "/usr" };
	r = run_env(&h, &pw, (char *[]){ "pwd", NULL }, base_env, dir, 0);
	ck_assert_str_eq(out_of(r), "/usr\n");
	finish(&h);

	/* A relative program path is relative to that directory. */
	char tool[300];
	snprintf(tool, sizeof(tool), "%s/tool", dir);
	write_file(tool, "#!/bin/sh\necho tool ran\n", 0755);
	r = run_env(&h, &open_policy, (char *[]){ "./tool", NULL }, base_env, dir, 0);
	ck_assert_str_eq(out_of(r), "tool ran\n");
	finish(&h);
	rm_rf(dir);
}
END_TEST

/* Beyond firejail's own limits (127 arguments, 4127 bytes each). */
START_TEST(test_large_command)
{
	struct harness h;
	size_t n = 400, script_len = 20000;
	char **argv = calloc(n + 5, sizeof(char *)), *script = malloc(script_len + 64);
	harness_init(&h);

	/* A 20 kB script: ": xxxx...; echo ..." */
	memset(script, 'x', script_len);
	script[0] = ':';
	script[1] = ' ';
	strcpy(script + script_len, "; echo $# \"$1\" \"${399}\"");
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = script;
	argv[3] = "zero";
	for (size_t i = 0; i < n; i++)
		ck_assert_int_gt(asprintf(&argv[4 + i], "arg%zu", i + 1), 0);
	argv[4 + n] = NULL;
	const Runner__V1__RunResult *r = run(&h, &open_policy, argv, 0);
	ck_assert_msg(r->exit_code == 0, "exit %d: %s", r->exit_code, err_of(r));
	ck_assert_str_eq(out_of(r), "400 arg1 arg399\n");
	finish(&h);
	for (size_t i = 0; i < n; i++)
		free(argv[4 + i]);
	free(argv);
	free(script);
}
END_TEST

START_TEST(test_clean_process_state)
{
	struct harness h;
	harness_init(&h);
	/* Only 0-2 (and ls's own directory fd): fd 3 stays with the shim. */
	const Runner__V1__RunResult *r = run(&h, &open_policy, (char *[]){ "ls", "/proc/self/fd", NULL }, 0);
	ck_assert_str_eq(out_of(r), "0\n1\n2\n3\n");
	finish(&h);
	/* No signal ignored or blocked, whatever firejail left (it ignores
	 * SIGQUIT); glibc's reserved 32/33 aside (see unit_job). */
	r = run(&h, &open_policy, (char *[]){ "cat", "/proc/self/status", NULL }, 0);
	const char *blk = strstr(out_of(r), "SigBlk:"), *ign = strstr(out_of(r), "SigIgn:");
	uint64_t glibc_reserved = (1ull << 31) | (1ull << 32);
	ck_assert(blk && ign);
	ck_assert_uint_eq(strtoull(blk + 7, NULL, 16), 0);
	ck_assert_uint_eq(strtoull(ign + 7, NULL, 16) & ~glibc_reserved, 0);
	finish(&h);
}
END_TEST

/* --- restrictions and their opposites ------------------------------------ */

static int
listen_local(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *) &sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

START_TEST(test_network)
{
	struct harness h;
	char port[16];
	int p, lfd = listen_local(&p);
	harness_init(&h);
	snprintf(port, sizeof(port), "%d", p);

	struct policy none = { .profile = "t", .network = false };
	const Runner__V1__RunResult *r = run(&h, &none, (char *[]){ helper_path, "connect", port, NULL }, 0);
	ck_assert_int_eq(r->exit_code, 1);
	ck_assert_str_eq(out_of(r), "connect: Connection refused\n");
	finish(&h);

	r = run(&h, &open_policy, (char *[]){ helper_path, "connect", port, NULL }, 0);
	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_str_eq(out_of(r), "connected\n");
	finish(&h);
	close(lfd);
}
END_TEST

START_TEST(test_restrict_writes)
{
	struct harness h;
	/* Outside /tmp, which the private /tmp below would hide. */
	char dir[300], rwdir[320], rodir[320], script[2048], path[400];
	snprintf(dir, sizeof(dir), "%s/rd-fj-rw-XXXXXX", stage);
	struct stat sb;
	harness_init(&h);
	make_dir(dir);
	snprintf(rwdir, sizeof(rwdir), "%s/rw", dir);
	snprintf(rodir, sizeof(rodir), "%s/rw/ro", dir);
	mkdir(rwdir, 0755);
	mkdir(rodir, 0755);
	snprintf(script, sizeof(script),
		 "echo a > %s/in && echo in-ok; "
		 "echo b > %s/out 2>/dev/null && echo out-written || echo out-refused; "
		 "echo c > %s/nested 2>/dev/null && echo nested-written || echo nested-refused; "
		 "echo d > /var/tmp/rd-fj-x%d 2>/dev/null; echo e > /tmp/rd-fj-rw-probe%d 2>/dev/null "
		 "&& echo tmp-written || echo tmp-refused",
		 rwdir, dir, rodir, (int) getpid(), (int) getpid());

	char *rw[] = { rwdir, NULL }, *ro[] = { rodir, NULL };
	struct policy p = { .profile = "t", .network = true, .restrict_writes = true, .read_write = rw,
			    .read_only = ro };
	const Runner__V1__RunResult *r = run(&h, &p, SH(script), 0);
	ck_assert_str_eq(out_of(r), "in-ok\nout-refused\nnested-refused\ntmp-refused\n");
	finish(&h);
	snprintf(path, sizeof(path), "%s/in", rwdir);
	ck_assert_int_eq(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(stat(path, &sb), -1);
	ck_assert_int_eq(stat(tagged("/tmp/rd-fj-rw-probe@"), &sb), -1);
	ck_assert_int_eq(stat(tagged("/var/tmp/rd-fj-x@"), &sb), -1); /* firejail's /var/tmp is its own */

	/* With a private /tmp, that one is writable (and gone afterwards). */
	p.private_tmp = true;
	r = run(&h, &p, SH(script), 0);
	ck_assert_str_eq(out_of(r), "in-ok\nout-refused\nnested-refused\ntmp-written\n");
	finish(&h);
	ck_assert_int_eq(stat(tagged("/tmp/rd-fj-rw-probe@"), &sb), -1);

	/* The opposite: no restriction, everything is written. */
	struct policy open = { .profile = "t", .network = true };
	r = run(&h, &open, SH(script), 0);
	ck_assert_str_eq(out_of(r), "in-ok\nout-written\nnested-written\ntmp-written\n");
	finish(&h);
	ck_assert_int_eq(stat(tagged("/tmp/rd-fj-rw-probe@"), &sb), 0);
	unlink(tagged("/tmp/rd-fj-rw-probe@"));
	unlink(tagged("/var/tmp/rd-fj-x@"));
	rm_rf(dir);
}
END_TEST

START_TEST(test_read_only)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-ro-XXXXXX", script[1024], file[300];
	harness_init(&h);
	make_dir(dir);
	snprintf(file, sizeof(file), "%s/f", dir);
	write_file(file, "content\n", 0644);
	snprintf(script, sizeof(script), "cat %s; echo x >> %s 2>/dev/null && echo appended || echo refused",
		 file, file);

	char *ro[] = { dir, NULL };
	struct policy p = { .profile = "t", .network = true, .read_only = ro };
	const Runner__V1__RunResult *r = run(&h, &p, SH(script), 0);
	ck_assert_str_eq(out_of(r), "content\nrefused\n");
	finish(&h);
	r = run(&h, &open_policy, SH(script), 0);
	ck_assert_str_eq(out_of(r), "content\nappended\n");
	finish(&h);
	rm_rf(dir);
}
END_TEST

START_TEST(test_hidden)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-hid-XXXXXX", file[300], sub[300], script[1024];
	harness_init(&h);
	make_dir(dir);
	snprintf(file, sizeof(file), "%s/secret", dir);
	snprintf(sub, sizeof(sub), "%s/subdir", dir);
	write_file(file, "topsecret\n", 0644);
	mkdir(sub, 0755);
	snprintf(script, sizeof(script), "%s/inner", sub);
	write_file(script, "innersecret\n", 0644);
	snprintf(script, sizeof(script), "cat %s/secret %s/inner 2>/dev/null; ls -A %s 2>/dev/null; echo end", dir,
		 sub, sub);

	char *hid[] = { file, sub, NULL };
	struct policy p = { .profile = "t", .network = true, .hidden = hid };
	const Runner__V1__RunResult *r = run(&h, &p, SH(script), 0);
	/* firejail covers a hidden file with an empty one, a directory with an
	 * empty unreadable one: nothing of either shows. */
	ck_assert_str_eq(out_of(r), "end\n");
	finish(&h);
	r = run(&h, &open_policy, SH(script), 0);
	ck_assert_str_eq(out_of(r), "topsecret\ninnersecret\ninner\nend\n");
	finish(&h);

	/* hide_home: nothing of /root or /home shows (a marker proves /root
	 * has something to hide). */
	char marker[] = "/root/.rd-fj-marker-XXXXXX";
	int mfd = mkstemp(marker);
	ck_assert_int_ge(mfd, 0);
	close(mfd);
	struct policy ph = { .profile = "t", .network = true, .hide_home = true };
	r = run(&h, &ph, SH("ls -A /root /home 2>/dev/null | grep -v '^/' | grep -v '^$'; echo end"), 0);
	ck_assert_str_eq(out_of(r), "end\n");
	finish(&h);
	char lsmark[400];
	snprintf(lsmark, sizeof(lsmark), "ls -A /root | grep -c '^%s$'", marker + 6);
	r = run(&h, &open_policy, SH(lsmark), 0);
	ck_assert_str_eq(out_of(r), "1\n");
	finish(&h);
	unlink(marker);
	rm_rf(dir);
}
END_TEST

START_TEST(test_private_tmp)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-pt-XXXXXX";
	harness_init(&h);
	make_dir(dir);

	struct policy p = { .profile = "t", .network = true, .private_tmp = true };
	const Runner__V1__RunResult *r =
		run(&h, &p, SH(tagged("ls -A /tmp; echo x > /tmp/rd-fj-pt-inside@ && cat /tmp/rd-fj-pt-inside@")), 0);
	ck_assert_str_eq(out_of(r), "x\n");
	finish(&h);
	ck_assert_int_eq(access(tagged("/tmp/rd-fj-pt-inside@"), F_OK), -1);

	r = run(&h, &open_policy, SH("ls -A /tmp | grep -c rd-fj-pt-"), 0);
	ck_assert_int_ge(atoi(out_of(r)), 1);
	finish(&h);
	rm_rf(dir);
}
END_TEST

/* read_write and read_only paths under a private /tmp stay visible (and
 * the working directory with them); nothing else of the host's /tmp does. */
START_TEST(test_private_tmp_exposed)
{
	struct harness h;
	char dir[] = "/tmp/rd-fj-wl-XXXXXX", rw[300], ro[300], script[2048], path[400];
	harness_init(&h);
	make_dir(dir);
	snprintf(rw, sizeof(rw), "%s/rw", dir);
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	mkdir(rw, 0755);
	mkdir(ro, 0755);
	snprintf(path, sizeof(path), "%s/data", ro);
	write_file(path, "ro-data\n", 0644);
	snprintf(path, sizeof(path), "%s/unlisted", dir);
	write_file(path, "x\n", 0644);
	snprintf(script, sizeof(script),
		 "pwd; ls -A /tmp; ls -A %s; cat %s/data; echo w > %s/out && echo rw-ok; "
		 "echo x > %s/x 2>/dev/null || echo ro-refused; echo t > /tmp/rd-fj-wl-scratch%d && echo tmp-ok",
		 dir, ro, rw, ro, (int) getpid());

	char *rwl[] = { rw, NULL }, *rol[] = { ro, NULL };
	struct policy p = { .profile = "t", .network = true, .private_tmp = true, .read_write = rwl,
			    .read_only = rol, .restrict_writes = true };
	char want[2048];
	snprintf(want, sizeof(want), "%s\n%s\nro\nrw\nro-data\nrw-ok\nro-refused\ntmp-ok\n", rw, dir + 5);
	const Runner__V1__RunResult *r = run_env(&h, &p, SH(script), base_env, rw, 0);
	ck_assert_str_eq(out_of(r), want);
	finish(&h);
	snprintf(path, sizeof(path), "%s/out", rw);
	ck_assert_int_eq(access(path, F_OK), 0);                        /* written through */
	ck_assert_int_eq(access(tagged("/tmp/rd-fj-wl-scratch@"), F_OK), -1);    /* the private part */
	rm_rf(dir);
}
END_TEST

/* The python tool-runner shape: JSON on stdin, JSON out, read-only root,
 * private /tmp, no home, no network, limits. */
START_TEST(test_python_tool)
{
	struct harness h;
	static const char tool[] =
		"import json, sys\n"
		"args = json.load(sys.stdin)\n"
		"out = {'sum': sum(args['numbers'])}\n"
		"try:\n open('/etc/owned', 'w'); out['fs'] = 'writable'\nexcept OSError: out['fs'] = 'read-only'\n"
		"print(json.dumps(out))\n";
	static const char input[] = "{\"numbers\": [1, 2, 39]}";
	char path[400];
	harness_init(&h);
	snprintf(path, sizeof(path), "%s/tool.py", stage);
	write_file(path, tool, 0644);

	struct policy p = { .profile = "t", .network = false, .restrict_writes = true, .private_tmp = true,
			    .hide_home = true,
			    .limits = { .address_space = 256u << 20, .processes = 32, .cpu_seconds = 10 } };
	h.stdin_data = input;
	const Runner__V1__RunResult *r = run(&h, &p, (char *[]){ "python3", path, NULL }, 30000);
	ck_assert_msg(r->exit_code == 0, "exit %d: %s", r->exit_code, err_of(r));
	ck_assert_str_eq(out_of(r), "{\"sum\": 42, \"fs\": \"read-only\"}\n");
	finish(&h);
	unlink(path);
}
END_TEST

START_TEST(test_address_space)
{
	struct harness h;
	harness_init(&h);
	struct policy p = { .profile = "t", .network = true, .limits = { .address_space = 256u << 20 } };
	const Runner__V1__RunResult *r = run(&h, &p, (char *[]){ helper_path, "alloc", "1073741824", NULL }, 0);
	ck_assert_int_eq(r->exit_code, 2);
	ck_assert_str_eq(out_of(r), "MemoryError\n");
	finish(&h);
	r = run(&h, &open_policy, (char *[]){ helper_path, "alloc", "1073741824", NULL }, 0);
	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_str_eq(out_of(r), "allocated\n");
	finish(&h);
}
END_TEST

START_TEST(test_file_size_and_open_files)
{
	struct harness h;
	harness_init(&h);
	struct policy p = { .profile = "t", .network = true, .private_tmp = true,
			    .limits = { .file_size = 4096, .open_files = 16 } };
	const Runner__V1__RunResult *r =
		run(&h, &p, SH("head -c 10000 /dev/zero > /tmp/big; ls -l /tmp/big | awk '{print $5}'; ulimit -n"), 0);
	ck_assert_str_eq(out_of(r), "4096\n16\n");
	finish(&h);
	struct policy q = { .profile = "t", .network = true, .private_tmp = true };
	r = run(&h, &q, SH("head -c 10000 /dev/zero > /tmp/big; ls -l /tmp/big | awk '{print $5}'"), 0);
	ck_assert_str_eq(out_of(r), "10000\n");
	finish(&h);
}
END_TEST

/* One fork bomb under `p`: forks fail, dash gives up ("Cannot fork")
 * before starting all 60, and the job ends without waiting for the sleeps
 * it did start, which go with it. */
static void
bomb_is_stopped(struct harness *h, const struct policy *p, const char *bomb)
{
	const Runner__V1__RunResult *r = run(h, p, SH(bomb), 20000);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_int_ne(r->exit_code, 0);
	ck_assert_msg(strstr(err_of(r), "Cannot fork") != NULL, "stderr: %s", err_of(r));
	ck_assert_ptr_null(strstr(out_of(r), "started 60"));
	ck_assert_uint_lt(r->wall_time_us, 10000000);
	finish(h);
	ck_assert_int_eq(wait_gone(tagged("sleep 30.@"), 3000), 0);
}

/* Runs as the test user count against each other's RLIMIT_NPROC:
 * concurrent runs of this program take turns for those. */
static int
user_lock(void)
{
	int fd = open("/tmp/.rd-fj-user.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	return fd;
}

START_TEST(test_processes)
{
	int lock = user_lock();
	struct harness h;
	/* 60 background sleeps, counted; each leaves a mark in its name. */
	const char *bomb = tagged("i=0; while [ $i -lt 60 ]; do sleep 30.@ & i=$((i+1)); done; echo started $i");
	const Runner__V1__RunResult *r;
	harness_init(&h);

	/* As root and as a user: the run's own pids cgroup, gone with it. */
	struct policy pr = { .profile = "t", .network = true, .limits = { .processes = 20 } };
	bomb_is_stopped(&h, &pr, bomb);
	struct policy pu = { .profile = "t", .network = true, .user = fj_user, .limits = { .processes = 20 } };
	bomb_is_stopped(&h, &pu, bomb);
	ck_assert_int_eq(own_cgroups(), 0);

	/* Without cgroups: RLIMIT_NPROC for a user (it counts all of the
	 * user's processes, so concurrent runs of this test take turns), and
	 * a refusal for root, which it would not bind. */
	firejail_use_pids_cgroup(false);
	bomb_is_stopped(&h, &pu, bomb);
	rstatus st;
	ck_assert_int_lt(fj->check(&pr, &st), 0);
	ck_assert_int_eq(st.code, RS_FAILED_PRECONDITION);
	ck_assert_msg(strstr(st.message, "limits.processes: RLIMIT_NPROC does not bind uid 0"), "%s", st.message);
	firejail_use_pids_cgroup(true);

	/* The runner is fine: more jobs run. */
	r = run(&h, &open_policy, SH("echo healthy"), 0);
	ck_assert_str_eq(out_of(r), "healthy\n");
	finish(&h);

	/* The opposite: without the limit all 60 start (and are killed when
	 * the shell exits: runnerd-status --end-sandbox). */
	struct policy q = { .profile = "t", .network = true, .user = fj_user };
	r = run(&h, &q, SH(bomb), 20000);
	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_str_eq(out_of(r), "started 60\n");
	ck_assert_uint_lt(r->wall_time_us, 10000000);
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 30.@"), 3000), 0);
	r = run(&h, &open_policy, SH(bomb), 20000);
	ck_assert_str_eq(out_of(r), "started 60\n");
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 30.@"), 3000), 0);
	close(lock);
}
END_TEST

START_TEST(test_run_as_user)
{
	int lock = user_lock();
	struct harness h;
	struct passwd *pw = getpwnam(fj_user);
	char want[64];
	harness_init(&h);

	struct policy p = { .profile = "t", .network = false, .user = fj_user };
	const Runner__V1__RunResult *r = run(&h, &p, SH("id -u; id -g; exit 5"), 0);
	snprintf(want, sizeof(want), "%u\n%u\n", (unsigned) pw->pw_uid, (unsigned) pw->pw_gid);
	ck_assert_str_eq(out_of(r), want);
	ck_assert_int_eq(r->exit_code, 5);
	finish(&h);

	/* A working directory the user cannot enter: firejail would quietly
	 * start in the user's home instead; runnerd-status refuses. */
	char closed[300];
	snprintf(closed, sizeof(closed), "%s/rd-fj-closed-XXXXXX", stage);
	ck_assert_ptr_nonnull(mkdtemp(closed)); /* 0700, root's */
	r = run_env(&h, &p, (char *[]){ "pwd", NULL }, base_env, closed, 0);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXEC_FAILED);
	ck_assert_int_eq(r->exec_errno, EACCES);
	ck_assert_msg(strstr(err_of(r), "cannot enter the working directory"), "%s", err_of(r));
	ck_assert_str_eq(out_of(r), "");
	finish(&h);
	rmdir(closed);
	close(lock);
}
END_TEST

START_TEST(test_cpu_limit)
{
	struct harness h;
	harness_init(&h);
	struct policy p = { .profile = "t", .network = true, .limits = { .cpu_seconds = 1 } };
	const Runner__V1__RunResult *r = run(&h, &p, SH("while :; do :; done"), 15000);

	/* firejail sets soft = hard, so the kernel's hard-limit SIGKILL comes
	 * with (or instead of) SIGXCPU. */
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_msg(r->signal == SIGKILL || r->signal == SIGXCPU, "signal %d", r->signal);
	ck_assert_uint_ge(r->user_time_us + r->system_time_us, 500000);
	ck_assert_uint_lt(r->wall_time_us, 10000000);
	fprintf(stderr, "cpu limit: signal %d after %.2f s\n", r->signal, r->wall_time_us / 1e6);
	finish(&h);

	/* 1.5 s of CPU: killed under the limit, finished without it. */
	r = run(&h, &p, (char *[]){ helper_path, "spin", "1500", NULL }, 15000);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__SIGNALED);
	ck_assert_str_eq(out_of(r), "");
	finish(&h);
	r = run(&h, &open_policy, (char *[]){ helper_path, "spin", "1500", NULL }, 15000);
	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__EXITED);
	ck_assert_str_eq(out_of(r), "spun\n");
	finish(&h);
}
END_TEST

/* --- stopping the whole sandbox ------------------------------------------ */

START_TEST(test_timeout_kills_tree)
{
	struct harness h;
	harness_init(&h);
	/* A background child, a grandchild that left the process group, and a
	 * foreground one; all in the sandbox's pid namespace. */
	const Runner__V1__RunResult *r =
		run(&h, &open_policy, SH(tagged("sleep 100.@1 & setsid sleep 100.@2 & sleep 100.@3")), 500);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_eq(r->signal, SIGTERM); /* the command's own fate, via the shim */
	fprintf(stderr, "timeout: done %.3f s after start (timeout 0.5 s)\n", r->wall_time_us / 1e6);
	ck_assert_uint_lt(r->wall_time_us, 4500000); /* before the 5 s grace: SIGTERM did it */
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 100.@"), 3000), 0);
	ck_assert_int_eq(wait_gone(shim_path, 1000), 0);
	ck_assert_int_eq(firejail_state_entries(), 0);
}
END_TEST

/* A command that ignores SIGTERM: SIGKILL after the grace takes it all. */
START_TEST(test_timeout_term_ignored)
{
	struct harness h;
	harness_init(&h);
	const Runner__V1__RunResult *r =
		run(&h, &open_policy, SH(tagged("trap '' TERM; sleep 100.@1 & sleep 100.@2; sleep 100.@3")), 300);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__TIMEOUT);
	ck_assert_int_eq(r->signal, SIGKILL);
	ck_assert_uint_lt(r->wall_time_us, 10000000);
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 100.@"), 3000), 0);
	/* The SIGKILLed firejail's record is swept by release. */
	ck_assert_int_eq(firejail_state_entries(), 0);
}
END_TEST

START_TEST(test_stop_kills_tree)
{
	struct harness h;
	harness_init(&h);
	h.jh.stop_on_output = true;
	const Runner__V1__RunResult *r =
		run(&h, &open_policy, SH(tagged("sleep 100.@1 & echo ready; sleep 100.@2")), 0);

	ck_assert_int_eq(r->reason, RUNNER__V1__TERMINATION__KILLED);
	ck_assert_str_eq(out_of(r), "ready\n");
	ck_assert_uint_lt(r->wall_time_us, 4500000);
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 100.@"), 3000), 0);
	ck_assert_int_eq(firejail_state_entries(), 0);
}
END_TEST

/* Exit with children still running: they go with the sandbox, the job
 * does not wait for them. */
START_TEST(test_leftovers_after_exit)
{
	struct harness h;
	harness_init(&h);
	const Runner__V1__RunResult *r = run(&h, &open_policy, SH(tagged("sleep 100.@ & exit 4")), 0);

	ck_assert_int_eq(r->exit_code, 4);
	ck_assert_uint_lt(r->wall_time_us, 5000000);
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 100.@"), 3000), 0);
}
END_TEST

/* ... including those that left the process group. */
START_TEST(test_leftovers_setsid)
{
	struct harness h;
	harness_init(&h);
	const Runner__V1__RunResult *r =
		run(&h, &open_policy, SH(tagged("setsid sleep 100.@ </dev/null >/dev/null 2>&1 & exit 0")), 0);

	ck_assert_int_eq(r->exit_code, 0);
	ck_assert_uint_lt(r->wall_time_us, 5000000);
	finish(&h);
	ck_assert_int_eq(wait_gone(tagged("sleep 100.@"), 3000), 0);
}
END_TEST

/* runnerd-status --end-sandbox outside a sandbox of its own (its parent
 * is not a pid namespace's init) must not kill(-1): nothing else dies. */
START_TEST(test_end_sandbox_guard)
{
	char *argv[] = { "/bin/true", NULL }, *envp[] = { PATH_ENV, NULL };
	char **enc = shim_env_encode("/", "/bin/true", argv, envp), buf[64] = "";
	char *shim_argv[] = { shim_path, "3", "--from-env", "--end-sandbox", NULL };
	int p[2], status;
	pid_t sentinel, shim;

	ck_assert_ptr_nonnull(enc);
	ck_assert_int_eq(pipe(p), 0);
	if ((sentinel = fork()) == 0) {
		execl("/bin/sleep", "sleep", "30.9191", (char *) NULL);
		_exit(127);
	}
	if ((shim = fork()) == 0) {
		dup2(p[1], 3);
		execve(shim_path, shim_argv, enc);
		_exit(127);
	}
	close(p[1]);
	ck_assert_int_eq(waitpid(shim, &status, 0), shim);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	ck_assert_str_eq(buf, "status 0\n");
	ck_assert_int_eq(kill(sentinel, 0), 0);
	ck_assert_int_eq(waitpid(sentinel, &status, WNOHANG), 0);
	kill(sentinel, SIGKILL);
	waitpid(sentinel, &status, 0);
	free(enc);
}
END_TEST

/* A regular user for firejail (uid >= UID_MIN, not nobody): an existing
 * one, or one made for the run. */
static void
find_or_make_user(void)
{
	struct passwd *pw;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		if (pw->pw_uid >= 1000 && pw->pw_uid < 60000 && strcmp(pw->pw_name, "nobody") != 0) {
			snprintf(fj_user, sizeof(fj_user), "%s", pw->pw_name);
			break;
		}
	}
	endpwent();
	if (fj_user[0] != '\0')
		return;
	snprintf(fj_user, sizeof(fj_user), "rd-fj-test");
	if (system("useradd -M -N -s /usr/sbin/nologin rd-fj-test") != 0) {
		fprintf(stderr, "cannot create a test user\n");
		exit(EXIT_FAILURE);
	}
	created_user = true;
}

static int
copy_exec(const char *from, const char *to)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/cp", "cp", from, to, (char *) NULL);
		_exit(127);
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			       chmod(to, 0755) == 0
		       ? 0
		       : -1;
}

static void
make_stage(void)
{
	const char *bases[] = { "/srv", "/opt", "/run", FJ_SCRATCH_DIR };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		snprintf(stage, sizeof(stage), "%s/rd-fj-test-XXXXXX", bases[i]);
		if (mkdtemp(stage) == NULL)
			continue;
		chmod(stage, 0755);
		snprintf(shim_path, sizeof(shim_path), "%s/runnerd-status", stage);
		snprintf(helper_path, sizeof(helper_path), "%s/fj_helper", stage);
		if (copy_exec(RUNNERD_STATUS_PATH, shim_path) == 0 && copy_exec(FJ_HELPER_PATH, helper_path) == 0)
			return;
		rm_rf(stage);
	}
	fprintf(stderr, "cannot stage the test programs\n");
	exit(EXIT_FAILURE);
}

int
main(void)
{
	Suite *s = suite_create("unit_firejail");
	TCase *tc = tcase_create("firejail");
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "unit_firejail needs root\n");
		return EXIT_FAILURE;
	}
	find_or_make_user();
	make_stage();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_probe);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_argv_layout);
	tcase_add_test(tc, test_shim_env);
	tcase_add_test(tc, test_setup_retry);
	tcase_add_test(tc, test_exit_code);
	tcase_add_test(tc, test_signal_exact);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_env_and_cwd);
	tcase_add_test(tc, test_large_command);
	tcase_add_test(tc, test_clean_process_state);
	tcase_add_test(tc, test_network);
	tcase_add_test(tc, test_restrict_writes);
	tcase_add_test(tc, test_read_only);
	tcase_add_test(tc, test_hidden);
	tcase_add_test(tc, test_private_tmp);
	tcase_add_test(tc, test_private_tmp_exposed);
	tcase_add_test(tc, test_python_tool);
	tcase_add_test(tc, test_address_space);
	tcase_add_test(tc, test_file_size_and_open_files);
	tcase_add_test(tc, test_processes);
	tcase_add_test(tc, test_run_as_user);
	tcase_add_test(tc, test_cpu_limit);
	tcase_add_test(tc, test_timeout_kills_tree);
	tcase_add_test(tc, test_timeout_term_ignored);
	tcase_add_test(tc, test_stop_kills_tree);
	tcase_add_test(tc, test_leftovers_after_exit);
	tcase_add_test(tc, test_leftovers_setsid);
	tcase_add_test(tc, test_end_sandbox_guard);
	suite_add_tcase(s, tc);
	failed = unit_run_suite(s);
	rm_rf(stage);
	if (created_user && system("userdel rd-fj-test") != 0)
		fprintf(stderr, "could not remove the test user rd-fj-test\n");
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
