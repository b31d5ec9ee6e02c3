/* Unit tests of the pure pieces: command validation, units, the wire
 * checks, de-duplication, the connection cap, session output buffers, and a
 * seeded fuzz replay of the decode path. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "core/loop.h"
#include "decode_request.h"
#include "fuzz_targets.h"
#include "rpc/conncap.h"
#include "rpc/dedup.h"
#include "session/outbuf.h"
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

/* Hand-encoded wire bytes: a tag and a length-delimited body. */
static uint8_t *
put_ld(uint8_t *p, unsigned field, const void *data, size_t len)
{
	uint64_t v = len;

	*p++ = (uint8_t) (field << 3 | 2);
	while (v >= 0x80) {
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	memcpy(p, data, len);
	return p + len;
}

/* A RunRequest whose command holds `n` empty argv elements, encoded by
 * hand in `parts` occurrences of the command field (protobuf merges them). */
static uint8_t *
many_empty_argv(size_t n, size_t parts, size_t *len)
{
	size_t per = n / parts;
	uint8_t *spec = malloc(2 * per), *buf = malloc(parts * (2 * per + 16)), *p = buf;

	ck_assert_ptr_nonnull(spec);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < per; i++)
		spec[2 * i] = 1 << 3 | 2, spec[2 * i + 1] = 0;
	for (size_t i = 0; i < parts; i++)
		p = put_ld(p, 1, spec, 2 * per);
	free(spec);
	*len = (size_t) (p - buf);
	return buf;
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double) (t1.tv_sec - t0->tv_sec) * 1e3 + (double) (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* 2 M empty argv elements (4 MiB) are refused as execve would refuse
 * them, before protobuf-c sees them, in a few milliseconds; split over
 * many occurrences of the command field they are counted together. */
START_TEST(test_wire_check_argv_count)
{
	const ProtobufCMessageDescriptor *rd = &runner__v1__run_request__descriptor;
	struct wire_limits lim;
	struct timespec t0;
	uint8_t *buf;
	size_t len;
	rstatus st;
	double ms;

	wire_limits_init(&lim, &runner__v1__command_spec__descriptor);
	ck_assert_uint_ge(lim.arg_max, 128u * 1024u);
	buf = many_empty_argv(2u << 20, 1, &len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_lt(wire_check(rd, buf, len, &lim, &st), 0);
	ms = elapsed_ms(&t0);
	ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	ck_assert_msg(strstr(st.message, "ARG_MAX") != NULL, "message: %s", st.message);
	fprintf(stderr, "2M empty argv elements refused by wire_check in %.2f ms: %s\n", ms, st.message);
	/* Without limits (the NUL check only) the same bytes pass. */
	ck_assert_int_eq(wire_check_strings(rd, buf, len, &st), 0);
	free(buf);

	/* Each string costs its NUL and a pointer: 9 bytes for an empty one. */
	buf = many_empty_argv(lim.arg_max / 9, 1, &len);
	ck_assert_int_eq(wire_check(rd, buf, len, &lim, &st), 0);
	free(buf);
	buf = many_empty_argv(lim.arg_max / 9 + 16, 16, &len);
	ck_assert_int_lt(wire_check(rd, buf, len, &lim, &st), 0);
	ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
	free(buf);
}
END_TEST

/* One string of argv, shell or env ("NAME=VALUE") may hold at most
 * MAX_ARG_STRLEN bytes with its NUL. */
START_TEST(test_wire_check_arg_strlen)
{
	const ProtobufCMessageDescriptor *rd = &runner__v1__run_request__descriptor;
	size_t max = WIRE_ARG_STRLEN_MAX - 1; /* without the NUL */
	uint8_t *big = malloc(max + 1), *spec = malloc(max + 64), *env = malloc(max + 64);
	uint8_t *buf = malloc(2 * max + 256), *p;
	struct wire_limits lim;
	rstatus st;

	ck_assert(big && spec && env && buf);
	memset(big, 'x', max + 1);
	wire_limits_init(&lim, &runner__v1__command_spec__descriptor);
	for (unsigned field = 1; field <= 2; field++) { /* argv, shell */
		p = put_ld(buf, 1, spec, (size_t) (put_ld(spec, field, big, max) - spec));
		ck_assert_int_eq(wire_check(rd, buf, (size_t) (p - buf), &lim, &st), 0);
		p = put_ld(buf, 1, spec, (size_t) (put_ld(spec, field, big, max + 1) - spec));
		ck_assert_int_lt(wire_check(rd, buf, (size_t) (p - buf), &lim, &st), 0);
		ck_assert_int_eq(st.code, RS_INVALID_ARGUMENT);
		ck_assert_msg(strstr(st.message, "MAX_ARG_STRLEN") != NULL, "message: %s", st.message);
	}
	/* env {name: "A", value: max - 2 bytes} is "A=..." of max bytes. */
	for (size_t extra = 0; extra <= 1; extra++) {
		uint8_t *e = put_ld(env, 1, "A", 1);
		e = put_ld(e, 2, big, max - 2 + extra);
		p = put_ld(buf, 1, spec, (size_t) (put_ld(spec, 3, env, (size_t) (e - env)) - spec));
		if (extra == 0) {
			ck_assert_int_eq(wire_check(rd, buf, (size_t) (p - buf), &lim, &st), 0);
		} else {
			ck_assert_int_lt(wire_check(rd, buf, (size_t) (p - buf), &lim, &st), 0);
			ck_assert_msg(strstr(st.message, "env[0]") != NULL, "message: %s", st.message);
		}
	}
	free(big);
	free(spec);
	free(env);
	free(buf);
}
END_TEST

/* Repeated elements outside argv/env and unknown fields share one budget
 * (protobuf-c allocates for each): RESOURCE_EXHAUSTED past it. */
START_TEST(test_wire_check_element_budget)
{
	const ProtobufCMessageDescriptor *ed = &runner__v1__request_envelope__descriptor;
	size_t n = WIRE_DEFAULT_MAX_ELEMENTS;
	uint8_t *buf = malloc(3 * (n + 1)), *p;
	struct wire_limits lim;
	rstatus st;

	ck_assert_ptr_nonnull(buf);
	wire_limits_init(&lim, &runner__v1__command_spec__descriptor);
	/* metadata (field 4): empty KeyValue entries. */
	p = buf;
	for (size_t i = 0; i < n; i++)
		p = put_ld(p, 4, "", 0);
	ck_assert_int_eq(wire_check(ed, buf, (size_t) (p - buf), &lim, &st), 0);
	p = put_ld(p, 4, "", 0);
	ck_assert_int_lt(wire_check(ed, buf, (size_t) (p - buf), &lim, &st), 0);
	ck_assert_int_eq(st.code, RS_RESOURCE_EXHAUSTED);
	/* Unknown field 100 (varint 0): three bytes each. */
	p = buf;
	for (size_t i = 0; i <= n; i++) {
		*p++ = (uint8_t) (100 << 3 & 0x7f) | 0x80;
		*p++ = (uint8_t) (100 >> 4);
		*p++ = 0;
	}
	ck_assert_int_lt(wire_check(ed, buf, (size_t) (p - buf), &lim, &st), 0);
	ck_assert_int_eq(st.code, RS_RESOURCE_EXHAUSTED);
	ck_assert_int_eq(wire_check_strings(ed, buf, (size_t) (p - buf), &st), 0);
	free(buf);
}
END_TEST

/* outbuf: dropping bytes nobody acknowledged (counted), keeping exactly a
 * tail from inside a chunk, giving back a finished buffer's unused end. */
START_TEST(test_outbuf_drop_and_shrink)
{
	uint8_t *data = malloc(3 * OUTBUF_CHUNK), got[16];
	const uint8_t *p;
	struct outbuf b;
	size_t mem;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < 3 * OUTBUF_CHUNK; i++)
		data[i] = (uint8_t) (i * 7);
	outbuf_init(&b, 4 * OUTBUF_CHUNK);
	ck_assert_uint_eq(outbuf_append(&b, data, 2 * OUTBUF_CHUNK + 100), 2 * OUTBUF_CHUNK + 100);
	outbuf_ack(&b, 1000);
	/* The last CHUNK - 4000 bytes: base inside the second chunk, the first
	 * freed. */
	ck_assert_uint_gt(outbuf_keep_last(&b, OUTBUF_CHUNK - 4000), 0);
	ck_assert_uint_eq(b.base, OUTBUF_CHUNK + 4100);
	ck_assert_uint_eq(b.dropped, b.base - 1000);
	ck_assert_uint_eq(b.acked, b.base);
	outbuf_copy(&b, b.base, got, sizeof(got));
	ck_assert_mem_eq(got, data + b.base, sizeof(got));
	ck_assert_uint_eq(outbuf_peek(&b, b.base, &p), OUTBUF_CHUNK - (b.base - OUTBUF_CHUNK));
	/* Keeping more than is there drops nothing. */
	ck_assert_uint_eq(outbuf_keep_last(&b, 10 * OUTBUF_CHUNK), 0);
	/* Shrinking gives back the last chunk's unused end; the data stays. */
	mem = outbuf_memory(&b);
	outbuf_shrink(&b);
	ck_assert_uint_eq(outbuf_memory(&b), mem - (OUTBUF_CHUNK - 100));
	outbuf_copy(&b, b.end - 16, got, sizeof(got));
	ck_assert_mem_eq(got, data + b.end - 16, sizeof(got));
	/* Dropping chunk by chunk, down to nothing. */
	while (outbuf_drop_oldest(&b) > 0)
		;
	ck_assert_uint_eq(outbuf_memory(&b), 0);
	ck_assert_uint_eq(b.base, b.end);
	ck_assert_uint_eq(b.dropped, b.end - 1000);
	/* Appending goes on from the end. */
	ck_assert_uint_eq(outbuf_append(&b, data, 10), 10);
	ck_assert_uint_eq(b.end, 2 * OUTBUF_CHUNK + 110);
	outbuf_free(&b);
	free(data);
}
END_TEST

/* The connection cap: admitted up to the cap; past it the connection
 * quiet the longest without work makes room, busy or recently active ones
 * never do, and the newcomer is refused when none can. */
START_TEST(test_conncap)
{
	struct conncap *t = conncap_new(2, 2);
	const uint64_t q = CONNCAP_QUIET_US;
	uint32_t victim;

	ck_assert_ptr_nonnull(t);
	conncap_set_listener(t, 0, 7);
	conncap_set_listener(t, 1, 8);
	ck_assert_int_eq(conncap_admit(t, 7, 101, 0, &victim), 0);
	ck_assert_int_eq(conncap_admit(t, 7, 102, 10, &victim), 0);
	ck_assert_uint_eq(victim, 0);
	/* Another listener has its own cap; an unknown one passes uncounted. */
	ck_assert_int_eq(conncap_admit(t, 8, 201, 10, &victim), 0);
	ck_assert_int_eq(conncap_admit(t, 99, 301, 10, &victim), 0);
	ck_assert_uint_eq(conncap_count(t), 3);
	/* Full, nobody quiet yet: refused. */
	ck_assert_int_eq(conncap_admit(t, 7, 103, q - 1, &victim), -1);
	ck_assert_uint_eq(victim, 0);
	/* 101 has work, 102 was active last: 102 makes room once quiet. */
	conncap_activity(t, 101, 1, 20);
	ck_assert_int_eq(conncap_admit(t, 7, 104, 20 + q, &victim), 0);
	ck_assert_uint_eq(victim, 102);
	/* 101 (busy) and 104 (just in): refused, however long 101 waits. */
	ck_assert_int_eq(conncap_admit(t, 7, 105, 20 + q + 1, &victim), -1);
	ck_assert_int_eq(conncap_admit(t, 7, 106, 100 * q, &victim), 0);
	ck_assert_uint_eq(victim, 104);
	/* Its work done, 101 is the quietest again after a while. */
	conncap_activity(t, 101, -1, 100 * q);
	conncap_activity(t, 106, 0, 100 * q + 5);
	ck_assert_int_eq(conncap_admit(t, 7, 107, 101 * q, &victim), 0);
	ck_assert_uint_eq(victim, 101);
	/* A forgotten connection frees its place. */
	conncap_forget(t, 106);
	conncap_forget(t, 999); /* unknown: ignored */
	ck_assert_int_eq(conncap_admit(t, 7, 108, 101 * q, &victim), 0);
	ck_assert_uint_eq(victim, 0);
	ck_assert_uint_eq(conncap_count(t), 3);
	conncap_free(t);
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
	tcase_add_test(tc, test_wire_check_argv_count);
	tcase_add_test(tc, test_wire_check_arg_strlen);
	tcase_add_test(tc, test_wire_check_element_budget);
	tcase_add_test(tc, test_outbuf_drop_and_shrink);
	tcase_add_test(tc, test_conncap);
	tcase_add_test(tc, test_decode_fuzz_replay);
	tcase_add_test(tc, test_fuzz_corpus_replay);
	tcase_add_test(tc, test_stream_message_nul_refused);
	tcase_add_test(tc, test_dedup_lifecycle);
	tcase_add_test(tc, test_loop_timers_order);
	suite_add_tcase(s, tc);
	failed = unit_run_suite(s);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
