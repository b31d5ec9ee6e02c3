/* test_bad_input — malformed envelopes, payloads and requests each get
 * their status code, and the server keeps serving normal Runs afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "rpc.h"
#include "support.h"

/* A byte sequence in a string that is replaced by NUL + the rest after
 * packing, so requests can carry NULs that C strings cannot hold. */
#define NUL_MARK "\x01@NUL@"
#define NUL_MARK_LEN 6

static void
patch_nul_marks(uint8_t *buf, size_t len)
{
	uint8_t *p = buf;

	while ((p = memmem(p, len - (size_t) (p - buf), NUL_MARK, NUL_MARK_LEN)) != NULL)
		*p = '\0';
}

static void
assert_code(const Runner__V1__ReplyEnvelope *reply, int want, const char *what)
{
	ck_assert_msg(reply->code == (Runner__V1__StatusCode) want, "%s: got %s (%s), want %s", what,
		      runner_status_code_name((int) reply->code), reply->message, runner_status_code_name(want));
}

START_TEST(test_garbage_envelope)
{
	Runner__V1__ReplyEnvelope *reply = NULL;
	uint8_t junk[256];
	int rv;

	ck_assert_int_eq(getrandom(junk, sizeof(junk), 0), sizeof(junk));
	junk[0] = 0x0f; /* field 1 with wire type 7, which does not exist */
	rv = rd_raw_request(rd_fx.ipc_url, junk, sizeof(junk), 5000, &reply);
	ck_assert_msg(rv == 0, "no reply to a garbage envelope: %s", nng_strerror(rv));
	assert_code(reply, RUNNER_INVALID_ARGUMENT, "garbage envelope");
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	rd_assert_echo_ok_at(rd_fx.ipc_url);
}
END_TEST

