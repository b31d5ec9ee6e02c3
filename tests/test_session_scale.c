/* test_session_scale — sessions at volume against a real runnerd: 256 MiB
 * through one session, 1,000 sessions at once. */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "session_support.h"

#define MiB (1024u * 1024u)
#define N_SESSIONS 1000
#define N_THREADS 8

/* 9. 256 MiB through cat in 256 KiB writes while reading concurrently. */
START_TEST(test_concurrent_256m)
{
	int64_t ms = rd_pump_through_cat(rd_fx.ipc_url, 256u * MiB, 256u * 1024u);

	fprintf(stderr, "test_concurrent_256m: 256 MiB through cat in %lld ms (%.1f MiB/s)\n",
		(long long) ms, 256.0 * 1000.0 / (double) (ms ? ms : 1));
}
END_TEST

struct worker {
	const char *url;
	int index;
	pthread_barrier_t *started;  /* every session of every worker runs */
	pthread_barrier_t *checked;  /* the main thread has counted them */
	rd_session *sessions;        /* N_SESSIONS / N_THREADS */
	int n;
	int echoed;
	char error[700];             /* first failure; empty when none */
};

/* The worker's first failure. */
#define worker_fail(w, ...) rd_note_first((w)->error, sizeof((w)->error), __VA_ARGS__)

/* One session's round trip: write its line, close stdin, read the stream
 * to the end, compare. Thread-safe: no check assertions. */
