/* fuzz_make_seeds DIR: write the seed corpora of the fuzz targets into
 * DIR/<target>/ (tests/fuzz/corpus is committed; run this again when the
 * contract or a format changes). Each seed is a valid input of its kind,
 * built with the same code runnerd's clients and backends use where that
 * code is reachable (protobuf-c's generated packers, shim_env_encode), so
 * that a fuzzer starts from what runnerd really receives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_support.h"
#include "runner/v1/runner.pb-c.h"
#include "shim_env.h"

static const char *out_dir;

static void
put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
put_message(const char *target, const char *name, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len + 1);

	protobuf_c_message_pack(m, buf);
	put(target, name, buf, len);
	free(buf);
}

/* --- fuzz_request: an envelope per method ---------------------------------- */

static void
put_request(const char *name, const char *method, const ProtobufCMessage *payload, bool with_id)
{
	Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
	uint8_t id[16] = "0123456789abcdef", *buf = NULL;
	char full[128];

	snprintf(full, sizeof(full), "runner.v1.Runner/%s", method);
	env.method = full;
	if (payload != NULL) {
		env.payload.len = protobuf_c_message_get_packed_size(payload);
		env.payload.data = buf = malloc(env.payload.len + 1);
		protobuf_c_message_pack(payload, buf);
	}
	if (with_id) {
		env.request_id.data = id;
		env.request_id.len = sizeof(id);
		env.deadline_ms = 30000;
	}
	put_message("fuzz_request", name, &env.base);
	free(buf);
}

