/* test_memory — runnerd's memory against hostile clients and after bursts,
 * on a real runnerd, with the figures printed (RSS and peak RSS in KiB,
 * from /proc/<pid>/status) so they can be reported:
 *
 *  - 200 connections that each stall one byte short of a maximal (4 MiB)
 *    request keep runnerd's peak RSS under 256 MiB (the connection cap
 *    times the request limit, documented in the README), a new client is
 *    served meanwhile, and RSS falls back once they close;
 *  - Runs holding their stdin are bounded all together (--max-inflight-bytes);
 *  - after a burst of sessions with output (cat fed 1 MiB, 2 MB streams,
 *    output left unread) and Runs from several clients at once, once every
 *    session is collected, RSS is back within 2 x idle + 16 MiB.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session_support.h"

#define KIB_PER_MIB 1024L
#define STALLED 200
#define STALLED_BOUND_KB (256 * KIB_PER_MIB)
#define MAX_REQUEST (4u << 20)
#define DEFAULT_CAP 56 /* --max-connections */
#define SETTLE_MS 15000


/* RSS once runnerd had the time to give memory back: after two of its
 * one-second housekeeping ticks, and then while it is above `bound_kb`
 * (sampled every 250 ms, up to SETTLE_MS, for a loaded machine). */
static long
settled_rss(pid_t pid, long bound_kb)
{
	int64_t end = rd_now_ms() + SETTLE_MS;
	long kb;

	rd_sleep_ms(2500);
	while ((kb = rd_vmrss_kb(pid)) > bound_kb && rd_now_ms() < end)
		rd_sleep_ms(250);
	return kb;
}

/* runnerd at rest after it answered one Run: the baseline. */
static long
idle_rss(const rd_daemon *d)
{
	rd_assert_echo_ok_at(d->ipc_url);
	rd_sleep_ms(1500); /* past a housekeeping tick */
	return rd_vmrss_kb(d->pid);
}