START_TEST(test_truncated_payload)
{
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__ReplyEnvelope *reply;
	uint8_t *payload;
	size_t len;
	rd_cmd c;

	rd_cmd_init(&c);
	rd_cmd_argv(&c, "cat", NULL);
	rd_cmd_stdin(&c, "0123456789", 10); /* the last field: length-delimited */
	payload = rd_cmd_pack(&c, &len);
	reply = rd_call_envelope(cl, RD_RUN_METHOD, NULL, 0, payload, len - 4);
	assert_code(reply, RUNNER_INVALID_ARGUMENT, "truncated RunRequest");
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	free(payload);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

START_TEST(test_unknown_method)
{
	static const char *const methods[] = {
		"runner.v1.Runner/NoSuchMethod", "other.v1.Service/Run",
	};
	runner_client *cl = rd_client(rd_fx.ipc_url);

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		Runner__V1__ReplyEnvelope *reply = rd_call_envelope(cl, methods[i], NULL, 0, NULL, 0);

		assert_code(reply, RUNNER_UNIMPLEMENTED, methods[i]);
		runner__v1__reply_envelope__free_unpacked(reply, NULL);
	}
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

/* RunRequests the server must refuse with INVALID_ARGUMENT. */
struct bad_case {
	const char *name;
	void (*build)(rd_cmd *c);
};

static void no_command(rd_cmd *c) { c->req.command = NULL; }
static void empty_argv_and_shell(rd_cmd *c) { (void) c; }
static void argv_and_shell(rd_cmd *c) { rd_cmd_argv(c, "true", NULL); rd_cmd_shell(c, "true"); }
static void argv_with_nul(rd_cmd *c) { rd_cmd_argv(c, "echo", "a" NUL_MARK "b", NULL); }
static void with_env(rd_cmd *c, const char *name, const char *value)
{
	rd_cmd_argv(c, "true", NULL);
	rd_cmd_env(c, name, value);
}
static void env_name_with_eq(rd_cmd *c) { with_env(c, "A=B", "x"); }
static void env_name_with_nul(rd_cmd *c) { with_env(c, "RD" NUL_MARK "X", "x"); }
static void env_name_empty(rd_cmd *c) { with_env(c, "", "x"); }
static void env_value_with_nul(rd_cmd *c) { with_env(c, "RD_X", "a" NUL_MARK "b"); }
static void env_ld_preload(rd_cmd *c) { with_env(c, "LD_PRELOAD", "/tmp/evil.so"); }
static void env_ld_library_path(rd_cmd *c) { with_env(c, "LD_LIBRARY_PATH", "/tmp"); }
static void env_glibc_tunables(rd_cmd *c) { with_env(c, "GLIBC_TUNABLES", "glibc.malloc.check=3"); }

static const struct bad_case bad_cases[] = {
	{ "no command", no_command },
	{ "empty argv and shell", empty_argv_and_shell },
	{ "both argv and shell", argv_and_shell },
	{ "argv element with NUL", argv_with_nul },
	{ "env name with '='", env_name_with_eq },
	{ "env name with NUL", env_name_with_nul },
	{ "empty env name", env_name_empty },
	{ "env value with NUL", env_value_with_nul },
	{ "LD_PRELOAD", env_ld_preload },
	{ "LD_LIBRARY_PATH", env_ld_library_path },
	{ "GLIBC_TUNABLES", env_glibc_tunables },
};
#define N_BAD_CASES ((int) (sizeof(bad_cases) / sizeof(bad_cases[0])))

START_TEST(test_bad_run_request)
{
	const struct bad_case *bc = &bad_cases[_i];
	runner_client *cl = rd_client(rd_fx.ipc_url);
	Runner__V1__ReplyEnvelope *reply;
	uint8_t *payload;
	size_t len;
	rd_cmd c;

	rd_cmd_init(&c);
	bc->build(&c);
	payload = rd_cmd_pack(&c, &len);
	patch_nul_marks(payload, len);
	reply = rd_call_envelope(cl, RD_RUN_METHOD, NULL, 0, payload, len);
	assert_code(reply, RUNNER_INVALID_ARGUMENT, bc->name);
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	free(payload);
	rd_assert_echo_ok(cl);
	runner_client_close(cl);
}
END_TEST

/* A 5 MiB request (limit 4 MiB) gets no answer — nng drops it and the
 * sender's connection — while other connections keep working. */
START_TEST(test_oversized_request)
{
	const size_t big = 5 * 1024 * 1024;
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	runner_client *bystander = rd_client(rd_fx.ipc_url);
	uint8_t *in = calloc(1, big), *payload, *wire, reply[16];
	size_t len, wire_len;
	ssize_t n;
	rd_cmd c;
	int fd;

	rd_assert_echo_ok(bystander);
	rd_cmd_init(&c);
	rd_cmd_argv(&c, "true", NULL); /* a valid Run, if it were accepted */
	rd_cmd_stdin(&c, in, big);
	payload = rd_cmd_pack(&c, &len);
	env.method = RD_RUN_METHOD;
	env.payload.data = payload;
	env.payload.len = len;
	wire_len = runner__v1__request_envelope__get_packed_size(&env);
	wire = malloc(wire_len);
	runner__v1__request_envelope__pack(&env, wire);

	/* A plain socket, not an nng REQ socket: nng 1.5.2's nng_close can hang
	 * on a REQ socket whose oversized request is still being written when
	 * the server drops it. */
	fd = rd_sp_connect(rd_fx.ipc_url, RD_SP_REQ, 2000);
	ck_assert_msg(fd >= 0, "the listener did not complete the SP handshake");
	rd_sp_send(fd, wire_len, wire, wire_len);
	n = recv(fd, reply, sizeof(reply), 0);
	ck_assert_msg(n <= 0, "runnerd answered a %zu-byte request (%zd bytes)", wire_len, n);
	ck_assert_msg(n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK),
		      "runnerd kept the connection of an oversized request open for 2 s");
	close(fd);

	rd_assert_echo_ok(bystander);
	rd_assert_echo_ok_at(rd_fx.ipc_url);
	runner_client_close(bystander);
	free(wire);
	free(payload);
	free(in);
}
END_TEST

