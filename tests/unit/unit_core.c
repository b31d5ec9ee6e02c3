/* Unit tests of the pure pieces: command validation, units, the wire
 * string check, de-duplication, and a seeded fuzz replay of the decode path. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "core/loop.h"
#include "decode_request.h"
#include "fuzz_targets.h"
#include "rpc/dedup.h"
#include "session/stream_message.h"
#include "runner/v1/runner.pb-c.h"
#include "unit_run.h"
#include "units.h"
#include "wire_check.h"

static const struct command_limits limits = { .output_limit = 1000, .default_timeout_ms = 0 };

static int
build(const char *const *argv, size_t argc, const char *shell, Runner__V1__EnvVar **env,
      size_t n_env, struct command *cmd, rstatus *st)
{
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;

	spec.argv = (char **) argv;
	spec.n_argv = argc;
	spec.shell = (char *) (shell ? shell : "");
	spec.env = env;
	spec.n_env = n_env;
	return command_from_spec(&spec, &limits, cmd, st);
}

static const char *
env_get(char **envp, const char *name)
{
	size_t n = strlen(name);
	for (; *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

START_TEST(test_command_shell_and_argv)
{
	const char *argv[] = { "echo", "hi" };
	struct command cmd;
	rstatus st;

	ck_assert_int_eq(build(NULL, 0, "echo $HOME", NULL, 0, &cmd, &st), 0);
	ck_assert_str_eq(cmd.argv[0], "/bin/sh");
	ck_assert_str_eq(cmd.argv[1], "-c");
	ck_assert_str_eq(cmd.argv[2], "echo $HOME");
	ck_assert_ptr_null(cmd.argv[3]);
	ck_assert_str_eq(cmd.backend, "exec");
	ck_assert_str_eq(cmd.cwd, "/");
	command_free(&cmd);

	ck_assert_int_lt(build(argv, 2, "true", NULL, 0, &cmd, &st), 0);
	ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	ck_assert_int_lt(build(NULL, 0, NULL, NULL, 0, &cmd, &st), 0);
	ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	ck_assert_ptr_null(cmd.argv);
}
END_TEST

START_TEST(test_command_env_clean_and_override)
{
	const char *argv[] = { "env" };
	Runner__V1__EnvVar a = RUNNER__V1__ENV_VAR__INIT, b = RUNNER__V1__ENV_VAR__INIT;
	Runner__V1__EnvVar *vars[] = { &a, &b };
	struct command cmd;
	rstatus st;

	setenv("RUNNERD_UNIT_SECRET", "leak", 1);
	a.name = "FOO";
	a.value = (ProtobufCBinaryData){ 3, (uint8_t *) "bar" };
	b.name = "PATH";
	b.value = (ProtobufCBinaryData){ 4, (uint8_t *) "/opt" };
	ck_assert_int_eq(build(argv, 1, NULL, vars, 2, &cmd, &st), 0);
	ck_assert_str_eq(env_get(cmd.envp, "FOO"), "bar");
	ck_assert_str_eq(env_get(cmd.envp, "PATH"), "/opt");
	ck_assert_str_eq(env_get(cmd.envp, "HOME"), "/");
	ck_assert_ptr_null(env_get(cmd.envp, "RUNNERD_UNIT_SECRET"));
	command_free(&cmd);

	/* An empty value, as protobuf-c decodes it: no data at all. */
	a.value = (ProtobufCBinaryData){ 0, NULL };
	ck_assert_int_eq(build(argv, 1, NULL, vars, 1, &cmd, &st), 0);
	ck_assert_str_eq(env_get(cmd.envp, "FOO"), "");
	command_free(&cmd);
}
END_TEST

START_TEST(test_command_env_refused)
{
	static const char *const bad[] = { "LD_PRELOAD", "LD_LIBRARY_PATH", "GLIBC_TUNABLES", "A=B", "",
					   "BASH_ENV" };
	const char *argv[] = { "env" };
	struct command cmd;
	rstatus st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Runner__V1__EnvVar v = RUNNER__V1__ENV_VAR__INIT, *vars[] = { &v };
		v.name = (char *) bad[i];
		ck_assert_msg(build(argv, 1, NULL, vars, 1, &cmd, &st) < 0, "%s accepted", bad[i]);
		ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	}
	{
		Runner__V1__EnvVar v = RUNNER__V1__ENV_VAR__INIT, *vars[] = { &v };
		v.name = "OK";
		v.value = (ProtobufCBinaryData){ 3, (uint8_t *) "a\0b" };
		ck_assert_int_lt(build(argv, 1, NULL, vars, 1, &cmd, &st), 0);
		ck_assert_ptr_nonnull(strstr(st.message, "NUL"));
	}
}
END_TEST

