/* test_notify — runnerd under a service manager (systemd's Type=notify):
 * READY=1 comes only once every listener answers, never from a runnerd that
 * failed to listen, and STOPPING=1 comes at SIGTERM; each datagram is sent
 * by runnerd itself (the pid systemd checks with NotifyAccess=main), and
 * the commands it runs never see $NOTIFY_SOCKET.
 *
 * The test plays the manager: it owns the datagram socket, with a path and
 * with an abstract ('@') name, and reads the sender's credentials as
 * systemd does (SO_PASSCRED).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc.h"
#include "support.h"

extern char **environ;

#ifndef RUNNERD_PATH
#error "RUNNERD_PATH must name the runnerd binary under test"
#endif

struct manager {
	int fd;
	char env[128]; /* the NOTIFY_SOCKET value runnerd gets */
};

static void
manager_open(struct manager *m, const char *dir, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int on = 1;

	if (abstract) {
		snprintf(m->env, sizeof(m->env), "@runnerd-test-notify-%d", (int) getpid());
		/* The name is the bytes after the leading NUL, unterminated. */
		memcpy(sa.sun_path + 1, m->env + 1, strlen(m->env) - 1);
		len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(m->env));
	} else {
		snprintf(m->env, sizeof(m->env), "%s/notify.sock", dir);
		ck_assert_uint_lt(strlen(m->env), sizeof(sa.sun_path));
		strcpy(sa.sun_path, m->env);
		len = sizeof(sa);
	}
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(m->fd, 0);
	ck_assert_int_eq(setsockopt(m->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	ck_assert_msg(bind(m->fd, (struct sockaddr *) &sa, len) == 0, "bind %s: %s", m->env, strerror(errno));
}

/* The next datagram within timeout_ms, NUL-terminated in buf, its sender's
 * pid in *from. false on timeout. */
static bool
manager_recv(struct manager *m, char *buf, size_t size, pid_t *from, int timeout_ms)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	struct pollfd p = { .fd = m->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	n = recvmsg(m->fd, &mh, MSG_DONTWAIT);
	ck_assert_msg(n >= 0, "recvmsg: %s", strerror(errno));
	buf[n] = '\0';
	*from = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*from = cred.pid;
		}
	return true;
}

/* Is `line` one of the newline-separated lines of msg? */
static bool
has_line(const char *msg, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = msg; p != NULL; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* runnerd with NOTIFY_SOCKET=notify_env and the arguments `args`; it dies
 * with the test (setpriv's parent-death signal, kept across exec). env and
 * setpriv exec in place, so the pid is runnerd's. */
static pid_t
start_notified(const char *notify_env, const char *const *args)
{
	char var[160];
	const char *argv[16] = { "setpriv", "--pdeathsig", "KILL", "--", "env", var, RUNNERD_PATH };
	size_t n = 7;
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;

	snprintf(var, sizeof(var), "NOTIFY_SOCKET=%s", notify_env);
	for (; *args != NULL; args++) {
		ck_assert_uint_lt(n, sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	sigemptyset(&none);
	ck_assert_int_eq(posix_spawnattr_init(&attr), 0);
	ck_assert_int_eq(posix_spawnattr_setsigmask(&attr, &none), 0);
	ck_assert_int_eq(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK), 0);
	ck_assert_int_eq(posix_spawnp(&pid, "setpriv", NULL, &attr, (char *const *) argv, environ), 0);
	posix_spawnattr_destroy(&attr);
	return pid;
}

/* The listener at url accepts a plain connection now, with no retry. */
static void
assert_accepts_now(const char *url)
{
	struct rd_sockaddr a = rd_sockaddr_of(url);
	int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *) &a.ss, a.len) == 0, "READY=1 came, but %s refuses: %s", url,
		      strerror(errno));
	close(fd);
}