/* One request just under the 4 MiB limit carrying ~2 M empty argv
 * elements — more than execve could ever take — is refused with
 * INVALID_ARGUMENT naming ARG_MAX, before protobuf-c allocates for them:
 * runnerd's peak RSS grows by little more than the message itself (it
 * grew by ~94 MB when protobuf-c decoded them). */
START_TEST(test_argv_beyond_arg_max)
{
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	const size_t n = (4u << 20) / 2 - 512;
	Runner__V1__ReplyEnvelope *reply = NULL;
	uint8_t *spec = malloc(2 * n), *payload = malloc(2 * n + 16), *wire, *p;
	long hwm_before, hwm_after;
	size_t wire_len;
	int64_t t0, ms;
	int rv;

	ck_assert(spec && payload);
	for (size_t i = 0; i < n; i++)
		spec[2 * i] = 1 << 3 | 2, spec[2 * i + 1] = 0; /* argv: "" */
	p = payload;
	*p++ = 1 << 3 | 2; /* RunRequest.command */
	for (uint64_t v = 2 * n; ; v >>= 7) {
		*p++ = (uint8_t) (v >= 0x80 ? (v & 0x7f) | 0x80 : v);
		if (v < 0x80)
			break;
	}
	memcpy(p, spec, 2 * n);
	env.method = RD_RUN_METHOD;
	env.payload.data = payload;
	env.payload.len = (size_t) (p - payload) + 2 * n;
	wire_len = runner__v1__request_envelope__get_packed_size(&env);
	ck_assert_uint_le(wire_len, 4u << 20);
	wire = malloc(wire_len);
	ck_assert_ptr_nonnull(wire);
	runner__v1__request_envelope__pack(&env, wire);

	hwm_before = rd_status_kb(rd_fx.pid, "VmHWM");
	t0 = rd_now_ms();
	rv = rd_raw_request(rd_fx.ipc_url, wire, wire_len, 30000, &reply);
	ms = rd_now_ms() - t0;
	ck_assert_msg(rv == 0, "no reply to a %zu-element argv: %s", n, nng_strerror(rv));
	assert_code(reply, RUNNER_INVALID_ARGUMENT, "2 M empty argv elements");
	ck_assert_msg(strstr(reply->message, "ARG_MAX") != NULL, "message: %s", reply->message);
	hwm_after = rd_status_kb(rd_fx.pid, "VmHWM");
	fprintf(stderr, "test_argv_beyond_arg_max: %zu empty argv elements (%zu bytes) refused in %lld ms "
		"(send and answer included); runnerd's peak RSS %ld -> %ld KiB: %s\n",
		n, wire_len, (long long) ms, hwm_before, hwm_after, reply->message);
	/* The message itself and one copy of its payload, not 94 MB. */
	ck_assert_msg(hwm_after - hwm_before < 16 * 1024 || !rd_rss_judged("test_argv_beyond_arg_max"),
		      "runnerd's peak RSS grew by %ld KiB", hwm_after - hwm_before);
	runner__v1__reply_envelope__free_unpacked(reply, NULL);
	rd_assert_echo_ok_at(rd_fx.ipc_url);
	free(wire);
	free(payload);
	free(spec);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("bad_input");
	TCase *tc = rd_tcase("bad_input");

	tcase_add_checked_fixture(tc, rd_fixture_start, rd_fixture_stop);
	tcase_add_test(tc, test_garbage_envelope);
	tcase_add_test(tc, test_truncated_payload);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_loop_test(tc, test_bad_run_request, 0, N_BAD_CASES);
	tcase_add_test(tc, test_oversized_request);
	tcase_add_test(tc, test_argv_beyond_arg_max);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return rd_run_suite(make_suite);
}