START_TEST(test_command_limits_clamped)
{
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	const char *argv[] = { "true" };
	struct command_limits lim = { .output_limit = 1000, .default_timeout_ms = 5000, .max_timeout_ms = 9000 };
	struct command cmd;
	rstatus st;

	spec.argv = (char **) argv;
	spec.n_argv = 1;
	spec.stdout_limit = 5000; /* may not raise the server's cap */
	spec.stderr_limit = 10;   /* may lower it */
	spec.timeout_ms = 60000;
	ck_assert_int_eq(command_from_spec(&spec, &lim, &cmd, &st), 0);
	ck_assert_uint_eq(cmd.stdout_limit, 1000);
	ck_assert_uint_eq(cmd.stderr_limit, 10);
	ck_assert_uint_eq(cmd.timeout_ms, 9000);
	command_free(&cmd);
	spec.timeout_ms = 0;
	ck_assert_int_eq(command_from_spec(&spec, &lim, &cmd, &st), 0);
	ck_assert_uint_eq(cmd.timeout_ms, 5000);
	command_free(&cmd);
}
END_TEST

START_TEST(test_units)
{
	uint64_t v;

	ck_assert_int_eq(parse_duration_ms("250ms", &v), 0);
	ck_assert_uint_eq(v, 250);
	ck_assert_int_eq(parse_duration_ms("3", &v), 0);
	ck_assert_uint_eq(v, 3000);
	ck_assert_int_eq(parse_duration_ms("2m", &v), 0);
	ck_assert_uint_eq(v, 120000);
	ck_assert_int_eq(parse_duration_ms("1h", &v), 0);
	ck_assert_uint_eq(v, 3600000);
	ck_assert_int_lt(parse_duration_ms("-1s", &v), 0);
	ck_assert_int_lt(parse_duration_ms("1.5s", &v), 0);
	ck_assert_int_lt(parse_duration_ms("s", &v), 0);
	ck_assert_int_eq(parse_size("4M", &v), 0);
	ck_assert_uint_eq(v, 4u << 20);
	ck_assert_int_eq(parse_size("64KiB", &v), 0);
	ck_assert_uint_eq(v, 64u << 10);
	ck_assert_int_lt(parse_size("99999999999999999999G", &v), 0);
	ck_assert_int_lt(parse_size("4X", &v), 0);
}
END_TEST

/* Encode a RunRequest whose argv[1] holds a NUL: protobuf-c would hand C
 * "rm" instead of "rm\0-rf". */
START_TEST(test_wire_check_nul_in_nested_string)
{
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	char *argv[] = { "echo", "okay" };
	uint8_t buf[256];
	size_t len;
	rstatus st;

	spec.argv = argv;
	spec.n_argv = 2;
	req.command = &spec;
	len = runner__v1__run_request__pack(&req, buf);
	ck_assert_int_eq(wire_check_strings(&runner__v1__run_request__descriptor, buf, len, &st), 0);
	/* Turn "okay" into "ok\0y" in place. */
	uint8_t *p = memmem(buf, len, "okay", 4);
	ck_assert_ptr_nonnull(p);
	p[2] = '\0';
	ck_assert_int_lt(wire_check_strings(&runner__v1__run_request__descriptor, buf, len, &st), 0);
	ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(st.message, "runner.v1.CommandSpec.argv"));
	/* An empty payload (protobuf-c leaves its data NULL) has no strings. */
	ck_assert_int_eq(wire_check_strings(&runner__v1__run_request__descriptor, NULL, 0, &st), 0);
	/* Truncation is malformed, not a crash. */
	ck_assert_int_lt(wire_check_strings(&runner__v1__run_request__descriptor, buf, len - 1, &st), 0);
}
END_TEST

/* A cheap, deterministic stand-in for the libFuzzer run: random bytes and
 * random mutations of a valid envelope through the whole decode path. */
