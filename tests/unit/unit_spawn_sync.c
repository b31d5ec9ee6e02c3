/* Unit tests of spawn_run_sync: capture, limits, timeout, and its
 * children beside runnerd's reaper on a real loop (a synchronous run on
 * another thread must get its own exact status while the reaper keeps
 * reaping jobs and orphans). Each test runs in check's forked child,
 * which becomes a subreaper like runnerd. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/reaper.h"
#include "job_harness.h"
#include "spawn_child.h"
#include "spawn_sync.h"
#include "unit_run.h"

static char *base_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };

/* `sh -c script` through spawn_run_sync into r (out, err may be NULL);
 * its wait status. */
static int
run_sh(const char *script, struct spawn_sync *r, char *out, size_t out_size, char *err, size_t err_size,
       unsigned timeout_ms)
{
	char *argv[] = { "sh", "-c", (char *) script, NULL };
	rstatus st;
	int status, e;

	*r = (struct spawn_sync){ .argv = argv, .envp = base_env, .timeout_ms = timeout_ms, .out = out,
				  .out_size = out_size, .err = err, .err_size = err_size };
	status = spawn_run_sync(r, &e, &st);
	ck_assert_msg(status >= 0, "%s", st.message);
	return status;
}

START_TEST(test_capture_and_status)
{
	char out[64], err[64];
	struct spawn_sync r;
	int status = run_sh("echo out; echo err >&2; exit 7", &r, out, sizeof(out), err, sizeof(err), 5000);

	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	ck_assert_str_eq(out, "out\n");
	ck_assert_str_eq(err, "err\n");
	ck_assert_uint_eq(r.out_total, 4);
	ck_assert(!r.timed_out);
}
END_TEST

/* What does not fit is read and counted, never left to block the child. */
START_TEST(test_capture_is_bounded)
{
	char out[16];
	struct spawn_sync r;
	int status = run_sh("head -c 1000000 /dev/zero | tr '\\0' x", &r, out, sizeof(out), NULL, 0, 5000);

	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "xxxxxxxxxxxxxxx");
	ck_assert_uint_eq(r.out_total, 1000000);
}
END_TEST

/* Run `program`, which must not start: the exec errno, st filled. */
static int
run_refused(char *program, rstatus *st)
{
	char *argv[] = { program, NULL };
	struct spawn_sync r = { .argv = argv, .envp = base_env, .timeout_ms = 5000 };
	int e;

	ck_assert_int_lt(spawn_run_sync(&r, &e, st), 0);
	return e;
}

START_TEST(test_exec_failure)
{
	rstatus st;

	ck_assert_int_eq(run_refused("/nonexistent/program", &st), ENOENT);
	ck_assert_ptr_nonnull(strstr(st.message, "/nonexistent/program"));
}
END_TEST

