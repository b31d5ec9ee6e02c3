/* test_tls — tls+tcp listeners: mutual TLS with certificates openssl makes
 * here (the right CA works; another CA's certificate, none at all, a plain
 * tcp client and a client that does not trust runnerd's certificate all
 * fail to call), a principal identified by the listener whose CA is its
 * own, a TLS listener without client certificates refused unless tokens or
 * a flag make it safe, and the listener guard keeping a TLS listener
 * accepting after 1,000 aborted connections. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_support.h"
#include "runner_files.h"
#include "runner_stream.h"

#define TOKEN "tls-token-6d5c4b3a2918"
#define CHURN_CYCLES 1000
#define RUN_WITHIN_MS 2000
#define TLS_READERS 20

static char certs[256];
static char path_buf[16][320];
static int n_paths;

/* A file of the test CA directory (valid for the test). */
static const char *
cert(const char *name)
{
	char *p = path_buf[n_paths++ % 16];

	snprintf(p, sizeof(path_buf[0]), "%s/%s", certs, name);
	return p;
}

static void
make_certs(void)
{
	rd_mkdtemp(certs);
	as_make_ca(certs, "");
	as_make_ca(certs, "other-");
}

/* A port P with P + 1 free as well (the stream listener beside it). */
static int
port_pair(void)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		int p = rd_free_tcp_port(), fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) (p + 1)),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		bool ok = fd >= 0 && p < 65534 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return p;
	}
	ck_abort_msg("no pair of free ports");
	return 0;
}

/* The client credentials of a CA ("" or "other-"), trusting `server_ca`. */
static runner_credentials
creds(const char *server_ca, const char *client)
{
	char cert_name[64], key_name[64];

	snprintf(cert_name, sizeof(cert_name), "%sclient.crt", client ? client : "");
	snprintf(key_name, sizeof(key_name), "%sclient.key", client ? client : "");
	return (runner_credentials){
		.tls_ca_file = server_ca ? cert(server_ca) : NULL,
		.tls_cert_file = client ? cert(cert_name) : NULL,
		.tls_key_file = client ? cert(key_name) : NULL,
		.tls_server_name = "localhost",
	};
}

/* A Run of `true` through url with `cred` (and a token): its code. */
static int
try_run(const char *url, const runner_credentials *cred, runner_status *st)
{
	runner_credentials c = *cred;
	runner_client_options o = { .connect_timeout_ms = 3000, .credentials = &c };
	runner_client *cl = NULL;
	int rv;

	if (runner_client_open(&cl, url, &o, st) < 0)
		return st->code;
	rv = as_run(cl, NULL, "true", NULL, st);
	runner_client_close(cl);
	return rv;
}

static void
assert_refused(const char *url, const runner_credentials *cred, const char *why)
{
	runner_status st;

	rd_assert_code(try_run(url, cred, &st), RUNNER_UNAVAILABLE, &st);
	if (why != NULL)
		ck_assert_msg(strstr(st.message, why) != NULL, "%s", st.message);
}

/* Start `echo WORD` through `c` and read its stream with `cred`: by id
 * alone when `by_id` (the owner's right), else with the session's secret;
 * its stream address, when `stream` is given, must be that one. */
static void
read_echo(runner_client *c, const char *word, const runner_credentials *cred, bool by_id, const char *stream)
{
	char shell[64], want[64];
	rd_session s;
	rd_sink out, err;
	rd_reader r;
	rd_cmd cmd;

	snprintf(shell, sizeof(shell), "echo %s", word);
	snprintf(want, sizeof(want), "%s\n", word);
	rd_cmd_init(&cmd);
	rd_cmd_shell(&cmd, shell);
	rd_start_pipes(c, &cmd, NULL, NULL, &s);
	if (stream != NULL)
		ck_assert_str_eq(s.stream_address, stream);
	rd_sink_init(&out, true, 0);
	rd_sink_init(&err, true, 0);
	rd_reader_open_cred(&r, &s, NULL, by_id ? (const uint8_t *) "" : NULL, 0, cred, &out, &err);
	rd_assert_exited(rd_assert_final_result(rd_reader_drain(&r)), 0);
	rd_sink_assert_eq(&out, want, strlen(want), word);
	rd_reader_close(&r);
	rd_sink_free(&out);
	rd_sink_free(&err);
}