static int
wait_exit(pid_t pid, int timeout_ms)
{
	int64_t end = rd_now_ms() + timeout_ms;
	int status;

	while (rd_now_ms() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		rd_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_abort_msg("runnerd did not exit within %d ms", timeout_ms);
	return -1;
}

/* _i: 0 a socket path, 1 an abstract name. */
START_TEST(test_ready_after_listeners_stopping_at_sigterm)
{
	struct manager m;
	char dir[256], ipc[300], tcp[64], msg[1024], want_status[340];
	pid_t pid, from;
	rd_cmd c;
	Runner__V1__RunResponse *r;

	rd_mkdtemp(dir);
	snprintf(ipc, sizeof(ipc), "ipc://%s/r.sock", dir);
	snprintf(tcp, sizeof(tcp), "tcp://127.0.0.1:%d", rd_free_tcp_port());
	manager_open(&m, dir, _i == 1);
	{
		const char *args[] = { "--listen", ipc, "--listen", tcp, "--insecure-tcp", NULL };
		pid = start_notified(m.env, args);
	}

	/* The first thing runnerd says is READY=1, and by then both listeners
	 * take connections and answer calls. */
	ck_assert_msg(manager_recv(&m, msg, sizeof(msg), &from, 60000), "no READY=1 within 60 s");
	ck_assert_msg(has_line(msg, "READY=1"), "first notification is not READY=1: '%s'", msg);
	ck_assert_int_eq(from, pid);
	snprintf(want_status, sizeof(want_status), "STATUS=serving on %s", ipc);
	ck_assert_msg(has_line(msg, want_status), "READY=1 without '%s': '%s'", want_status, msg);
	assert_accepts_now(ipc);
	assert_accepts_now(tcp);
	rd_assert_echo_ok_within(ipc, 2000);
	rd_assert_echo_ok_within(tcp, 2000);

	/* What runnerd runs cannot talk to the manager in its name. */
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "/usr/bin/env", NULL);
	r = rd_run_ok_at(ipc, &c);
	rd_assert_exited(r->result, 0);
	ck_assert_msg(memmem(r->result->stdout.data, r->result->stdout.len, "NOTIFY_SOCKET", 13) == NULL,
		      "a command saw NOTIFY_SOCKET");
	runner__v1__run_response__free_unpacked(r, NULL);

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_msg(manager_recv(&m, msg, sizeof(msg), &from, 10000), "no STOPPING=1 within 10 s of SIGTERM");
	ck_assert_msg(has_line(msg, "STOPPING=1"), "after SIGTERM: '%s'", msg);
	ck_assert_int_eq(from, pid);
	{
		int status = wait_exit(pid, 10000);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "runnerd exit status 0x%x", status);
	}
	close(m.fd);
}
END_TEST

/* A runnerd that cannot open one of its listeners exits and never says
 * READY=1, even though its other listener was opened. */
START_TEST(test_no_ready_when_a_listener_fails)
{
	struct manager m;
	struct rd_sockaddr busy;
	char dir[256], ipc[300], tcp[64], msg[1024];
	int hold, on = 1, status;
	pid_t pid, from;

	rd_mkdtemp(dir);
	snprintf(ipc, sizeof(ipc), "ipc://%s/r.sock", dir);
	snprintf(tcp, sizeof(tcp), "tcp://127.0.0.1:%d", rd_free_tcp_port());
	busy = rd_sockaddr_of(tcp);
	hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(hold, 0);
	ck_assert_int_eq(setsockopt(hold, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
	ck_assert_int_eq(bind(hold, (struct sockaddr *) &busy.ss, busy.len), 0);
	ck_assert_int_eq(listen(hold, 1), 0);
	manager_open(&m, dir, false);
	{
		const char *args[] = { "--listen", ipc, "--listen", tcp, "--insecure-tcp", NULL };
		pid = start_notified(m.env, args);
	}
	status = wait_exit(pid, 10000);
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "runnerd exited 0 without its listener");
	while (manager_recv(&m, msg, sizeof(msg), &from, 0))
		ck_assert_msg(!has_line(msg, "READY=1"), "READY=1 from a runnerd that could not listen: '%s'", msg);
	close(hold);
	close(m.fd);
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = rd_tcase("notify");

	tcase_add_loop_test(tc, test_ready_after_listeners_stopping_at_sigterm, 0, 2);
	tcase_add_test(tc, test_no_ready_when_a_listener_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(notify_suite);
}
