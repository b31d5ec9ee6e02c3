/* pb_json.h — protobuf-c messages as JSON, in the proto3 JSON mapping: the
 * one JSON shape runnerctl prints and runnerd logs, so that a document reads
 * like what any protobuf library (google.protobuf.json_format, grpcurl)
 * prints for the same message.
 *
 * The conversion is driven by the message's ProtobufCMessageDescriptor, so
 * it covers every message of runner.proto, and any message added to it,
 * without code of its own:
 *   - field names in lowerCamelCase ("exit_code" -> "exitCode");
 *   - enums by value name ("EXITED"), a number the enum does not name as a
 *     number;
 *   - bytes as standard base64 with padding;
 *   - 64-bit integers as decimal strings, 32-bit ones as numbers; float and
 *     double as numbers, or "NaN", "Infinity", "-Infinity";
 *   - strings as they are; bytes that are not UTF-8 (protobuf-c does not
 *     check) become U+FFFD, so the document is always valid JSON;
 *   - nested messages as objects, repeated fields as arrays, of a oneof only
 *     the member that is set; unknown fields are left out.
 * With PB_JSON_EMIT_DEFAULTS, scalar and repeated fields holding their
 * default value (0, "", false, the first enum value, []) are printed too, as
 * json_format's including_default_value_fields does; unset messages and
 * oneof members never are.
 *
 * JSON values are jansson's (json_t); the caller owns what these return and
 * frees it with json_decref. NULL means out of memory.
 */
#ifndef RUNNER_PB_JSON_H
#define RUNNER_PB_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

enum pb_json_flags {
	PB_JSON_EMIT_DEFAULTS = 1 << 0,
};

/* The mapping of `m` (an object). */
json_t *pb_json_message(const ProtobufCMessage *m, unsigned flags);

/* The pieces, for JSON documents that are not a message (runnerd's log):
 * a string repaired to UTF-8 (NULL: ""), bytes in base64, a 64-bit unsigned
 * integer as a string, an enum value by name. */
json_t *pb_json_string(const char *s);
json_t *pb_json_bytes(const uint8_t *data, size_t len);
json_t *pb_json_uint64(uint64_t v);
json_t *pb_json_enum(const ProtobufCEnumDescriptor *e, int value);

/* The JSON name of a field: lowerCamelCase of `proto_name`, into `buf`
 * (`size` bytes; truncated to fit). */
void pb_json_field_name(const char *proto_name, char *buf, size_t size);

/* Write `v` to `f` followed by a newline: indented by two spaces when
 * `pretty`, on one line otherwise. Steals the reference to `v`. 0, or -1 on
 * an output error or when v is NULL (out of memory). */
int pb_json_print(FILE *f, json_t *v, int pretty);

#endif
