/* The spawner processes (runnerd-spawner) driven through runnerd's side of
 * them on a real loop and reaper: exact statuses, the failing step named,
 * fds, rlimits, users, cgroups, signals, group cleanup, the child's own
 * peak RSS, and what happens when runnerd or a spawner goes away. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/reaper.h"
#include "run/spawner.h"

struct sp {
	struct spawn_watch w;
	struct loop *loop;
	bool spawned, failed, exited;
	pid_t pid;
	int stage, err;
	struct spawner_exit ex;
	int fds[4];        /* runnerd's ends that came with SPAWNED */
	int back[4];       /* ...and those that came back later (FD): fd, or -2 for "closed" */
	bool came_back[4];
};

static struct loop *loop;
static struct spawners *spawners;
static struct loop_watch sigw;
static struct loop_timer guard;

static void
sig_cb(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
		reaper_collect();
}

static void
guard_cb(struct loop_timer *t)
{
	ck_abort_msg("nothing happened within 10 s");
}

static void
setup(void)
{
	sigset_t set;
	rstatus st;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigw.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	sigw.cb = sig_cb;
	ck_assert_int_eq(loop_new(&loop, &st), 0);
	ck_assert_int_eq(loop_watch_add(loop, &sigw, EPOLLIN, &st), 0);
	ck_assert_msg(spawners_start(&spawners, loop, 2, RUNNERD_SPAWNER_PATH, NULL, &st) == 0, "%s", st.message);
	guard.cb = guard_cb;
}

static void
on_spawned(struct spawn_watch *w, pid_t pid, const int fds[4])
{
	struct sp *s = (struct sp *) w;

	s->spawned = true;
	s->pid = pid;
	memcpy(s->fds, fds, sizeof(s->fds));
	loop_stop(s->loop);
}

static void
on_fd(struct spawn_watch *w, int which, int fd)
{
	struct sp *s = (struct sp *) w;

	s->came_back[which] = true;
	s->back[which] = fd < 0 ? -2 : fd;
	loop_stop(s->loop);
}

static void
on_failed(struct spawn_watch *w, int stage, int err)
{
	struct sp *s = (struct sp *) w;

	s->failed = true;
	s->stage = stage;
	s->err = err;
	loop_stop(s->loop);
}

static void
on_exited(struct spawn_watch *w, const struct spawner_exit *ex)
{
	struct sp *s = (struct sp *) w;

	s->exited = true;
	s->ex = *ex;
	loop_stop(s->loop);
}

static const struct spawn_watch_ops ops = { on_spawned, on_failed, on_exited, on_fd };

/* Run the loop until `flag` is set (each callback stops the loop). */
static void
run_until(bool *flag)
{
	loop_timer_arm(loop, &guard, loop_now_us() + 10000000u);
	while (!*flag)
		ck_assert_int_eq(loop_run(loop), 0);
	loop_timer_disarm(loop, &guard);
}

static struct spawner_req
req_of(char **argv)
{
	static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct spawner_req r = {
		.flags = SPAWN_SETSID | SPAWN_KILL_GROUP,
		.fd_map = { -1, -1, -1, -1 },
		.path = argv[0],
		.argv = argv,
		.envp = envp,
	};
	return r;
}

static void
start(struct sp *s, const struct spawner_req *r, const int *fds, int n)
{
	rstatus st;

	memset(s, 0, sizeof(*s));
	s->w.ops = &ops;
	s->loop = loop;
	for (int t = 0; t < 4; t++)
		s->fds[t] = s->back[t] = -1;
	ck_assert_msg(spawner_spawn(spawners, &s->w, r, fds, n, &st) == 0, "%s", st.message);
}

/* Read `fd` to EOF (blocking or not: wait with poll); a static buffer. */
static char *
read_all(int fd)
{
	static char buf[65536];
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		ck_assert_int_gt(poll(&pfd, 1, 10000), 0);
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EAGAIN)
			continue;
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		got += (size_t) n;
	}
	buf[got] = '\0';
	return buf;
}

