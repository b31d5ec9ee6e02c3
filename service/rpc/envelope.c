#include "rpc/envelope.h"

#include <string.h>

#include "rpc/dedup.h"
#include "wire_check.h"

int
envelope_decode(const uint8_t *buf, size_t len, const struct wire_limits *lim,
		Runner__V1__RequestEnvelope **out, rstatus *st)
{
	Runner__V1__RequestEnvelope *env;
	int rv;

	*out = NULL;
	if ((rv = wire_check(&runner__v1__request_envelope__descriptor, buf, len, lim, st)) < 0)
		return rv;
	if ((env = runner__v1__request_envelope__unpack(NULL, len, buf)) == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "request envelope does not decode");
	if (env->request_id.len > DEDUP_MAX_ID) {
		runner__v1__request_envelope__free_unpacked(env, NULL);
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "request_id is longer than %d bytes",
				    DEDUP_MAX_ID);
	}
	*out = env;
	return 0;
}

const ProtobufCMethodDescriptor *
envelope_method(const ProtobufCServiceDescriptor *sd, const char *full)
{
	size_t n = strlen(sd->name);

	if (strncmp(full, sd->name, n) != 0 || full[n] != '/')
		return NULL;
	return protobuf_c_service_descriptor_get_method_by_name(sd, full + n + 1);
}

int
envelope_payload_decode(const ProtobufCMethodDescriptor *md, const ProtobufCBinaryData *payload,
			const struct wire_limits *lim, ProtobufCAllocator *alloc, ProtobufCMessage **out,
			rstatus *st)
{
	int rv;

	if ((rv = wire_check(md->input, payload->data, payload->len, lim, st)) < 0) {
		*out = NULL;
		return rv;
	}
	if ((*out = protobuf_c_message_unpack(md->input, alloc, payload->len, payload->data)) == NULL)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "payload does not decode as %s", md->input->name);
	return 0;
}