START_TEST(test_decode_fuzz_replay)
{
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	char *argv[] = { "sh", "-c", "echo hi" };
	uint8_t payload[256], seed[512], buf[512];
	size_t plen, slen;
	unsigned rnd = 12345;

	spec.argv = argv;
	spec.n_argv = 3;
	req.command = &spec;
	plen = runner__v1__run_request__pack(&req, payload);
	env.method = "runner.v1.Runner/Run";
	env.payload = (ProtobufCBinaryData){ plen, payload };
	slen = runner__v1__request_envelope__pack(&env, seed);
	ck_assert_int_gt(decode_request_bytes(seed, slen), 0);

	for (int i = 0; i < 200000; i++) {
		size_t len;
		rnd = rnd * 1103515245u + 12345u;
		if (i % 2) {
			len = (rnd >> 8) % sizeof(buf);
			for (size_t k = 0; k < len; k++) {
				rnd = rnd * 1103515245u + 12345u;
				buf[k] = (uint8_t) (rnd >> 16);
			}
		} else {
			len = slen;
			memcpy(buf, seed, slen);
			for (int k = 0; k < 3; k++) {
				rnd = rnd * 1103515245u + 12345u;
				buf[(rnd >> 8) % slen] = (uint8_t) (rnd >> 20);
			}
			len -= (rnd >> 4) % 4;
		}
		decode_request_bytes(buf, len);
	}
}
END_TEST

/* A reader's attach whose session id holds a NUL is not a reader's: the
 * id must not be cut short into another session's ("ID\0junk" as "ID"). */
START_TEST(test_stream_message_nul_refused)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT, *got;
	Runner__V1__ReadStreamRequest a = RUNNER__V1__READ_STREAM_REQUEST__INIT;
	char id[] = "00112233445566778899aabbccddeeff";
	uint8_t buf[128];
	size_t len, at;

	a.session_id = id;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH;
	m.attach = &a;
	len = runner__v1__stream_client_message__pack(&m, buf);
	ck_assert_ptr_nonnull(got = stream_message_decode(buf, len));
	ck_assert_str_eq(got->attach->session_id, id);
	runner__v1__stream_client_message__free_unpacked(got, NULL);

	at = (size_t) ((uint8_t *) memmem(buf, len, id, strlen(id)) - buf);
	buf[at + 30] = '\0';
	ck_assert_ptr_null(stream_message_decode(buf, len));
	/* Without a kind it is not a reader's message either. */
	ck_assert_ptr_null(stream_message_decode(buf, 0));
}
END_TEST

/* Every committed seed and regression input of every fuzz target, through
 * the target's own function: a finding fixed once stays fixed. */
START_TEST(test_fuzz_corpus_replay)
{
	for (const struct fuzz_target *t = fuzz_targets; t->name != NULL; t++) {
		char dir[4096], path[8192];
		struct dirent *e;
		unsigned files = 0;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/fuzz_%s", FUZZ_CORPUS_DIR, t->name);
		ck_assert_msg((d = opendir(dir)) != NULL, "%s: no corpus", dir);
		while ((e = readdir(d)) != NULL) {
			static uint8_t buf[1 << 20];
			size_t len;
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			ck_assert_msg((f = fopen(path, "rb")) != NULL, "%s", path);
			len = fread(buf, 1, sizeof(buf), f);
			ck_assert_msg(feof(f), "%s: larger than %zu bytes", path, sizeof(buf));
			fclose(f);
			t->one(buf, len);
			files++;
		}
		closedir(d);
		ck_assert_msg(files > 0, "%s: empty corpus", dir);
	}
}
END_TEST