START_TEST(test_stalled_requests)
{
	uint8_t *junk = calloc(1, MAX_REQUEST);
	long idle, rss, peak_seen = 0, hwm, after, bound_after;
	int fds[STALLED], held = 0;
	int64_t t0;
	rd_daemon d;

	ck_assert_ptr_nonnull(junk);
	rd_start(&d, NULL);
	idle = idle_rss(&d);
	t0 = rd_now_ms();
	for (int i = 0; i < STALLED; i++) {
		/* A request announcing the limit (4-byte id included), sent but
		 * for its last byte. A refused connection fails its send. */
		if ((fds[i] = rd_sp_connect(d.ipc_url, RD_SP_REQ, 5000)) >= 0)
			rd_sp_send(fds[i], MAX_REQUEST - 4, junk, MAX_REQUEST - 5);
		if ((rss = rd_vmrss_kb(d.pid)) > peak_seen)
			peak_seen = rss;
	}
	fprintf(stderr, "test_stalled_requests: %d stalled connections opened in %lld ms\n", STALLED,
		(long long) (rd_now_ms() - t0));
	/* Somebody else is still served, through a new connection. */
	rd_assert_echo_ok_within(d.ipc_url, 10000);
	for (int i = 0; i < STALLED; i++)
		held += fds[i] >= 0 && !rd_sp_closed(fds[i], 0);
	rss = rd_vmrss_kb(d.pid);
	hwm = rd_status_kb(d.pid, "VmHWM");
	for (int i = 0; i < STALLED; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	bound_after = 2 * idle + 16 * KIB_PER_MIB;
	after = settled_rss(d.pid, bound_after);
	fprintf(stderr,
		"test_stalled_requests: runnerd RSS idle %ld KiB; with %d stalled 4 MiB requests "
		"(%d connections still held by runnerd): %ld KiB (highest sample %ld KiB, peak "
		"VmHWM %ld KiB, bound %ld KiB); after they closed: %ld KiB (bound %ld KiB)\n",
		idle, STALLED, held, rss, peak_seen, hwm, (long) STALLED_BOUND_KB, after, bound_after);
	ck_assert_msg(hwm < STALLED_BOUND_KB || !rd_rss_judged("test_stalled_requests"),
		      "runnerd's peak RSS reached %ld KiB with %d stalled requests", hwm, STALLED);
	ck_assert_msg(held <= DEFAULT_CAP, "runnerd held %d connections, past its cap of %d", held,
		      DEFAULT_CAP);
	ck_assert_msg(after <= bound_after || !rd_rss_judged("test_stalled_requests"), "runnerd kept %ld KiB after the stalled connections closed "
		      "(idle %ld KiB)", after, idle);
	rd_assert_echo_ok_at(d.ipc_url);
	rd_stop_ok(&d);
	free(junk);
}
END_TEST

/* --- requests in progress -------------------------------------------------- */

#define HELD_STDIN (3u << 20)

struct held_run {
	const char *url;
	int code;
	runner_status st;
};

static void
sleeper_with_stdin(rd_cmd *c, const uint8_t *data)
{
	rd_cmd_init(c);
	rd_cmd_argv(c, "sleep", "3", NULL); /* never reads its stdin */
	rd_cmd_stdin(c, data, HELD_STDIN);
}

static void *
held_run_main(void *arg)
{
	struct held_run *h = arg;
	runner_client_options o = { .connect_timeout_ms = 5000 };
	uint8_t *data = calloc(1, HELD_STDIN);
	runner_client *cl = NULL;
	rd_cmd c;

	if (data == NULL || runner_client_open(&cl, h->url, &o, &h->st) != 0) {
		h->code = RUNNER_UNAVAILABLE;
		free(data);
		return NULL;
	}
	sleeper_with_stdin(&c, data);
	h->code = rd_run_code(cl, &c, &h->st);
	runner_client_close(cl);
	free(data);
	return NULL;
}

/* --max-inflight-bytes 10M: three Runs holding 3 MiB of stdin each are in
 * progress; a fourth is RESOURCE_EXHAUSTED at once, and runs once they
 * are answered. */
START_TEST(test_requests_in_progress_bounded)
{
	static const char *const args[] = { "--max-inflight-bytes", "10M", NULL };
	rd_options o = { .args = args };
	uint8_t *data = calloc(1, HELD_STDIN);
	struct held_run h[3];
	pthread_t t[3];
	runner_client *cl;
	runner_status st = { 0 };
	int64_t end;
	rd_daemon d;
	rd_cmd c;
	int code;

	ck_assert_ptr_nonnull(data);
	rd_start(&d, &o);
	cl = rd_client(d.ipc_url);
	for (int i = 0; i < 3; i++) {
		h[i] = (struct held_run){ .url = d.ipc_url };
		ck_assert_int_eq(pthread_create(&t[i], NULL, held_run_main, &h[i]), 0);
	}
	end = rd_now_ms() + 10000;
	while (rd_health_running(cl) < 3 && rd_now_ms() < end)
		rd_sleep_ms(20);
	ck_assert_uint_eq(rd_health_running(cl), 3);
	sleeper_with_stdin(&c, data);
	code = rd_run_code(cl, &c, &st);
	rd_assert_code(code, RUNNER_RESOURCE_EXHAUSTED, &st);
	ck_assert_msg(strstr(st.message, "--max-inflight-bytes") != NULL, "message: %s", st.message);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		rd_assert_code(h[i].code, RUNNER_OK, &h[i].st);
	}
	code = rd_run_code(cl, &c, &st);
	rd_assert_code(code, RUNNER_OK, &st);
	runner_client_close(cl);
	rd_stop_ok(&d);
	free(data);
}
END_TEST

/* --- a burst -------------------------------------------------------------- */

#define BURST_WORKERS 4
#define BURST_ROUNDS 20
#define CAT_BYTES (1u << 20)
#define CAT_CHUNK (256u << 10)
#define STREAM_BYTES 2000000
#define RUN_BYTES 300000
#define UNREAD_BYTES 1000000

struct burst_worker {
	const char *url;
	int index;
	int rounds;
	char error[700]; /* the first failure; empty when none */
};

/* The worker's first failure. */
#define burst_fail(w, ...) rd_note_first((w)->error, sizeof((w)->error), __VA_ARGS__)

/* A session started, drained from offset 0 and checked: stdout of `want`
 * bytes (hash `hash`, unless 0), EXITED 0. */