START_TEST(test_mutual_tls)
{
	char listen[64], plain[64], stream[64];
	int port = port_pair();
	as_daemon ad;
	runner_status st;

	make_certs();
	snprintf(listen, sizeof(listen), "tls+tcp://127.0.0.1:%d", port);
	snprintf(plain, sizeof(plain), "tcp://127.0.0.1:%d", port);
	snprintf(stream, sizeof(stream), "tls+tcp://127.0.0.1:%d", port + 1);
	const char *args[] = { "--listen", listen, "--tls-cert", cert("server.crt"), "--tls-key", cert("server.key"),
			       "--tls-client-ca", cert("ca.crt"), NULL };
	as_start(&ad, "profiles:\n  - name: default\n    backend: exec\n", false, args);

	runner_credentials good = creds("ca.crt", "");
	ck_assert_int_eq(try_run(listen, &good, &st), RUNNER_OK);
	/* No client certificate, another CA's, a plain tcp client, a client
	 * that does not trust runnerd's certificate: none gets a call in. */
	runner_credentials none = creds("ca.crt", NULL), other = creds("ca.crt", "other-"),
			   distrust = creds("other-ca.crt", "");
	assert_refused(listen, &none, "TLS handshake failed");
	assert_refused(listen, &other, "TLS handshake failed");
	assert_refused(listen, &distrust, "TLS handshake failed");
	assert_refused(plain, &none, "cannot reach runnerd");
	/* A tls+tcp address without a CA is refused by the client itself. */
	runner_credentials no_ca = { 0 };
	rd_assert_code(try_run(listen, &no_ca, &st), RUNNER_INVALID_ARGUMENT, &st);
	/* The listener still serves. */
	ck_assert_int_eq(try_run(listen, &good, &st), RUNNER_OK);

	/* A session's stream is TLS too: its address is the TLS stream
	 * listener beside the request's. */
	runner_client *c = as_client_tls(listen, &good);
	/* Each reader closes as soon as the last frame is in, right after its
	 * ack of the data went out: nng's TLS transport once hung the close
	 * (one time in three) when that ack was still being written. */
	for (int i = 0; i < TLS_READERS; i++)
		read_echo(c, "over-tls", &good, false, stream);
	runner_client_close(c);

	/* The audit log knows the transport. */
	json_t *lines = as_audit_lines(&ad), *o = as_audit_find(lines, "end", "method", "Run");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(as_str(json_object_get(o, "peer"), "transport"), "tls");
	json_decref(lines);
	as_stop(&ad);
}
END_TEST

START_TEST(test_principal_of_a_listener)
{
	char main_url[64], ci_url[64], config[2048], h[65];
	int p1 = port_pair(), p2 = port_pair();
	as_daemon ad;
	runner_status st;

	make_certs();
	as_sha256_hex(TOKEN, h);
	snprintf(main_url, sizeof(main_url), "tls+tcp://127.0.0.1:%d", p1);
	snprintf(ci_url, sizeof(ci_url), "tls+tcp://127.0.0.1:%d", p2);
	/* ci's certificates come from a CA of their own, which only ci's
	 * listener trusts: whoever gets in there is ci. */
	snprintf(config, sizeof(config),
		 "profiles:\n  - name: default\n    backend: exec\n  - name: ci-only\n    backend: exec\n"
		 "principals:\n  - name: root\n    uids: [0]\n    profiles: ['*']\n    admin: true\n"
		 "  - name: alice\n    token_sha256: [%s]\n    profiles: [default]\n"
		 "  - name: ci\n    listeners: ['%s']\n    profiles: [ci-only]\n    default_profile: ci-only\n"
		 "tls:\n  cert: %s\n  key: %s\n  client_ca: %s\n  listeners:\n    - {url: '%s', client_ca: %s}\n",
		 h, ci_url, cert("server.crt"), cert("server.key"), cert("ca.crt"), ci_url, cert("other-ca.crt"));
	const char *args[] = { "--listen", main_url, "--listen", ci_url, NULL };
	as_start(&ad, config, false, args);

	runner_credentials ci = creds("ca.crt", "other-"), mine = creds("ca.crt", ""), alice = mine;
	alice.token = TOKEN;
	ck_assert_int_eq(try_run(ci_url, &ci, &st), RUNNER_OK);
	assert_refused(main_url, &ci, "TLS handshake failed");
	assert_refused(ci_url, &mine, "TLS handshake failed");
	/* The main listener binds nobody: a certificate alone is not enough. */
	rd_assert_code(try_run(main_url, &mine, &st), RUNNER_UNAUTHENTICATED, &st);
	ck_assert_int_eq(try_run(main_url, &alice, &st), RUNNER_OK);

	/* ci's session: its own, attached by id alone on the stream listener
	 * beside ci's (the same listener, as far as principals go). */
	runner_client *c = as_client_tls(ci_url, &ci);
	read_echo(c, "ci", &ci, true, NULL);
	runner_client_close(c);

	json_t *lines = as_audit_lines(&ad), *o = as_audit_find(lines, "end", "principal", "ci");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(as_str(o, "profile"), "ci-only");
	ck_assert_str_eq(as_str(json_object_get(o, "peer"), "transport"), "tls");
	json_decref(lines);
	as_stop(&ad);
}
END_TEST