START_TEST(test_dedup_lifecycle)
{
	struct dedup_config cfg = { .max_entries = 2, .max_bytes = 100, .ttl_us = 1000 };
	struct dedup *d = dedup_new(&cfg);
	uint64_t fp = dedup_fingerprint("Run", (const uint8_t *) "x", 1);
	struct dedup_entry *e;

	ck_assert_uint_ne(fp, dedup_fingerprint("Run", (const uint8_t *) "y", 1));
	ck_assert_uint_ne(fp, dedup_fingerprint("Wait", (const uint8_t *) "x", 1));
	ck_assert_ptr_null(dedup_find(d, (const uint8_t *) "id1", 3));
	e = dedup_insert(d, (const uint8_t *) "id1", 3, fp);
	ck_assert_ptr_eq(dedup_find(d, (const uint8_t *) "id1", 3), e);
	ck_assert(!e->done);
	ck_assert(dedup_add_waiter(e, (void *) 1));
	ck_assert_uint_eq(e->n_waiters, 1);
	dedup_clear_waiters(e);
	dedup_complete(d, e, (const uint8_t *) "reply", 5, 10);
	ck_assert(e->done);
	ck_assert_uint_eq(e->reply_len, 5);
	ck_assert_mem_eq(e->reply, "reply", 5);

	/* Too large to keep: remembered as done, body dropped. */
	e = dedup_insert(d, (const uint8_t *) "id2", 3, fp);
	uint8_t big[200] = { 0 };
	dedup_complete(d, e, big, sizeof(big), 20);
	ck_assert(e->done && e->reply_dropped && e->reply == NULL);

	/* Past the TTL everything done goes. */
	dedup_expire(d, 5000);
	ck_assert_ptr_null(dedup_find(d, (const uint8_t *) "id1", 3));
	ck_assert_ptr_null(dedup_find(d, (const uint8_t *) "id2", 3));
	ck_assert_uint_eq(dedup_count(d), 0);
	dedup_free(d);
}
END_TEST


/* The timers' heap against the obvious model: armed, re-armed and
 * disarmed at random, every timer still armed fires exactly once, in
 * deadline order, ties in the order they were (last) armed. */
#define N_TIMERS 20000

struct probe_timer {
	struct loop_timer t;
	uint64_t armed_seq; /* when it was last armed, by this test */
	int fired;
};

static struct probe_timer probes[N_TIMERS];
static struct loop *probe_loop;
static uint64_t last_when, last_seq, fired_total;
static bool order_ok = true;

static void
probe_fired(struct loop_timer *t)
{
	struct probe_timer *p = (struct probe_timer *) t;

	if (t->when_us < last_when || (t->when_us == last_when && p->armed_seq < last_seq))
		order_ok = false;
	last_when = t->when_us;
	last_seq = p->armed_seq;
	p->fired++;
	fired_total++;
}

static void
probe_stop(struct loop_timer *t)
{
	loop_stop(probe_loop);
}

START_TEST(test_loop_timers_order)
{
	struct loop_timer stopper = { .cb = probe_stop };
	uint64_t now = loop_now_us(), seq = 0, x = 88172645463325252ull, expect = 0;
	rstatus st;

	ck_assert_int_eq(loop_new(&probe_loop, &st), 0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N_TIMERS; i++) {
			struct probe_timer *p = &probes[(x >> 7) % N_TIMERS];
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p->t.cb = probe_fired;
			if (x % 5 == 0) {
				loop_timer_disarm(probe_loop, &p->t);
				continue;
			}
			/* Deadlines in the past, many of them equal. */
			loop_timer_arm(probe_loop, &p->t, now - 1000 - x % 300);
			p->armed_seq = ++seq;
		}
	for (int i = 0; i < N_TIMERS; i++)
		expect += probes[i].t.armed;
	/* Due last of all: every other timer has fired by then. */
	loop_timer_arm(probe_loop, &stopper, now);
	ck_assert_int_eq(loop_run(probe_loop), 0);
	ck_assert(order_ok);
	ck_assert_uint_eq(fired_total, expect);
	for (int i = 0; i < N_TIMERS; i++) {
		ck_assert_int_le(probes[i].fired, 1);
		ck_assert(!probes[i].t.armed);
	}
	loop_free(probe_loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("unit_core");
	TCase *tc = tcase_create("core");
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_command_shell_and_argv);
	tcase_add_test(tc, test_command_env_clean_and_override);
	tcase_add_test(tc, test_command_env_refused);
	tcase_add_test(tc, test_command_limits_clamped);
	tcase_add_test(tc, test_units);
	tcase_add_test(tc, test_wire_check_nul_in_nested_string);
	tcase_add_test(tc, test_decode_fuzz_replay);
	tcase_add_test(tc, test_fuzz_corpus_replay);
	tcase_add_test(tc, test_stream_message_nul_refused);
	tcase_add_test(tc, test_dedup_lifecycle);
	tcase_add_test(tc, test_loop_timers_order);
	suite_add_tcase(s, tc);
	failed = unit_run_suite(s);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