/* At the timeout the whole group dies, not only the leader. */
START_TEST(test_timeout_kills_group)
{
	char out[32];
	struct spawn_sync r;
	uint64_t t0 = spawn_sync_clock_ms();
	int status;
	pid_t group;

	prctl(PR_SET_CHILD_SUBREAPER, 1); /* the orphaned sleep comes back to us */
	status = run_sh("sleep 30 & echo $$; sleep 30", &r, out, sizeof(out), NULL, 0, 300);
	ck_assert(r.timed_out);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_uint_lt(spawn_sync_clock_ms() - t0, 2000);
	group = atoi(out);
	ck_assert_int_gt(group, 0);
	/* The background sleep was SIGKILLed with its group and came back to
	 * us (a subreaper) as a zombie: nothing of the group runs. */
	for (int i = 0; i < 100; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-group, 0) != 0)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(kill(-group, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

START_TEST(test_stop_all)
{
	rstatus st;

	spawn_sync_stop_all();
	ck_assert_int_eq(run_refused("true", &st), 0);
	ck_assert_int_eq(st.code, RS_UNAVAILABLE);
}
END_TEST

/* --- beside the reaper ---------------------------------------------------- */

#define SYNC_RUNS 150
#define JOBS 150

struct beside {
	struct job_harness h;
	struct loop_task thread_done;
	struct loop_timer settle;
	bool thread_finished;
	int jobs_started, jobs_done, jobs_wrong;
	int tracked_done, tracked_wrong;
	int sync_wrong;
	char sync_why[700];
};

static void
maybe_finish(struct beside *b)
{
	/* Everything is over: give the reaper a moment without any new
	 * SIGCHLD, so a zombie is reaped only if the reaper was told to
	 * collect again after it stepped back. */
	if (b->thread_finished && b->jobs_done == JOBS && b->tracked_done == JOBS)
		loop_timer_arm(b->h.loop, &b->settle, loop_now_us() + 200000);
}

static void
settled(struct loop_timer *t)
{
	struct beside *b = (struct beside *) ((char *) t - offsetof(struct beside, settle));

	loop_stop(b->h.loop);
}

static void
sync_thread_done(struct loop_task *t)
{
	struct beside *b = (struct beside *) ((char *) t - offsetof(struct beside, thread_done));

	b->thread_finished = true;
	maybe_finish(b);
}

static void *
sync_thread(void *arg)
{
	struct beside *b = arg;

	for (int i = 0; i < SYNC_RUNS; i++) {
		char script[64], out[32], expect[32];
		char *argv[] = { "sh", "-c", script, NULL };
		struct spawn_sync r = { .argv = argv, .envp = base_env, .timeout_ms = 10000, .out = out,
					.out_size = sizeof(out) };
		rstatus st;
		int status, e;

		snprintf(script, sizeof(script), "echo %d; exit %d", i, i % 100 + 1);
		snprintf(expect, sizeof(expect), "%d\n", i);
		status = spawn_run_sync(&r, &e, &st);
		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != i % 100 + 1 || strcmp(out, expect) != 0) {
			if (b->sync_wrong++ == 0)
				snprintf(b->sync_why, sizeof(b->sync_why), "run %d: status %d (%s), out \"%s\"", i, status,
					 status < 0 ? st.message : "", out);
		}
	}
	loop_post(b->h.loop, &b->thread_done);
	return NULL;
}

static void start_job(struct beside *b);

static int
job_output(struct job *j, enum job_stream s, int fd, void *arg)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void
job_done(struct job *j, void *arg)
{
	struct beside *b = arg;
	const Runner__V1__RunResult *r = job_result(j);

	if (r->reason != RUNNER__V1__TERMINATION__EXITED || r->exit_code != 3)
		b->jobs_wrong++;
	b->jobs_done++;
	job_free(j);
	start_job(b);
	maybe_finish(b);
}

static const struct job_ops beside_ops = { .output = job_output, .done = job_done };

/* A child the reaper tracks (as a docker pool's CLI), whose exit status
 * must come back exact. */
struct tracked {
	struct reaper_watch w;
	struct beside *b;
};

static void
tracked_reaped(struct reaper_watch *w, int wstatus, const struct rusage *ru)
{
	struct tracked *t = (struct tracked *) w;

	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 5)
		t->b->tracked_wrong++;
	t->b->tracked_done++;
	maybe_finish(t->b);
	free(t);
}

/* A job (its process made by a spawner process), a child the reaper
 * tracks, and an untracked one (as docker's background `docker rm`) that
 * only the reaper's collect-all reaps. */
static void
start_job(struct beside *b)
{
	static char *exit5[] = { "sh", "-c", "exit 5", NULL };
	struct spawn_request tr = { .argv = exit5, .envp = base_env, .stdin_fd = -1, .stdout_fd = -1,
				    .stderr_fd = -1, .status_fd = -1 };
	struct tracked *t;
	static char *argv[] = { "sh", "-c", "exit 3", NULL };
	static char *untracked[] = { "true", NULL };
	static const struct backend_launch launch = { .argv = argv, .envp = base_env, .cwd = "/" };
	struct job_spec spec = { .launch = &launch, .spawners = b->h.spawners, .grace_ms = 300, .linger_ms = 200 };
	struct spawn_request sr = { .argv = untracked, .envp = base_env, .stdin_fd = -1, .stdout_fd = -1,
				    .stderr_fd = -1, .status_fd = -1 };
	struct job *j;
	rstatus st;
	pid_t pid;
	int e;

	if (b->jobs_started == JOBS)
		return;
	b->jobs_started++;
	ck_assert_msg(job_start(b->h.loop, &spec, &beside_ops, b, &j, &st) == 0, "%s", st.message);
	ck_assert_msg(spawn_child(&sr, &pid, &e, &st) == 0, "%s", st.message);
	ck_assert_ptr_nonnull(t = calloc(1, sizeof(*t)));
	t->b = b;
	t->w.reaped = tracked_reaped;
	ck_assert_msg(spawn_child(&tr, &t->w.pid, &e, &st) == 0, "%s", st.message);
	reaper_track(&t->w);
}