/* runnerd with `args` is refused at start-up: exit 78, `why` on stderr. */
static void
assert_start_refused(const char *const *args, const char *why)
{
	const char *argv[32] = { RUNNERD_PATH };
	char dir[256], sock[300], out[4096];
	int p[2], status;
	size_t n = 1, got = 0;
	ssize_t r;
	pid_t pid;

	rd_mkdtemp(dir);
	snprintf(sock, sizeof(sock), "ipc://%s/r.sock", dir);
	argv[n++] = "--listen";
	argv[n++] = sock;
	for (; *args != NULL; args++)
		argv[n++] = *args;
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		dup2(p[1], 2);
		execv(RUNNERD_PATH, (char **) argv);
		_exit(127);
	}
	close(p[1]);
	while ((r = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t) r;
	out[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 78, "status 0x%x: %s", (unsigned) status, out);
	ck_assert_msg(strstr(out, why) != NULL, "%s", out);
}

START_TEST(test_tls_without_client_auth)
{
	char url[64], config[1024], h[65];
	as_daemon ad;
	runner_status st;

	make_certs();
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port_pair());
	/* Nothing would authenticate its callers: refused. */
	const char *open_to_all[] = { "--listen", url, "--tls-cert", cert("server.crt"), "--tls-key",
				      cert("server.key"), NULL };
	assert_start_refused(open_to_all, "TLS without client certificates and without principals");
	const char *no_key[] = { "--listen", url, "--tls-cert", cert("server.crt"), NULL };
	assert_start_refused(no_key, "TLS needs both a certificate and its key");

	/* Tokens make it safe: each request proves itself. */
	as_sha256_hex(TOKEN, h);
	snprintf(config, sizeof(config),
		 "profiles:\n  - name: default\n    backend: exec\n"
		 "principals:\n  - name: root\n    uids: [0]\n    profiles: ['*']\n"
		 "  - name: alice\n    token_sha256: [%s]\n    profiles: [default]\n",
		 h);
	as_start(&ad, config, false, open_to_all);
	runner_credentials anyone = creds("ca.crt", NULL), alice = anyone;
	alice.token = TOKEN;
	rd_assert_code(try_run(url, &anyone, &st), RUNNER_UNAUTHENTICATED, &st);
	ck_assert_int_eq(try_run(url, &alice, &st), RUNNER_OK);
	as_stop(&ad);

	/* Or the operator says so. */
	const char *flagged[] = { "--listen", url, "--tls-cert", cert("server.crt"), "--tls-key", cert("server.key"),
				  "--tls-no-client-auth", NULL };
	as_start(&ad, "profiles:\n  - name: default\n    backend: exec\n", false, flagged);
	ck_assert_int_eq(try_run(url, &anyone, &st), RUNNER_OK);
	ck_assert(as_file_has(ad.log, "no client certificates (--tls-no-client-auth)"));
	as_stop(&ad);
}
END_TEST

/* Connect and close at once, `cycles` times; with `hello`, after sending
 * it (a TLS ClientHello's first bytes: the handshake left half-done). */
