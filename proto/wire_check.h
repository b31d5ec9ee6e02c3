/* wire_check.h — checks protobuf-c cannot make on its own.
 *
 * protobuf-c hands string fields to C as NUL-terminated char*, so a string
 * carrying a NUL byte would be silently cut short (an argv element
 * "rm\0-rf /" would reach exec as "rm"). wire_check_strings walks the
 * encoded message against its descriptor and refuses any string field,
 * at any nesting depth, that contains NUL. Run it on untrusted bytes before
 * protobuf_c_message_unpack.
 */
#ifndef RUNNER_WIRE_CHECK_H
#define RUNNER_WIRE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "status.h"

/* 0, or INVALID_ARGUMENT naming the field ("runner.v1.CommandSpec.argv
 * contains a NUL byte") or saying the bytes are not a valid encoding. */
int wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		       rstatus *st);

#endif