static void
request_seeds(void)
{
	Runner__V1__RunRequest run = RUNNER__V1__RUN_REQUEST__INIT;
	Runner__V1__StartPipesRequest sp = RUNNER__V1__START_PIPES_REQUEST__INIT;
	Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
	Runner__V1__Restrictions t = RUNNER__V1__RESTRICTIONS__INIT;
	Runner__V1__EnvVar ev[2] = { RUNNER__V1__ENV_VAR__INIT, RUNNER__V1__ENV_VAR__INIT }, *evp[2];
	Runner__V1__KeyValue kv[2] = { RUNNER__V1__KEY_VALUE__INIT, RUNNER__V1__KEY_VALUE__INIT }, *kvp[2];
	char *argv[] = { "sh", "-c", "echo hi" }, *rw[] = { "/var/cache/build" };
	const char *sid = "00112233445566778899aabbccddeeff";

	spec.argv = argv;
	spec.n_argv = 3;
	run.command = &spec;
	put_request("run-argv", "Run", &run.base, true);

	/* Every CommandSpec field, under the default profile. */
	spec.n_argv = 0;
	spec.shell = "printf '%s\\n' \"$GREETING\"; exit 3";
	ev[0].name = "GREETING";
	ev[0].value = (ProtobufCBinaryData){ 2, (uint8_t *) "hi" };
	ev[1].name = "LANG";
	ev[1].value = (ProtobufCBinaryData){ 5, (uint8_t *) "C.UTF" };
	evp[0] = &ev[0];
	evp[1] = &ev[1];
	spec.env = evp;
	spec.n_env = 2;
	spec.cwd = "/tmp";
	spec.timeout_ms = 5000;
	spec.stdout_limit = 4096;
	spec.stderr_limit = 1024;
	run.stdin = (ProtobufCBinaryData){ 6, (uint8_t *) "input\n" };
	put_request("run-shell-env", "Run", &run.base, true);

	/* The firejail profile, tightened everywhere. */
	spec.shell = NULL;
	spec.argv = argv;
	spec.n_argv = 1;
	spec.n_env = 1;
	ev[0].name = "LANG";
	spec.cwd = NULL;
	spec.profile = "sandbox";
	spec.backend = "firejail";
	t.no_network = true;
	t.read_write = rw;
	t.n_read_write = 1;
	t.cpu_seconds = 5;
	t.address_space_bytes = 64u << 20;
	t.processes = 8;
	t.file_size_bytes = 4096;
	t.open_files = 16;
	t.memory_bytes = 128u << 20;
	t.cpus_milli = 500;
	spec.tighten = &t;
	run.stdin = (ProtobufCBinaryData){ 0, NULL };
	put_request("run-sandbox-tighten", "Run", &run.base, true);

	/* A tightening the default (exec) profile's backend cannot enforce. */
	spec.profile = NULL;
	spec.backend = NULL;
	put_request("run-exec-no-network", "Run", &run.base, true);

	/* Parameters: a workdir and a cache under their roots. */
	spec.tighten = NULL;
	spec.backend = NULL;
	spec.n_env = 0;
	spec.profile = "build";
	kv[0].key = "workdir";
	kv[0].value = "/usr/share/doc";
	kv[1].key = "cache";
	kv[1].value = "/var/cache";
	kvp[0] = &kv[0];
	kvp[1] = &kv[1];
	spec.params = kvp;
	spec.n_params = 2;
	spec.cwd = "/usr/share/doc";
	put_request("run-build-params", "Run", &run.base, false);

	/* Docker: a templated mount source. */
	spec.profile = "container";
	kv[0].key = "src";
	kv[0].value = "/usr/share";
	spec.n_params = 1;
	spec.cwd = "/work/sub";
	put_request("run-container", "Run", &run.base, true);

	spec.profile = NULL;
	spec.n_params = 0;
	spec.cwd = NULL;
	sp.command = &spec;
	sp.idempotency_key = "job-17";
	sp.tag = "build";
	put_request("start-pipes", "StartPipes", &sp.base, true);

	{
		Runner__V1__WriteStdinRequest m = RUNNER__V1__WRITE_STDIN_REQUEST__INIT;
		m.session_id = (char *) sid;
		m.offset = 4096;
		m.data = (ProtobufCBinaryData){ 5, (uint8_t *) "data\n" };
		put_request("write-stdin", "WriteStdin", &m.base, true);
	}
	{
		Runner__V1__CloseStdinRequest m = RUNNER__V1__CLOSE_STDIN_REQUEST__INIT;
		m.session_id = (char *) sid;
		put_request("close-stdin", "CloseStdin", &m.base, true);
	}
	{
		Runner__V1__ReadStreamRequest m = RUNNER__V1__READ_STREAM_REQUEST__INIT;
		m.session_id = (char *) sid;
		put_request("read-stream", "ReadStream", &m.base, false);
	}
	{
		Runner__V1__WaitRequest m = RUNNER__V1__WAIT_REQUEST__INIT;
		m.session_id = (char *) sid;
		m.timeout_ms = 1000;
		put_request("wait", "Wait", &m.base, true);
	}
	{
		Runner__V1__SignalRequest m = RUNNER__V1__SIGNAL_REQUEST__INIT;
		m.session_id = (char *) sid;
		m.signal = 15;
		put_request("signal", "Signal", &m.base, true);
	}
	{
		Runner__V1__ListRequest m = RUNNER__V1__LIST_REQUEST__INIT;
		m.tag = "build";
		put_request("list", "List", &m.base, false);
	}
	{
		Runner__V1__HealthRequest m = RUNNER__V1__HEALTH_REQUEST__INIT;
		put_request("health", "Health", &m.base, false);
	}
	/* A retry with metadata; an unknown method. */
	{
		Runner__V1__RequestEnvelope env = RUNNER__V1__REQUEST_ENVELOPE__INIT;
		Runner__V1__KeyValue md = RUNNER__V1__KEY_VALUE__INIT, *mdp = &md;
		md.key = "traceparent";
		md.value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
		env.method = "runner.v1.Runner/Health";
		env.request_id = (ProtobufCBinaryData){ 4, (uint8_t *) "id-1" };
		env.metadata = &mdp;
		env.n_metadata = 1;
		env.retry = true;
		env.first_sent_unix_ms = 1700000000000ull;
		put_message("fuzz_request", "retry-metadata", &env.base);
		env.method = "runner.v1.Runner/NoSuchMethod";
		put_message("fuzz_request", "unknown-method", &env.base);
	}
}