/* Spawn with stdout on a pipe; wait for the end; return what it printed. */
static char *
run_capture(const struct spawner_req *r0, struct sp *s)
{
	struct spawner_req r = *r0;
	char *out;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	r.fd_map[1] = 0;
	start(s, &r, &p[1], 1);
	close(p[1]);
	run_until(&s->exited);
	out = read_all(p[0]);
	close(p[0]);
	return out;
}

START_TEST(test_exit_status_and_usage)
{
	char *argv[] = { "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;

	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	ck_assert_int_gt(s.pid, 0);
	run_until(&s.exited);
	ck_assert(WIFEXITED(s.ex.wstatus));
	ck_assert_int_eq(WEXITSTATUS(s.ex.wstatus), 3);
	ck_assert_uint_gt(s.ex.user_us + s.ex.system_us, 0);
	ck_assert_uint_gt(s.ex.max_rss_kb, 0);
	ck_assert_uint_eq(spawners_live(spawners), 0);
}
END_TEST

START_TEST(test_failing_step_named)
{
	char *missing[] = { "/nonexistent/program", NULL };
	char *sh[] = { "/bin/sh", "-c", "true", NULL };
	struct spawner_req r = req_of(missing);
	struct sp s;

	start(&s, &r, NULL, 0);
	run_until(&s.failed);
	ck_assert_int_eq(s.stage, STAGE_EXEC);
	ck_assert_int_eq(s.err, ENOENT);
	ck_assert(!s.spawned);

	r = req_of(sh);
	r.cwd = "/nonexistent-dir";
	start(&s, &r, NULL, 0);
	run_until(&s.failed);
	ck_assert_int_eq(s.stage, STAGE_CHDIR);
	ck_assert_int_eq(s.err, ENOENT);

	r = req_of(sh);
	r.n_cgroups = 1;
	r.cgroups = (const char *const[]){ "/nonexistent/cgroup.procs" };
	start(&s, &r, NULL, 0);
	run_until(&s.failed);
	ck_assert_int_eq(s.stage, STAGE_CGROUP);
	ck_assert_str_eq(spawner_stage_name(s.stage), "joining the cgroup");
}
END_TEST

START_TEST(test_fds_env_cwd_rlimits)
{
	char *argv[] = { "/bin/sh", "-c", "echo \"$PATH\"; pwd; ulimit -n; ls /proc/self/fd | wc -l; read x; echo \"in=$x\"",
			 NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;
	int in[2];
	char *out;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(write(in[1], "hello\n", 6), 6);
	close(in[1]);
	r.cwd = "/tmp";
	r.n_rlimits = 1;
	r.rlimits[0] = (struct spawner_rlimit){ RLIMIT_NOFILE, 32, 32 };
	/* fd 0 from the request's second fd, stdout (run_capture) the first. */
	r.fd_map[0] = 1;
	{
		struct spawner_req rr = r;
		int p[2], fds[2];
		static char buf[4096];
		size_t got = 0;
		ssize_t n;
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		rr.fd_map[1] = 0;
		fds[0] = p[1];
		fds[1] = in[0];
		start(&s, &rr, fds, 2);
		close(p[1]);
		close(in[0]);
		run_until(&s.exited);
		while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t) n;
		close(p[0]);
		buf[got] = '\0';
		out = buf;
	}
	/* Only 0-2 open (ls itself adds the directory's fd: 4 entries). */
	ck_assert_str_eq(out, "/usr/bin:/bin\n/tmp\n32\n4\nin=hello\n");
	ck_assert(WIFEXITED(s.ex.wstatus) && WEXITSTATUS(s.ex.wstatus) == 0);
}
END_TEST

START_TEST(test_signals_and_dispositions)
{
	char *argv[] = { "/bin/sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status; exec sleep 100", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;
	int p[2];
	char buf[256] = "";

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	r.fd_map[1] = 0;
	start(&s, &r, &p[1], 1);
	close(p[1]);
	run_until(&s.spawned);
	/* The spawner ignores SIGPIPE and blocks SIGCHLD; the child neither. */
	for (size_t got = 0; got < 38;) {
		ssize_t n = read(p[0], buf + got, sizeof(buf) - 1 - got);
		ck_assert_int_gt(n, 0);
		got += (size_t) n;
	}
	close(p[0]);
	ck_assert_msg(strstr(buf, "SigBlk:\t0000000000000000") && strstr(buf, "SigIgn:\t0000000000000000"), "%s", buf);
	ck_assert_int_eq(spawn_watch_signal(&s.w, SIGTERM), 0);
	run_until(&s.exited);
	ck_assert(WIFSIGNALED(s.ex.wstatus));
	ck_assert_int_eq(WTERMSIG(s.ex.wstatus), SIGTERM);
	/* Reaped: no pid to signal any more. */
	ck_assert_int_eq(spawn_watch_signal(&s.w, SIGTERM), -ESRCH);
}
END_TEST

static bool
alive(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = 0;
	fclose(f);
	return state != 0 && state != 'Z';
}

/* Wait until `pid` is gone (dead and reaped by whoever); false after 5 s. */
static bool
gone_soon(pid_t pid)
{
	for (int i = 0; i < 500; i++) {
		if (!alive(pid))
			return true;
		usleep(10000);
	}
	return false;
}

/* A pty pair: the master (ours) and its slave, both close-on-exec. */
static void
open_pty(int *master, int *slave)
{
	ck_assert_int_ge(*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), 0);
	ck_assert_int_eq(grantpt(*master), 0);
	ck_assert_int_eq(unlockpt(*master), 0);
	ck_assert_int_ge(*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC), 0);
}

