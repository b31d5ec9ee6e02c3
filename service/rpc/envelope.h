/* envelope.h — what arrives on the request socket, checked and decoded
 * before any state is touched.
 *
 * rpc.c runs these on every request, in this order: the envelope (strings
 * without NUL, a request id of at most DEDUP_MAX_ID bytes), its method
 * looked up by full name in protobuf-c's service descriptor, then the
 * payload as that method's input message. They need no loop and no
 * socket, so the fuzz targets (tests/fuzz) run exactly this code.
 */
#ifndef RUNNER_ENVELOPE_H
#define RUNNER_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "runner/v1/runner.pb-c.h"
#include "status.h"
#include "wire_check.h"

/* Decode the envelope in `buf` into *out (free it with
 * runner__v1__request_envelope__free_unpacked(*out, NULL)); or refuse it
 * (wire_check's codes under `lim`, or INVALID_ARGUMENT), *out NULL. */
int envelope_decode(const uint8_t *buf, size_t len, const struct wire_limits *lim,
		    Runner__V1__RequestEnvelope **out, rstatus *st);

/* The method "package.Service/Method" names in `sd`; NULL when none. */
const ProtobufCMethodDescriptor *envelope_method(const ProtobufCServiceDescriptor *sd,
						 const char *full);

/* Decode the payload as md's input into *out with `alloc` (NULL:
 * protobuf-c's default; free it with protobuf_c_message_free_unpacked(*out,
 * alloc)); or refuse it (wire_check's codes under `lim` — checked before
 * protobuf-c allocates anything —, or INVALID_ARGUMENT), *out NULL. */
int envelope_payload_decode(const ProtobufCMethodDescriptor *md, const ProtobufCBinaryData *payload,
			    const struct wire_limits *lim, ProtobufCAllocator *alloc, ProtobufCMessage **out,
			    rstatus *st);

#endif