/* --- fuzz_stream_message ---------------------------------------------------- */

static void
stream_seeds(void)
{
	Runner__V1__StreamClientMessage m = RUNNER__V1__STREAM_CLIENT_MESSAGE__INIT;
	Runner__V1__ReadStreamRequest a = RUNNER__V1__READ_STREAM_REQUEST__INIT;
	Runner__V1__StreamAck k = RUNNER__V1__STREAM_ACK__INIT;
	static const uint8_t secret[32] = "runnerd-fuzz-stream-secret-0123";

	a.session_id = "00112233445566778899aabbccddeeff";
	a.stream_secret = (ProtobufCBinaryData){ sizeof(secret), (uint8_t *) secret };
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ATTACH;
	m.attach = &a;
	put_message("fuzz_stream_message", "attach", &m.base);
	a.stdout_offset = 1u << 20;
	a.stderr_offset = 77;
	a.stream_secret.len = 31;
	put_message("fuzz_stream_message", "attach-resume-short-secret", &m.base);

	k.frames = 3;
	k.stdout_offset = 3u << 20;
	k.stderr_offset = 12;
	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_ACK;
	m.ack = &k;
	put_message("fuzz_stream_message", "ack", &m.base);

	m.kind_case = RUNNER__V1__STREAM_CLIENT_MESSAGE__KIND_DETACH;
	m.detach = true;
	put_message("fuzz_stream_message", "detach", &m.base);
}

/* --- fuzz_config ------------------------------------------------------------ */

static void
put_text(const char *target, const char *name, const char *text)
{
	put(target, name, text, strlen(text));
}

static void
config_seeds(void)
{
	put_text("fuzz_config", "builtin.yaml", fuzz_builtin_yaml);
	put_text("fuzz_config", "minimal.yaml", "profiles:\n  - name: default\n");
	put_text("fuzz_config", "flow.yaml",
		 "default_profile: p\n"
		 "profiles: [{name: p, backend: exec, limits: {timeout: 1h30m, stdout: 2G}},\n"
		 "           {name: q, backend: firejail, network: none, user: nobody}]\n");
	put_text("fuzz_config", "templates.yaml",
		 "profiles:\n"
		 "  - name: t\n"
		 "    backend: firejail\n"
		 "    workdir: \"{{w}}/sub\"\n"
		 "    filesystem:\n"
		 "      read_write: [\"{{w}}\"]\n"
		 "      read_only: [\"{{w}}/ro\", /usr]\n"
		 "      hidden: [\"{{w}}/secret\"]\n"
		 "    env: {allow: [A, B], set: [{name: C, value: \"x=y\"}]}\n"
		 "    params: [{name: w, roots: [/tmp, /usr/share]}]\n");
	put_text("fuzz_config", "docker-pool.yaml",
		 "profiles:\n"
		 "  - name: d\n"
		 "    backend: docker\n"
		 "    user: \"1000:1000\"\n"
		 "    limits: {processes: 16, file_size: 1M}\n"
		 "    docker:\n"
		 "      image: debian:12\n"
		 "      pool: 2\n"
		 "      tmpfs: [/scratch]\n"
		 "      mounts: [{source: /usr/share, target: /share, rw: false}]\n"
		 "      cpus: \"1.5\"\n");
	put_text("fuzz_config", "principals.yaml",
		 "profiles: [{name: a, backend: exec}, {name: b, backend: exec}]\n"
		 "principals:\n"
		 "  - {name: root, uids: [0], profiles: ['*'], admin: true}\n"
		 "  - {name: ops, groups: [root], gids: [4], users: [root], profiles: [a], default_profile: a}\n"
		 "  - name: ci\n"
		 "    token_sha256: [9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08]\n"
		 "    listeners: ['tls+tcp://0.0.0.0:7443']\n"
		 "    profiles: [b]\n"
		 "    quotas: {runs: 4, sessions: 2, rate: 10/s}\n"
		 "tls: {cert: /c.pem, key: /k.pem, client_ca: /ca.pem,\n"
		 "      listeners: [{url: 'tls+tcp://0.0.0.0:7443', client_ca: /ci.pem}]}\n");
	/* Refused ones: a load error has its own code path. */
	put_text("fuzz_config", "bad-backend.yaml", "profiles:\n  - {name: x, backend: chroot}\n");
	put_text("fuzz_config", "bad-twice.yaml", "profiles: [{name: a}, {name: a}]\n");
	put_text("fuzz_config", "bad-exec-rule.yaml",
		 "profiles: [{name: a, backend: exec, network: none}]\ndefault_profile: b\n");
}

