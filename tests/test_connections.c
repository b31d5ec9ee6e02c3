/* test_connections — the cap on connections per listener (--max-connections,
 * --max-stream-connections): past it, the connection quiet the longest
 * makes room, a connection with a request in progress or a reader attached
 * never does, and a newcomer is refused when nothing can make room; the
 * #1518 guard's own probes still get in at the cap (a listener it took for
 * stuck would be re-created, dropping every connection). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "session_support.h"

#define CAP 4

static const char *const cap_args[] = { "--max-connections", "4", "--max-stream-connections", "2",
					NULL };

static void
start_capped(rd_daemon *d)
{
	rd_options o = { .args = cap_args };

	rd_start(d, &o);
}

/* CAP idle connections stay put, probes and all; a new client is served by
 * closing the quietest of them, and only that one. */
START_TEST(test_quiet_connection_makes_room)
{
	int fds[CAP];
	rd_daemon d;

	start_capped(&d);
	for (int i = 0; i < CAP; i++) {
		fds[i] = rd_sp_connect(d.ipc_url, RD_SP_REQ, 5000);
		ck_assert_msg(fds[i] >= 0, "connection %d of %d refused", i + 1, CAP);
		rd_sleep_ms(50); /* in order of quiet */
	}
	/* 15 probe intervals at the cap: had a probe been refused, the guard
	 * would have re-created the listener and dropped these. */
	rd_sleep_ms(3000);
	for (int i = 0; i < CAP; i++)
		ck_assert_msg(!rd_sp_closed(fds[i], 0), "idle connection %d was dropped at the cap", i + 1);
	rd_assert_echo_ok_within(d.ipc_url, 10000);
	ck_assert_msg(rd_sp_closed(fds[0], 5000), "the quietest connection was not closed for a newcomer");
	for (int i = 1; i < CAP; i++)
		ck_assert_msg(!rd_sp_closed(fds[i], 0), "connection %d was closed, not the quietest", i + 1);
	for (int i = 0; i < CAP; i++)
		close(fds[i]);
	rd_stop_ok(&d);
}
END_TEST

struct parked {
	const char *url;
	const char *id;
	int code;
	bool has_result;
	runner_status st;
};

static void *
parked_wait(void *arg)
{
	struct parked *p = arg;
	runner_client_options o = { .connect_timeout_ms = 5000 };
	Runner__V1__WaitResponse *resp = NULL;
	runner_client *cl = NULL;

	if (runner_client_open(&cl, p->url, &o, &p->st) != 0) {
		p->code = RUNNER_UNAVAILABLE;
		return NULL;
	}
	p->code = rd_wait_code(cl, p->id, 30000, &resp, &p->st);
	p->has_result = resp != NULL && resp->result != NULL;
	if (resp != NULL)
		runner__v1__wait_response__free_unpacked(resp, NULL);
	runner_client_close(cl);
	return NULL;
}

/* CAP connections each waiting for an answer: the next one is refused,
 * however long they have been waiting; once they are answered, newcomers
 * are served again. */
START_TEST(test_busy_connections_refuse_newcomers)
{
	struct parked p[CAP];
	pthread_t t[CAP];
	runner_client *cl;
	rd_session s;
	rd_daemon d;
	int fd;

	start_capped(&d);
	cl = rd_client(d.ipc_url);
	rd_start_argv(cl, &s, "sleep", "60", NULL);
	runner_client_close(cl);
	for (int i = 0; i < CAP; i++) {
		p[i] = (struct parked){ .url = d.ipc_url, .id = s.id };
		ck_assert_int_eq(pthread_create(&t[i], NULL, parked_wait, &p[i]), 0);
	}
	rd_sleep_ms(1500); /* every Wait parked, every connection long quiet */
	fd = rd_sp_connect(d.ipc_url, RD_SP_REQ, 5000);
	ck_assert_msg(fd < 0 || rd_sp_closed(fd, 5000),
		      "connection %d was let in while %d connections had requests in progress", CAP + 1,
		      CAP);
	if (fd >= 0)
		close(fd);
	ck_assert_int_eq(kill(s.pid, SIGTERM), 0);
	for (int i = 0; i < CAP; i++) {
		pthread_join(t[i], NULL);
		rd_assert_code(p[i].code, RUNNER_OK, &p[i].st);
		ck_assert(p[i].has_result);
	}
	rd_assert_echo_ok_within(d.ipc_url, 10000);
	rd_stop_ok(&d);
}
END_TEST

/* The stream listener: two attached readers are never displaced; a third
 * connection is refused until one of them leaves. */
START_TEST(test_stream_connections_capped)
{
	rd_sink out[3], err[3];
	rd_reader r[3];
	rd_session s[3];
	runner_client *cl;
	rd_daemon d;
	int fd;

	start_capped(&d);
	cl = rd_client(d.ipc_url);
	for (int i = 0; i < 3; i++) {
		rd_start_shell(cl, &s[i], "echo ready; exec sleep 60");
		rd_sink_init(&out[i], true, 0);
		rd_sink_init(&err[i], true, 0);
	}
	for (int i = 0; i < 2; i++) {
		rd_reader_open(&r[i], &s[i], &out[i], &err[i]);
		rd_reader_until_out(&r[i], 6);
	}
	rd_sleep_ms(500);
	fd = rd_sp_connect(s[2].stream_address, RD_SP_PAIR1, 5000);
	ck_assert_msg(fd < 0 || rd_sp_closed(fd, 5000),
		      "a third stream connection was let in beside two attached readers");
	if (fd >= 0)
		close(fd);
	rd_reader_close(&r[0]);
	rd_reader_open(&r[2], &s[2], &out[2], &err[2]);
	rd_reader_until_out(&r[2], 6);
	ck_assert_str_eq(rd_sink_str(&out[2]), "ready\n");
	for (int i = 1; i < 3; i++)
		rd_reader_close(&r[i]);
	for (int i = 0; i < 3; i++) {
		rd_sink_free(&out[i]);
		rd_sink_free(&err[i]);
	}
	runner_client_close(cl);
	rd_stop_ok(&d);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("connections");
	TCase *tc = rd_tcase("connections");

	tcase_add_test(tc, test_quiet_connection_makes_room);
	tcase_add_test(tc, test_busy_connections_refuse_newcomers);
	tcase_add_test(tc, test_stream_connections_capped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