/* Read the master until `want` shows up (or EOF/EIO, or 10 s). */
static bool
master_shows(int master, const char *want)
{
	static char buf[4096];
	size_t got = 0;

	for (int64_t end = (int64_t) loop_now_us() + 10000000; (int64_t) loop_now_us() < end;) {
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		ssize_t n;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = read(master, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t) n;
		buf[got] = '\0';
		if (strstr(buf, want) != NULL)
			return true;
	}
	return false;
}

/* SPAWN_CTTY: the slave at fds 0-2 becomes the controlling terminal of the
 * child's session, with the child's group in the foreground: ^C typed at
 * the master interrupts it. Without a terminal at fd 0 the step fails. */
START_TEST(test_controlling_terminal)
{
	char *argv[] = { "/bin/sh", "-c", "tty; echo ready; exec sleep 100", NULL };
	char *plain[] = { "/bin/sh", "-c", "true", NULL };
	struct spawner_req r = req_of(argv);
	int master, slave, fds[1];
	pid_t fg = 0;
	struct sp s;

	open_pty(&master, &slave);
	r.flags |= SPAWN_CTTY;
	r.fd_map[0] = r.fd_map[1] = r.fd_map[2] = 0;
	fds[0] = slave;
	start(&s, &r, fds, 1);
	close(slave);
	run_until(&s.spawned);
	ck_assert(master_shows(master, "ready"));
	/* The master reports the foreground group of its slave. */
	ck_assert_int_eq(ioctl(master, TIOCGPGRP, &fg), 0);
	ck_assert_int_eq(fg, s.pid);
	ck_assert_int_eq(write(master, "\x03", 1), 1);
	run_until(&s.exited);
	ck_assert_msg(WIFSIGNALED(s.ex.wstatus) && WTERMSIG(s.ex.wstatus) == SIGINT, "status %#x",
		      s.ex.wstatus);
	close(master);

	/* fd 0 a pipe: no terminal to take. */
	r = req_of(plain);
	r.flags |= SPAWN_CTTY;
	start(&s, &r, NULL, 0);
	run_until(&s.failed);
	ck_assert_int_eq(s.stage, STAGE_CTTY);
	ck_assert_int_eq(s.err, ENOTTY);
}
END_TEST