static void
drained_ok(struct burst_worker *w, const rd_session *s, const char *what, uint64_t want,
	   uint64_t hash)
{
	runner_status st = { 0 };
	rd_drained d;
	int code = rd_drain_code(s, 0, &d, &st);

	if (code != RUNNER_OK)
		burst_fail(w, "%s: stream: %s: %s", what, runner_status_code_name(code), st.message);
	else if (d.code != RUNNER_OK || !d.has_result || d.reason != RUNNER__V1__TERMINATION__EXITED ||
		 d.exit_code != 0)
		burst_fail(w, "%s: last frame %s \"%s\", reason %d exit %d", what,
			   runner_status_code_name(d.code), d.message, d.reason, d.exit_code);
	else if (d.out != want || (hash != 0 && d.out_hash != hash))
		burst_fail(w, "%s: %llu stdout bytes (hash %s), want %llu", what,
			   (unsigned long long) d.out, d.out_hash == hash ? "equal" : "differs",
			   (unsigned long long) want);
}

/* exec -i: cat fed CAT_BYTES by WriteStdin, its output streamed back. */
static void
burst_cat(struct burst_worker *w, runner_client *cl, const uint8_t *data, uint64_t hash)
{
	runner_status st = { 0 };
	uint64_t accepted;
	rd_session s;
	rd_cmd c;
	int code;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	if ((code = rd_start_pipes_code(cl, &c, NULL, "burst", &s, &st)) != RUNNER_OK) {
		burst_fail(w, "StartPipes cat: %s: %s", runner_status_code_name(code), st.message);
		return;
	}
	for (uint64_t off = 0; off < CAT_BYTES; off += CAT_CHUNK)
		if ((code = rd_write_stdin_code(cl, s.id, off, data + off, CAT_CHUNK, &accepted, &st)) != RUNNER_OK) {
			burst_fail(w, "WriteStdin: %s: %s", runner_status_code_name(code), st.message);
			return;
		}
	if ((code = rd_close_stdin_code(cl, s.id, &accepted, &st)) != RUNNER_OK) {
		burst_fail(w, "CloseStdin: %s: %s", runner_status_code_name(code), st.message);
		return;
	}
	drained_ok(w, &s, "cat", CAT_BYTES, hash);
}

/* StartPipes of `head -c BYTES /dev/zero`; false (the failure noted) when
 * it is refused. */
static bool
start_head(struct burst_worker *w, runner_client *cl, const char *bytes, rd_session *s)
{
	runner_status st = { 0 };
	rd_cmd c;
	int code;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "head", "-c", bytes, "/dev/zero", NULL);
	if ((code = rd_start_pipes_code(cl, &c, NULL, "burst", s, &st)) == RUNNER_OK)
		return true;
	burst_fail(w, "StartPipes head -c %s: %s: %s", bytes, runner_status_code_name(code), st.message);
	return false;
}

/* start + attach: a stream of STREAM_BYTES read to its end. */
static void
burst_stream(struct burst_worker *w, runner_client *cl)
{
	rd_session s;

	if (start_head(w, cl, "2000000", &s))
		drained_ok(w, &s, "head", STREAM_BYTES, 0);
}

/* A session nobody reads: its output stays until it is collected. */
static void
burst_unread(struct burst_worker *w, runner_client *cl)
{
	Runner__V1__WaitResponse *resp = NULL;
	runner_status st = { 0 };
	rd_session s;
	int code;

	if (!start_head(w, cl, "1000000", &s))
		return;
	if ((code = rd_wait_code(cl, s.id, 20000, &resp, &st)) != RUNNER_OK) {
		burst_fail(w, "unread session: Wait: %s: %s", runner_status_code_name(code), st.message);
		return;
	}
	if (resp->result->stdout_total != UNREAD_BYTES)
		burst_fail(w, "unread session: stdout_total %llu",
			   (unsigned long long) resp->result->stdout_total);
	runner__v1__wait_response__free_unpacked(resp, NULL);
}

static void
burst_run(struct burst_worker *w, runner_client *cl)
{
	Runner__V1__RunResponse *resp = NULL;
	runner_status st = { 0 };
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "head", "-c", "300000", "/dev/zero", NULL);
	if (runner_run(cl, &c.req, &resp, RD_CALL_DEADLINE_MS, &st) != 0) {
		burst_fail(w, "Run: %s: %s", runner_status_code_name(st.code), st.message);
		return;
	}
	if (resp->result == NULL || resp->result->stdout.len != RUN_BYTES)
		burst_fail(w, "Run: %zu stdout bytes", resp->result ? resp->result->stdout.len : 0);
	runner__v1__run_response__free_unpacked(resp, NULL);
}