/* --- fuzz_shim_env ---------------------------------------------------------- */

static void
shim_seeds(void)
{
	char *argv[] = { "sh", "-c", "echo 100% done", NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", "PCT=%e%a%%", NULL };
	char **enc;
	char buf[8192];
	size_t n = 0;

	/* Even: the environment runnerd-status finds, entries one per line. */
	buf[n++] = 0;
	enc = shim_env_encode("/tmp/work dir", "/bin/sh", argv, envp);
	for (char **e = enc; *e; e++)
		n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s\n", *e);
	n += (size_t) snprintf(buf + n, sizeof(buf) - n, "HOME=/root\nFIREJAIL_QUIET=yes\n");
	put("fuzz_shim_env", "decode-cwd", buf, n);
	free(enc);

	n = 0;
	buf[n++] = 0;
	enc = shim_env_encode(NULL, "/usr/bin/env", argv + 2, NULL);
	for (char **e = enc; *e; e++)
		n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s\n", *e);
	put("fuzz_shim_env", "decode-plain", buf, n);
	free(enc);

	/* Odd: a command to encode and decode back (escapes in every string). */
	static const char cmd[] = "\x01/work\0/bin/sh\0sh\0-c\0exit 0\0\0A=1\0B=%x";
	static const char escapes[] = "\x01\0/bin/%%cat\0cat%a\0%e%c%%\0\0X=%\0Y=%%%%%%%%%%%%%%%%%%%%%%";
	put("fuzz_shim_env", "roundtrip", cmd, sizeof(cmd) - 1);
	put("fuzz_shim_env", "roundtrip-escapes", escapes, sizeof(escapes) - 1);
}

/* --- fuzz_pool_header ------------------------------------------------------- */

static void
put_header(const char *name, const char *body, size_t len, const char *rest)
{
	char buf[1024];

	buf[0] = (char) (len >> 24);
	buf[1] = (char) (len >> 16);
	buf[2] = (char) (len >> 8);
	buf[3] = (char) len;
	memcpy(buf + 4, body, len);
	memcpy(buf + 4 + len, rest, strlen(rest));
	put("fuzz_pool_header", name, buf, 4 + len + strlen(rest));
}

static void
pool_seeds(void)
{
	/* As docker.c writes it: cwd, limits, environment, argv. */
	static const char full[] = "C/work\0Lcpu=10\0Las=268435456\0Lfsize=1048576\0Lnofile=64\0"
				   "EPATH=/usr/bin:/bin\0EGREETING=hi\0Ash\0A-c\0Aecho $GREETING\0";
	static const char plain[] = "C/\0Atrue\0";
	static const char bad[] = "Lcpu=-1\0Lmem=5\0Atrue\0";

	put_header("full", full, sizeof(full) - 1, "stdin of the command\n");
	put_header("plain", plain, sizeof(plain) - 1, "");
	put_header("bad-limit", bad, sizeof(bad) - 1, "");
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_make_seeds DIR\n");
		return 64;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	request_seeds();
	stream_seeds();
	config_seeds();
	shim_seeds();
	pool_seeds();
	return 0;
}
