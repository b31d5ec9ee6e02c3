#include "decode_request.h"

#include <string.h>

#include "backend.h"
#include "config/profiles.h"
#include "fuzz_support.h"
#include "fuzz_targets.h"
#include "rpc/dedup.h"
#include "rpc/envelope.h"
#include "run/collect.h"

/* A Run's or StartPipes' command, as launch_prepare (run/launch.c) takes
 * it up before the backend's probe and prepare, which act on the host:
 * resolved under its profile, its backend looked up. 0 when it resolves,
 * with its output caps. */
static int
check_command(const Runner__V1__CommandSpec *spec, uint64_t *stdout_limit, uint64_t *stderr_limit)
{
	const struct profiles *p = fuzz_builtin_profiles();
	struct resolved r;
	rstatus st;
	int rv;

	rv = profiles_resolve(p, spec, &r, &st);
	fuzz_check_resolved(p, spec, rv, &r, &st);
	if (rv == 0) {
		FUZZ_CHECK(backend_find(r.cmd.backend) != NULL, "no backend %s", r.cmd.backend);
		*stdout_limit = r.cmd.stdout_limit;
		*stderr_limit = r.cmd.stderr_limit;
	}
	resolved_free(&r);
	return rv;
}

/* rpc_run.c: the command, then its stdin copied under the command's caps. */
static void
validate_run(const ProtobufCMessage *m)
{
	const Runner__V1__RunRequest *req = (const Runner__V1__RunRequest *) m;
	uint64_t out_cap, err_cap;
	struct collect io;
	rstatus st;

	if (check_command(req->command, &out_cap, &err_cap) < 0)
		return;
	FUZZ_CHECK(collect_init(&io, req->stdin.data, req->stdin.len, out_cap, err_cap, &st) == 0, "%s",
		   st.message);
	FUZZ_CHECK(io.stdin_len == req->stdin.len, "stdin copied short");
	collect_free(&io);
}

static void
validate_start_pipes(const ProtobufCMessage *m)
{
	uint64_t out_cap, err_cap;

	(void) check_command(((const Runner__V1__StartPipesRequest *) m)->command, &out_cap, &err_cap);
}

/* The other methods' handlers go straight to the live session table. */
static const struct {
	const char *method;
	void (*validate)(const ProtobufCMessage *m);
} handlers[] = {
	{ "Run", validate_run },
	{ "StartPipes", validate_start_pipes },
};

int
decode_request_bytes(const uint8_t *data, size_t len)
{
	const ProtobufCServiceDescriptor *sd = &runner__v1__runner__descriptor;
	const ProtobufCMethodDescriptor *md;
	Runner__V1__RequestEnvelope *env;
	ProtobufCMessage *m;
	struct wire_limits lim;
	rstatus st;
	int result = 0;

	wire_limits_init(&lim, &runner__v1__command_spec__descriptor);
	if (envelope_decode(data, len, &lim, &env, &st) < 0) {
		FUZZ_CHECK((st.code == RS_INVALID_ARGUMENT || st.code == RS_RESOURCE_EXHAUSTED) && st.message[0],
			   "envelope refused with %s: %s", rstatus_code_name(st.code), st.message);
		return -1;
	}
	FUZZ_CHECK(env->request_id.len <= DEDUP_MAX_ID, "request id of %zu bytes accepted",
		   env->request_id.len);
	fuzz_check_strings_exact(&env->base, data, len);
	fuzz_check_roundtrip(&env->base);
	if ((md = envelope_method(sd, env->method)) == NULL)
		goto done;
	FUZZ_CHECK(strncmp(env->method, sd->name, strlen(sd->name)) == 0 &&
			   strcmp(env->method + strlen(sd->name) + 1, md->name) == 0,
		   "\"%.100s\" resolved to %s", env->method, md->name);
	(void) dedup_fingerprint(md->name, env->payload.data, env->payload.len);
	if (envelope_payload_decode(md, &env->payload, &lim, NULL, &m, &st) < 0) {
		FUZZ_CHECK((st.code == RS_INVALID_ARGUMENT || st.code == RS_RESOURCE_EXHAUSTED) && st.message[0],
			   "payload refused with %s: %s", rstatus_code_name(st.code), st.message);
		goto done;
	}
	FUZZ_CHECK(m->descriptor == md->input, "payload decoded as %s", m->descriptor->name);
	fuzz_check_strings_exact(m, env->payload.data, env->payload.len);
	fuzz_check_roundtrip(m);
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].method, md->name) == 0)
			handlers[i].validate(m);
	protobuf_c_message_free_unpacked(m, NULL);
	result = 1;
done:
	runner__v1__request_envelope__free_unpacked(env, NULL);
	return result;
}

void
fuzz_one_request(const uint8_t *data, size_t size)
{
	decode_request_bytes(data, size);
}