static void
round_trip(struct worker *w, runner_client *cl, const rd_session *s, int k)
{
	Runner__V1__StreamFrame *f = NULL;
	char line[96], got[192];
	runner_stream *rs = NULL;
	uint64_t accepted;
	size_t len, got_len = 0;
	runner_status st = { 0 };
	int code;

	len = (size_t) snprintf(line, sizeof(line), "worker %d session %d id %s\n", w->index, k, s->id);
	if ((code = rd_write_stdin_code(cl, s->id, 0, line, len, &accepted, &st)) != RUNNER_OK) {
		worker_fail(w, "session %d WriteStdin: %s: %s", k, runner_status_code_name(code), st.message);
		return;
	}
	if (accepted != len) {
		worker_fail(w, "session %d WriteStdin accepted %llu, want %zu", k, (unsigned long long) accepted,
		     len);
		return;
	}
	if ((code = rd_close_stdin_code(cl, s->id, &accepted, &st)) != RUNNER_OK) {
		worker_fail(w, "session %d CloseStdin: %s: %s", k, runner_status_code_name(code), st.message);
		return;
	}
	if (runner_stream_open(&rs, s->stream_address, s->id, s->secret, s->secret_len, 0, 0, 5000,
			       &st) != 0) {
		worker_fail(w, "session %d stream open: %s: %s", k, runner_status_code_name(st.code), st.message);
		return;
	}
	for (;;) {
		if (runner_stream_next(rs, &f, RD_FRAME_TIMEOUT_MS, &st) != 0) {
			worker_fail(w, "session %d stream: %s: %s", k, runner_status_code_name(st.code), st.message);
			break;
		}
		if (f->data.len > 0) {
			if (f->stream != RUNNER__V1__STREAM_KIND__STDOUT || got_len + f->data.len > sizeof(got)) {
				worker_fail(w, "session %d: unexpected %zu bytes on stream %d", k, f->data.len,
				     (int) f->stream);
			} else {
				memcpy(got + got_len, f->data.data, f->data.len);
				got_len += f->data.len;
			}
		}
		if (f->last) {
			if (f->code != RUNNER__V1__STATUS_CODE__OK || f->result == NULL)
				worker_fail(w, "session %d: last frame code %s \"%s\"", k, runner_status_code_name(f->code),
				     f->message ? f->message : "");
			else if (f->result->reason != RUNNER__V1__TERMINATION__EXITED ||
				 f->result->exit_code != 0)
				worker_fail(w, "session %d: reason %d exit %d", k, f->result->reason,
				     f->result->exit_code);
			else if (got_len != len || memcmp(got, line, len) != 0)
				worker_fail(w, "session %d: echoed \"%.*s\", want \"%.*s\"", k, (int) got_len, got,
				     (int) len - 1, line);
			else
				w->echoed++;
			runner__v1__stream_frame__free_unpacked(f, NULL);
			break;
		}
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	runner_stream_close(rs);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	runner_client_options o = { .connect_timeout_ms = 5000 };
	runner_client *cl = NULL;
	runner_status st = { 0 };
	rd_cmd c;
	int code;

	if (runner_client_open(&cl, w->url, &o, &st) != 0)
		worker_fail(w, "client: %s", st.message);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	for (int k = 0; cl != NULL && k < w->n && w->error[0] == '\0'; k++)
		if ((code = rd_start_pipes_code(cl, &c, NULL, NULL, &w->sessions[k], &st)) != RUNNER_OK)
			worker_fail(w, "StartPipes #%d: %s: %s", k, runner_status_code_name(code), st.message);
	pthread_barrier_wait(w->started);
	pthread_barrier_wait(w->checked);
	for (int k = 0; cl != NULL && k < w->n && w->error[0] == '\0'; k++)
		round_trip(w, cl, &w->sessions[k], k);
	runner_client_close(cl);
	return NULL;
}

/* Open file descriptors of this process. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* 14. 1,000 sessions running at once, driven by a few client threads; each
 * echoes its own unique line. */
START_TEST(test_thousand_sessions)
{
	static const char *const args[] = { "--idle-ttl", "5m", NULL };
	struct worker w[N_THREADS];
	pthread_t t[N_THREADS];
	pthread_barrier_t started, checked;
	rd_options o = { .args = args };
	runner_client *cl;
	rd_daemon d;
	unsigned running;
	int total = 0, fds_before, fds_after;
	int64_t t0;

	/* runnerd holds 3 pipe fds per session and inherits our limit. */
	ck_assert_msg(rd_raise_nofile(3 * N_SESSIONS + 1024) >= 3 * N_SESSIONS + 1024,
		      "RLIMIT_NOFILE cannot be raised enough for %d sessions", N_SESSIONS);
	rd_start(&d, &o);
	fds_before = count_fds();
	t0 = rd_now_ms();
	pthread_barrier_init(&started, NULL, N_THREADS + 1);
	pthread_barrier_init(&checked, NULL, N_THREADS + 1);
	for (int i = 0; i < N_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].url = d.ipc_url;
		w[i].index = i;
		w[i].started = &started;
		w[i].checked = &checked;
		w[i].n = N_SESSIONS / N_THREADS;
		w[i].sessions = calloc((size_t) w[i].n, sizeof(rd_session));
		ck_assert_ptr_nonnull(w[i].sessions);
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	pthread_barrier_wait(&started);
	cl = rd_client(d.ipc_url);
	running = rd_health_running(cl);
	pthread_barrier_wait(&checked);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	fds_after = count_fds();
	for (int i = 0; i < N_THREADS; i++)
		ck_assert_msg(w[i].error[0] == '\0', "worker %d: %s", i, w[i].error);
	ck_assert_msg(running == N_SESSIONS, "Health counted %u running, want all %d sessions at once",
		      running, N_SESSIONS);
	for (int i = 0; i < N_THREADS; i++) {
		total += w[i].echoed;
		free(w[i].sessions);
	}
	ck_assert_int_eq(total, N_SESSIONS);
	/* Every stream was closed after use: nothing piled up here. */
	ck_assert_msg(fds_after <= fds_before + 16, "the test holds %d fds after the sessions, %d before",
		      fds_after, fds_before);
	fprintf(stderr, "test_thousand_sessions: %d sessions in %lld ms\n", N_SESSIONS,
		(long long) (rd_now_ms() - t0));
	ck_assert_uint_eq(rd_health_running(cl), 0);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
	pthread_barrier_destroy(&started);
	pthread_barrier_destroy(&checked);
	rd_stop_ok(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("session_scale");
	TCase *tc = rd_tcase("with_daemon");
	TCase *own = rd_tcase("own_daemon");

	tcase_set_timeout(tc, 240);
	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_concurrent_256m);
	suite_add_tcase(s, tc);

	tcase_set_timeout(own, 240);
	tcase_add_test(own, test_thousand_sessions);
	suite_add_tcase(s, own);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