static void *
burst_main(void *arg)
{
	struct burst_worker *w = arg;
	runner_client_options o = { .connect_timeout_ms = 10000 };
	uint8_t *data = malloc(CAT_BYTES);
	runner_client *cl = NULL;
	runner_status st = { 0 };
	uint64_t hash;

	if (data == NULL || runner_client_open(&cl, w->url, &o, &st) != 0) {
		burst_fail(w, "set-up: %s", data ? st.message : "out of memory");
		free(data);
		return NULL;
	}
	rd_fill_pattern(data, CAT_BYTES, (uint64_t) w->index, 0);
	hash = rd_fnv1a(RD_FNV_INIT, data, CAT_BYTES);
	for (int k = 0; k < w->rounds && w->error[0] == '\0'; k++) {
		burst_cat(w, cl, data, hash);
		burst_stream(w, cl);
		burst_run(w, cl);
		burst_unread(w, cl);
	}
	runner_client_close(cl);
	free(data);
	return NULL;
}

static unsigned
health_sessions(runner_client *cl)
{
	Runner__V1__HealthRequest req = RUNNER__V1__HEALTH_REQUEST__INIT;
	Runner__V1__HealthResponse *resp = NULL;
	runner_status st = { 0 };
	unsigned n;

	ck_assert_msg(runner_health(cl, &req, &resp, 5000, &st) == 0, "Health: %s", st.message);
	n = resp->sessions;
	runner__v1__health_response__free_unpacked(resp, NULL);
	return n;
}

START_TEST(test_burst_then_idle)
{
	static const char *const args[] = { "--retention", "2s", NULL };
	rd_options o = { .args = args };
	struct burst_worker w[BURST_WORKERS];
	pthread_t t[BURST_WORKERS];
	long idle, busy, hwm, after, bound;
	runner_client *cl;
	int64_t t0, end;
	unsigned left;
	rd_daemon d;

	rd_start(&d, &o);
	idle = idle_rss(&d);
	t0 = rd_now_ms();
	for (int i = 0; i < BURST_WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].url = d.ipc_url;
		w[i].index = i;
		w[i].rounds = BURST_ROUNDS;
		ck_assert_int_eq(pthread_create(&t[i], NULL, burst_main, &w[i]), 0);
	}
	for (int i = 0; i < BURST_WORKERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < BURST_WORKERS; i++)
		ck_assert_msg(w[i].error[0] == '\0', "worker %d: %s", i, w[i].error);
	busy = rd_vmrss_kb(d.pid);
	hwm = rd_status_kb(d.pid, "VmHWM");
	fprintf(stderr, "test_burst_then_idle: %d clients x %d rounds (cat of 1 MiB, a 2 MB stream, "
		"a Run of 300 kB, 1 MB left unread) in %lld ms\n", BURST_WORKERS, BURST_ROUNDS,
		(long long) (rd_now_ms() - t0));

	/* Every session collected (retention 2 s). */
	cl = rd_client(d.ipc_url);
	end = rd_now_ms() + 20000;
	while ((left = health_sessions(cl)) > 0 && rd_now_ms() < end)
		rd_sleep_ms(250);
	runner_client_close(cl);
	ck_assert_msg(left == 0, "%u sessions still retained 20 s after the burst", left);
	bound = 2 * idle + 16 * KIB_PER_MIB;
	after = settled_rss(d.pid, bound);
	fprintf(stderr, "test_burst_then_idle: runnerd RSS idle %ld KiB; right after the burst %ld KiB "
		"(peak VmHWM %ld KiB); sessions collected: %ld KiB (bound 2 x idle + 16 MiB = %ld KiB)\n",
		idle, busy, hwm, after, bound);
	ck_assert_msg(after <= bound || !rd_rss_judged("test_burst_then_idle"),
		      "runnerd kept %ld KiB once its sessions were collected (idle %ld KiB)", after, idle);
	rd_assert_echo_ok_at(d.ipc_url);
	rd_stop_ok(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc = rd_tcase("memory");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_stalled_requests);
	tcase_add_test(tc, test_requests_in_progress_bounded);
	tcase_add_test(tc, test_burst_then_idle);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