static void
churn(int port, int cycles, const void *hello, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	for (int i = 0; i < cycles; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		ck_assert_int_ge(fd, 0);
		if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 ||
		    (errno == EINPROGRESS && hello != NULL && poll(&p, 1, 20) == 1))
			if (hello != NULL)
				(void) send(fd, hello, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
}

START_TEST(test_tls_listener_survives_churn)
{
	/* A TLS record header and the start of a ClientHello. */
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03 };
	char url[64];
	int port = port_pair();
	as_daemon ad;

	make_certs();
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	const char *args[] = { "--listen", url, "--tls-cert", cert("server.crt"), "--tls-key", cert("server.key"),
			       "--tls-client-ca", cert("ca.crt"), NULL };
	as_start(&ad, "profiles:\n  - name: default\n    backend: exec\n", false, args);
	churn(port, CHURN_CYCLES, NULL, 0);
	churn(port, CHURN_CYCLES / 4, hello, sizeof(hello));
	churn(port + 1, CHURN_CYCLES / 4, hello, sizeof(hello));

	/* A call within RUN_WITHIN_MS, connection included. */
	runner_credentials good = creds("ca.crt", "");
	runner_client_options o = { .connect_timeout_ms = RUN_WITHIN_MS, .credentials = &good };
	runner_client *c = NULL;
	runner_status st;
	int64_t start = rd_now_ms();
	ck_assert_msg(runner_client_open(&c, url, &o, &st) == 0, "%s", st.message);
	ck_assert_msg(as_run(c, NULL, "echo ok", NULL, &st) == RUNNER_OK, "%s", st.message);
	ck_assert_msg(rd_now_ms() - start <= RUN_WITHIN_MS + 1000, "took %lld ms", (long long) (rd_now_ms() - start));
	/* And a stream through the churned stream listener. */
	read_echo(c, "streamed", &good, false, NULL);
	runner_client_close(c);
	as_stop(&ad);
}
END_TEST

/* A watch's stream over TLS: it needs the caller's credentials as a
 * session's does (without them the library cannot even dial it). */
START_TEST(test_watch_over_tls)
{
	char url[64], dir[256], config[1024], file[300];
	int port = port_pair();
	as_daemon ad;
	runner_status st;

	make_certs();
	rd_mkdtemp(dir);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	snprintf(config, sizeof(config),
		 "profiles:\n  - name: default\n    backend: exec\n"
		 "  - name: ws\n    files:\n      write: [%s]\n",
		 dir);
	const char *args[] = { "--listen", url, "--tls-cert", cert("server.crt"), "--tls-key", cert("server.key"),
			       "--tls-client-ca", cert("ca.crt"), NULL };
	as_start(&ad, config, false, args);

	runner_credentials good = creds("ca.crt", "");
	runner_client *c = as_client_tls(url, &good);
	Runner__V1__FileScope scope = RUNNER__V1__FILE_SCOPE__INIT;
	Runner__V1__WatchDirRequest req = RUNNER__V1__WATCH_DIR_REQUEST__INIT;
	Runner__V1__WatchDirResponse *w = NULL;
	Runner__V1__StreamFrame *f = NULL;
	runner_stream *s = NULL;

	scope.profile = "ws";
	req.scope = &scope;
	req.path = dir;
	ck_assert_msg(runner_watch_dir(c, &req, &w, 5000, &st) == 0, "WatchDir: %s", st.message);
	ck_assert_msg(strncmp(w->stream_address, "tls+tcp://", 10) == 0, "%s", w->stream_address);
	ck_assert_int_lt(runner_stream_open_watch(&s, w->stream_address, w->watch_id, w->stream_secret.data,
						  w->stream_secret.len, 0, 3000, &st),
			 0);
	rd_assert_code(st.code, RUNNER_INVALID_ARGUMENT, &st);
	ck_assert_msg(runner_stream_open_watch_as(&s, w->stream_address, w->watch_id, w->stream_secret.data,
						  w->stream_secret.len, 0, 3000, &good, &st) == 0,
		      "attach: %s", st.message);
	snprintf(file, sizeof(file), "%s/created-over-tls", dir);
	rd_write_file(file, "x", 1, 0644);
	bool seen = false;
	for (int64_t end = rd_now_ms() + 10000; !seen && rd_now_ms() < end;) {
		if (runner_stream_next(s, &f, 1000, &st) < 0) {
			rd_assert_code(st.code, RUNNER_DEADLINE_EXCEEDED, &st);
			continue;
		}
		ck_assert_msg(!f->last, "the watch ended: %d", f->code);
		for (size_t i = 0; i < f->n_events; i++)
			seen |= f->events[i]->kind == RUNNER__V1__FILE_EVENT_KIND__FILE_CREATED &&
				strcmp(f->events[i]->path, "created-over-tls") == 0;
		runner__v1__stream_frame__free_unpacked(f, NULL);
	}
	ck_assert_msg(seen, "no CREATED event for created-over-tls");
	runner_stream_close(s);
	runner__v1__watch_dir_response__free_unpacked(w, NULL);
	runner_client_close(c);
	as_stop(&ad);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = rd_tcase("tls");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_mutual_tls);
	tcase_add_test(tc, test_principal_of_a_listener);
	tcase_add_test(tc, test_tls_without_client_auth);
	tcase_add_test(tc, test_tls_listener_survives_churn);
	tcase_add_test(tc, test_watch_over_tls);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