START_TEST(test_beside_reaper)
{
	static struct beside b;
	siginfo_t si = { 0 };
	pthread_t t;

	unsigned baseline;

	jh_init(&b.h);
	jh_loop_open(&b.h);
	baseline = reaper_tracked(); /* the harness's spawner process */
	b.thread_done.fn = sync_thread_done;
	b.settle.cb = settled;
	ck_assert_int_eq(pthread_create(&t, NULL, sync_thread, &b), 0);
	for (int i = 0; i < 4; i++)
		start_job(&b);
	ck_assert_int_eq(loop_run(b.h.loop), 0);
	pthread_join(t, NULL);

	ck_assert_msg(b.sync_wrong == 0, "%d synchronous run(s) wrong; first: %s", b.sync_wrong, b.sync_why);
	ck_assert_int_eq(b.jobs_done, JOBS);
	ck_assert_int_eq(b.jobs_wrong, 0);
	ck_assert_int_eq(b.tracked_done, JOBS);
	ck_assert_int_eq(b.tracked_wrong, 0);
	ck_assert_uint_eq(reaper_tracked(), baseline);
	/* Not one zombie left behind. */
	ck_assert(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0);
}
END_TEST

/* --- zombies queued behind a claimed one ---------------------------------- */

/* The reaper stops at a zombie a synchronous run claims (waitid(P_ALL)
 * cannot skip it), so zombies after it in the kernel's order — children of
 * a thread created later — wait. Once the synchronous run reaped its
 * child, the reaper must collect again on its own: checked after each
 * round, with no other child exiting to wake it. */
#define ROUNDS 150

struct behind {
	struct job_harness h;
	struct loop_task stop;
	pthread_barrier_t go, done;
	int sync_wrong;
};

static void
stop_loop(struct loop_task *t)
{
	loop_stop(((struct behind *) ((char *) t - offsetof(struct behind, stop)))->h.loop);
}

static void *
loop_thread(void *arg)
{
	struct behind *b = arg;

	loop_run(b->h.loop);
	return NULL;
}

static void *
claimed_runs(void *arg)
{
	struct behind *b = arg;
	char *argv[] = { "sh", "-c", "exit 9", NULL };

	for (int i = 0; i < ROUNDS; i++) {
		struct spawn_sync r = { .argv = argv, .envp = base_env, .timeout_ms = 10000 };
		rstatus st;
		int status, e;

		pthread_barrier_wait(&b->go);
		status = spawn_run_sync(&r, &e, &st);
		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 9)
			b->sync_wrong++;
		pthread_barrier_wait(&b->done);
	}
	return NULL;
}

static void *
untracked_children(void *arg)
{
	struct behind *b = arg;
	char *argv[] = { "true", NULL };
	struct spawn_request sr = { .argv = argv, .envp = base_env, .stdin_fd = -1, .stdout_fd = -1,
				    .stderr_fd = -1, .status_fd = -1 };

	for (int i = 0; i < ROUNDS; i++) {
		rstatus st;
		pid_t pid;
		int e;

		pthread_barrier_wait(&b->go);
		for (int k = 0; k < 4; k++)
			(void) spawn_child(&sr, &pid, &e, &st);
		pthread_barrier_wait(&b->done);
	}
	return NULL;
}

START_TEST(test_zombies_behind_claimed)
{
	static struct behind b;
	pthread_t lt, a, u;
	int left_behind = 0;

	jh_init(&b.h);
	jh_loop_open(&b.h);
	pthread_barrier_init(&b.go, NULL, 3);
	pthread_barrier_init(&b.done, NULL, 3);
	/* In this order: the loop's thread walks its own children, then
	 * those of the claiming thread, then the untracked ones. */
	ck_assert_int_eq(pthread_create(&lt, NULL, loop_thread, &b), 0);
	ck_assert_int_eq(pthread_create(&a, NULL, claimed_runs, &b), 0);
	ck_assert_int_eq(pthread_create(&u, NULL, untracked_children, &b), 0);
	for (int i = 0; i < ROUNDS; i++) {
		siginfo_t si = { 0 };

		pthread_barrier_wait(&b.go);
		pthread_barrier_wait(&b.done);
		usleep(30000);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
			left_behind++;
	}
	pthread_join(a, NULL);
	pthread_join(u, NULL);
	b.stop.fn = stop_loop;
	loop_post(b.h.loop, &b.stop);
	pthread_join(lt, NULL);
	ck_assert_int_eq(b.sync_wrong, 0);
	ck_assert_msg(left_behind == 0, "%d round(s) left zombies unreaped", left_behind);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("unit_spawn_sync");
	TCase *tc = tcase_create("spawn_sync");
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_capture_and_status);
	tcase_add_test(tc, test_capture_is_bounded);
	tcase_add_test(tc, test_exec_failure);
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_stop_all);
	tcase_add_test(tc, test_beside_reaper);
	tcase_add_test(tc, test_zombies_behind_claimed);
	suite_add_tcase(s, tc);
	failed = unit_run_suite(s);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
