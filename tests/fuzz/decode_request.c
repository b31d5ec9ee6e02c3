/* The decode path of every untrusted byte runnerd receives: the request
 * envelope, then the payload as each method's input message. Built into a
 * libFuzzer target (tests/fuzz, clang) and replayed over a seeded random
 * corpus by the unit suite, so CI exercises it without a fuzzer. */
#include "decode_request.h"

#include "runner/v1/runner.pb-c.h"
#include "wire_check.h"

int
decode_request_bytes(const uint8_t *data, size_t len)
{
	const ProtobufCServiceDescriptor *sd = &runner__v1__runner__descriptor;
	Runner__V1__RequestEnvelope *env;
	struct wire_limits lim;
	rstatus st;
	int accepted = 0;

	wire_limits_init(&lim, &runner__v1__command_spec__descriptor);
	if (wire_check(&runner__v1__request_envelope__descriptor, data, len, &lim, &st) < 0)
		return 0;
	if ((env = runner__v1__request_envelope__unpack(NULL, len, data)) == NULL)
		return 0;
	for (unsigned i = 0; i < sd->n_methods; i++) {
		const ProtobufCMessageDescriptor *in = sd->methods[i].input;
		ProtobufCMessage *m;

		if (wire_check(in, env->payload.data, env->payload.len, &lim, &st) < 0)
			continue;
		if ((m = protobuf_c_message_unpack(in, NULL, env->payload.len, env->payload.data)) != NULL) {
			/* Whatever decodes must re-encode within its own size bound. */
			uint8_t *buf = malloc(protobuf_c_message_get_packed_size(m) + 1);
			if (buf != NULL)
				protobuf_c_message_pack(m, buf);
			free(buf);
			protobuf_c_message_free_unpacked(m, NULL);
			accepted++;
		}
	}
	runner__v1__request_envelope__free_unpacked(env, NULL);
	return accepted;
}
