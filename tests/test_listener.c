/* test_listener — listeners keep accepting after peers that connect and go
 * away before (or during) the SP handshake (nng 1.5.2 bug #1518). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc.h"
#include "support.h"

#define CHURN_CYCLES 1000
#define RUN_WITHIN_MS 2000

/* Start a non-blocking connect; when `wait`, give it up to 20 ms. */
static bool
connected(int fd, const struct rd_sockaddr *a, bool wait)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, (const struct sockaddr *) &a->ss, a->len) == 0)
		return true;
	if (errno != EINPROGRESS || !wait || poll(&p, 1, 20) != 1)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

/* `cycles` non-blocking connects to url, each closed at once, after
 * sending `hello` when given. A connect that fails is fine. */
static void
churn(const char *url, int cycles, const void *hello, size_t hello_len)
{
	struct rd_sockaddr a = rd_sockaddr_of(url);

	for (int i = 0; i < cycles; i++) {
		int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		ck_assert_int_ge(fd, 0);
		if (connected(fd, &a, hello != NULL))
			(void) send(fd, hello, hello_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
}

static void
listener_setup(void)
{
	rd_options o = { .tcp = true };

	rd_start(&rd_fx, &o);
}

/* Both listeners are churned; loop iteration _i then checks one of them
 * (0: ipc, 1: tcp), so a broken one cannot hide the other's result. */
static const char *
checked_url(int i)
{
	return i == 0 ? rd_fx.ipc_url : rd_fx.tcp_url;
}

START_TEST(test_connect_close_churn)
{
	churn(rd_fx.ipc_url, CHURN_CYCLES, NULL, 0);
	churn(rd_fx.tcp_url, CHURN_CYCLES, NULL, 0);
	rd_assert_echo_ok_within(checked_url(_i), RUN_WITHIN_MS);
}
END_TEST

/* Peers that send a partial or a wrong SP header and then close. */
START_TEST(test_bad_handshake_churn)
{
	static const unsigned char partial[] = { 0x00, 'S', 'P' };
	static const unsigned char wrong[] = { 'G', 'E', 'T', ' ', '/', ' ', 'H', 'T' };

	churn(rd_fx.ipc_url, CHURN_CYCLES / 4, partial, sizeof(partial));
	churn(rd_fx.ipc_url, CHURN_CYCLES / 4, wrong, sizeof(wrong));
	churn(rd_fx.tcp_url, CHURN_CYCLES / 4, partial, sizeof(partial));
	churn(rd_fx.tcp_url, CHURN_CYCLES / 4, wrong, sizeof(wrong));
	rd_assert_echo_ok_within(checked_url(_i), RUN_WITHIN_MS);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = rd_tcase("listener");

	tcase_add_checked_fixture(tc, listener_setup, rd_fixture_stop);
	tcase_add_loop_test(tc, test_connect_close_churn, 0, 2);
	tcase_add_loop_test(tc, test_bad_handshake_churn, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