START_TEST(test_group_killed_when_leader_exits)
{
	char *argv[] = { "/bin/sh", "-c", "sleep 100 & echo $!", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;
	pid_t bg = (pid_t) atoi(run_capture(&r, &s));

	ck_assert_int_gt(bg, 0);
	ck_assert(WIFEXITED(s.ex.wstatus));
	ck_assert(gone_soon(bg));
}
END_TEST

/* ru_maxrss of a vfork child is at least its parent's high-water mark at
 * exec: spawned by a runnerd that has touched 200 MiB, `true` must still
 * report its own few MiB. */
START_TEST(test_max_rss_is_the_childs)
{
	char *argv[] = { "/bin/true", NULL };
	struct spawner_req r = req_of(argv);
	size_t big = 200u << 20;
	char *mem = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sp s;

	ck_assert(mem != MAP_FAILED);
	memset(mem, 1, big);
	start(&s, &r, NULL, 0);
	run_until(&s.exited);
	ck_assert_msg(s.ex.max_rss_kb < 10u * 1024, "max_rss_kb %llu", (unsigned long long) s.ex.max_rss_kb);
	munmap(mem, big);
}
END_TEST

START_TEST(test_user_switch)
{
	char *argv[] = { "/bin/sh", "-c", "id -u; id -g; id -G; touch /root/x 2>/dev/null || echo denied", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;

	if (geteuid() != 0)
		return;
	r.flags |= SPAWN_SET_IDS | SPAWN_NO_NEW_PRIVS;
	r.uid = 65534;
	r.gid = 65534;
	r.n_groups = 1;
	r.groups[0] = 65534;
	ck_assert_str_eq(run_capture(&r, &s), "65534\n65534\n65534\ndenied\n");
}
END_TEST

/* The child is in its cgroup from its first instruction: it reads its own
 * membership. Uses the v1 pids hierarchy or cgroup v2, whichever the
 * machine has, under a directory of the test's own. */
START_TEST(test_cgroup_joined_before_exec)
{
	const char *roots[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char *argv[] = { "/bin/cat", "/proc/self/cgroup", NULL };
	struct spawner_req r = req_of(argv);
	char dir[256] = "", procs[300];
	const char *cg[1] = { procs };
	struct sp s;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && !dir[0]; i++) {
		snprintf(dir, sizeof(dir), "%s/unit-spawner-%d", roots[i], (int) getpid());
		if (mkdir(dir, 0755) != 0)
			dir[0] = '\0';
	}
	if (!dir[0])
		return; /* no writable cgroup hierarchy: nothing to test here */
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	r.cgroups = cg;
	r.n_cgroups = 1;
	ck_assert_msg(strstr(run_capture(&r, &s), strrchr(dir, '/')) != NULL, "not in %s", dir);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static pid_t
spawner_pid_of(pid_t child)
{
	char path[64];
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) child);
	ck_assert((f = fopen(path, "r")) != NULL);
	ck_assert_int_eq(fscanf(f, "%*d %*s %*c %d", &ppid), 1);
	fclose(f);
	return ppid;
}

/* A spawner that dies takes its children with it, their owners hear a
 * SIGKILL, and a new spawner serves the next request. */
START_TEST(test_spawner_death)
{
	char *sleeper[] = { "/bin/sleep", "100", NULL };
	char *echo[] = { "/bin/echo", "again", NULL };
	struct spawner_req r = req_of(sleeper);
	struct sp s, t;
	pid_t child;

	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	child = s.pid;
	ck_assert_int_eq(kill(spawner_pid_of(child), SIGKILL), 0);
	run_until(&s.exited);
	ck_assert(WIFSIGNALED(s.ex.wstatus) && WTERMSIG(s.ex.wstatus) == SIGKILL);
	ck_assert(gone_soon(child));
	/* Give the restart a moment, then both spawners serve again. */
	for (int i = 0; i < 4; i++) {
		r = req_of(echo);
		for (int tries = 0;; tries++) {
			rstatus st;
			memset(&t, 0, sizeof(t));
			t.w.ops = &ops;
			t.loop = loop;
			if (spawner_spawn(spawners, &t.w, &r, NULL, 0, &st) == 0)
				break;
			ck_assert_int_lt(tries, 100);
			usleep(10000);
			loop_timer_arm(loop, &guard, loop_now_us() + 10000000u);
			loop_stop(loop);
			loop_run(loop);
		}
		run_until(&t.exited);
		ck_assert(WIFEXITED(t.ex.wstatus));
	}
}
END_TEST

/* runnerd gone (its channel closed): the spawner kills what it still has
 * and exits. */
START_TEST(test_runnerd_gone_kills_children)
{
	char *argv[] = { "/bin/sh", "-c", "sleep 100 & sleep 100", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;
	pid_t child, spawner;

	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	child = s.pid;
	spawner = spawner_pid_of(child);
	spawn_watch_forget(&s.w);
	spawners_free(spawners);
	spawners = NULL;
	ck_assert(gone_soon(child));
	ck_assert(gone_soon(spawner));
	{
		/* Nothing of that group is left either. */
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "pgrep -g %d >/dev/null", (int) child);
		for (int i = 0; i < 100 && system(cmd) == 0; i++)
			usleep(20000);
		ck_assert_int_ne(system(cmd), 0);
	}
}
END_TEST

START_TEST(test_many_concurrent)
{
	enum { N = 200 };
	char *argv[] = { "/bin/sh", "-c", "exit $(( $$ % 7 ))", NULL };
	static struct sp s[N];
	struct spawner_req r = req_of(argv);
	int done = 0;

	for (int i = 0; i < N; i++)
		start(&s[i], &r, NULL, 0);
	loop_timer_arm(loop, &guard, loop_now_us() + 10000000u);
	while (done < N) {
		ck_assert_int_eq(loop_run(loop), 0);
		done = 0;
		for (int i = 0; i < N; i++)
			done += s[i].exited;
	}
	loop_timer_disarm(loop, &guard);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(WEXITSTATUS(s[i].ex.wstatus), s[i].pid % 7);
	ck_assert_uint_eq(spawners_live(spawners), 0);
}
END_TEST



/* The spawner makes the stdio pipes: runnerd's ends arrive non-blocking
 * with SPAWNED, the child's are its 0-2 and nothing else is open. */
START_TEST(test_spawner_makes_pipes)
{
	char *argv[] = { "/bin/sh", "-c", "read x; echo \"out=$x\"; echo err >&2; ls /proc/self/fd | wc -l", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;

	r.fd_map[0] = r.fd_map[1] = r.fd_map[2] = SPAWNER_FD_PIPE;
	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	for (int t = 0; t < 3; t++) {
		ck_assert_int_ge(s.fds[t], 0);
		ck_assert(fcntl(s.fds[t], F_GETFL) & O_NONBLOCK);
		ck_assert(fcntl(s.fds[t], F_GETFD) & FD_CLOEXEC);
	}
	ck_assert_int_eq(s.fds[3], -1);
	ck_assert_int_eq(write(s.fds[0], "hi\n", 3), 3);
	close(s.fds[0]);
	ck_assert_str_eq(read_all(s.fds[1]), "out=hi\n4\n");
	ck_assert_str_eq(read_all(s.fds[2]), "err\n");
	close(s.fds[1]);
	close(s.fds[2]);
	run_until(&s.exited);
	ck_assert(WIFEXITED(s.ex.wstatus) && WEXITSTATUS(s.ex.wstatus) == 0);
	ck_assert_uint_eq(spawners_live(spawners), 0);
}
END_TEST

/* Parked ends stay in the spawner: stdin until taken, stderr until it has
 * something to read; one that hangs up empty comes back as "closed". */
START_TEST(test_parked_ends)
{
	char *argv[] = { "/bin/sh", "-c", "read x; echo \"got $x\" >&2; read y; echo \"out $y\"", NULL };
	char *quiet[] = { "/bin/sh", "-c", "sleep 0.2", NULL };
	struct spawner_req r = req_of(argv);
	struct sp s;

	r.fd_map[0] = r.fd_map[1] = r.fd_map[2] = SPAWNER_FD_PIPE;
	r.park = 1u << 0 | 1u << 2;
	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	ck_assert_int_eq(s.fds[0], -1);
	ck_assert_int_ge(s.fds[1], 0);
	ck_assert_int_eq(s.fds[2], -1);
	ck_assert(spawn_watch_parked(&s.w, 0) && spawn_watch_parked(&s.w, 2) && !spawn_watch_parked(&s.w, 1));
	ck_assert_int_eq(spawn_watch_take(&s.w, 0), 0);
	run_until(&s.came_back[0]);
	ck_assert_int_ge(s.back[0], 0);
	ck_assert(!spawn_watch_parked(&s.w, 0));
	ck_assert_int_eq(spawn_watch_take(&s.w, 0), -ESRCH);
	ck_assert_int_eq(write(s.back[0], "one\n", 4), 4);
	/* stderr has something to read: it comes back by itself. */
	run_until(&s.came_back[2]);
	ck_assert_int_ge(s.back[2], 0);
	ck_assert_int_eq(write(s.back[0], "two\n", 4), 4);
	close(s.back[0]);
	ck_assert_str_eq(read_all(s.fds[1]), "out two\n");
	ck_assert_str_eq(read_all(s.back[2]), "got one\n");
	close(s.fds[1]);
	close(s.back[2]);
	run_until(&s.exited);
	ck_assert_uint_eq(spawners_live(spawners), 0);

	/* Quiet to the end: stderr comes back closed, with no fd; a stdin
	 * dropped unused is the child's EOF. */
	r = req_of(quiet);
	r.fd_map[0] = r.fd_map[1] = r.fd_map[2] = SPAWNER_FD_PIPE;
	r.park = 1u << 0 | 1u << 2;
	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	spawn_watch_drop(&s.w, 0);
	ck_assert(!spawn_watch_parked(&s.w, 0));
	run_until(&s.came_back[2]);
	ck_assert_int_eq(s.back[2], -2);
	ck_assert_str_eq(read_all(s.fds[1]), "");
	close(s.fds[1]);
	if (!s.exited)
		run_until(&s.exited);
	ck_assert_uint_eq(spawners_live(spawners), 0);
}
END_TEST

/* Hundreds of parked ends in the spawner reach no later child (which sees
 * only its 0-2), and a forgotten child's ends are closed: its cat sees
 * EOF on stdin and ends. */
START_TEST(test_parked_ends_stay_out_of_children)
{
	enum { N = 300 };
	static struct sp idle[N];
	char *cat[] = { "/bin/cat", NULL };
	char *count[] = { "/bin/sh", "-c", "ls /proc/self/fd | wc -l", NULL };
	struct spawner_req r = req_of(cat);
	struct sp s;

	r.fd_map[0] = r.fd_map[1] = r.fd_map[2] = SPAWNER_FD_PIPE;
	r.park = 1u << 0 | 1u << 2;
	for (int i = 0; i < N; i++) {
		start(&idle[i], &r, NULL, 0);
		run_until(&idle[i].spawned);
	}
	r = req_of(count);
	r.fd_map[1] = SPAWNER_FD_PIPE;
	start(&s, &r, NULL, 0);
	run_until(&s.spawned);
	ck_assert_str_eq(read_all(s.fds[1]), "4\n");
	close(s.fds[1]);
	run_until(&s.exited);
	/* Forgotten: the spawner closes their stdin, cat sees EOF and ends. */
	for (int i = 0; i < N; i++) {
		spawn_watch_forget(&idle[i].w);
		close(idle[i].fds[1]);
		ck_assert(gone_soon(idle[i].pid));
	}
}
END_TEST


/* runnerd raises its own RLIMIT_NOFILE; commands get back the one it
 * started with (unless their request sets one, as above). */
START_TEST(test_children_get_the_starting_nofile)
{
	char *argv[] = { "/bin/sh", "-c", "ulimit -Sn; ulimit -Hn", NULL };
	struct rlimit start = { 256, 512 };
	struct spawner_req r = req_of(argv);
	struct sp s;
	rstatus st;

	spawners_free(spawners);
	ck_assert_msg(spawners_start(&spawners, loop, 1, RUNNERD_SPAWNER_PATH, &start, &st) == 0, "%s", st.message);
	ck_assert_str_eq(run_capture(&r, &s), "256\n512\n");
	r.n_rlimits = 1;
	r.rlimits[0] = (struct spawner_rlimit){ RLIMIT_NOFILE, 64, 64 };
	ck_assert_str_eq(run_capture(&r, &s), "64\n64\n");
}
END_TEST

/* Malformed bodies never decode; valid ones round-trip. */
START_TEST(test_wire_roundtrip)
{
	char *argv[] = { "/bin/echo", "a", "", "b c", NULL };
	char *envp[] = { "A=1", "B=", NULL };
	const char *cgs[] = { "/x/cgroup.procs" };
	struct spawner_req r = req_of(argv), d;
	uint8_t *body;
	size_t len;
	void *owned;

	r.envp = envp;
	r.cgroups = cgs;
	r.n_cgroups = 1;
	r.cwd = "/tmp";
	r.n_groups = 2;
	r.groups[0] = 1;
	r.groups[1] = 2;
	ck_assert_uint_gt(len = spawner_req_encode(&r, &body), 0);
	ck_assert(spawner_req_decode(body, len, &d, &owned));
	ck_assert_str_eq(d.path, "/bin/echo");
	ck_assert_str_eq(d.cwd, "/tmp");
	ck_assert_str_eq(d.argv[2], "");
	ck_assert_str_eq(d.argv[3], "b c");
	ck_assert_ptr_null(d.argv[4]);
	ck_assert_str_eq(d.envp[1], "B=");
	ck_assert_ptr_null(d.envp[2]);
	ck_assert_uint_eq(d.n_cgroups, 1);
	ck_assert_str_eq(d.cgroups[0], "/x/cgroup.procs");
	ck_assert_uint_eq(d.groups[1], 2);
	free(owned);
	/* Every truncation and a few corruptions are refused. */
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!spawner_req_decode(body, cut, &d, &owned));
	body[len - 1] = 'x'; /* the last string loses its NUL */
	ck_assert(!spawner_req_decode(body, len, &d, &owned));
	free(body);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spawner");
	TCase *tc = tcase_create("spawner");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exit_status_and_usage);
	tcase_add_test(tc, test_failing_step_named);
	tcase_add_test(tc, test_fds_env_cwd_rlimits);
	tcase_add_test(tc, test_signals_and_dispositions);
	tcase_add_test(tc, test_controlling_terminal);
	tcase_add_test(tc, test_group_killed_when_leader_exits);
	tcase_add_test(tc, test_max_rss_is_the_childs);
	tcase_add_test(tc, test_user_switch);
	tcase_add_test(tc, test_cgroup_joined_before_exec);
	tcase_add_test(tc, test_spawner_death);
	tcase_add_test(tc, test_runnerd_gone_kills_children);
	tcase_add_test(tc, test_many_concurrent);
	tcase_add_test(tc, test_spawner_makes_pipes);
	tcase_add_test(tc, test_parked_ends);
	tcase_add_test(tc, test_parked_ends_stay_out_of_children);
	tcase_add_test(tc, test_children_get_the_starting_nofile);
	tcase_add_test(tc, test_wire_roundtrip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
