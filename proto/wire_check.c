#include "wire_check.h"

#include <string.h>

/* Our schema has no recursive messages; this only guards hostile input
 * against a schema that might grow one. */
#define MAX_DEPTH 32

static int
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int
malformed(const ProtobufCMessageDescriptor *desc, rstatus *st)
{
	return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: malformed protobuf encoding", desc->name);
}

static int
check(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end, int depth,
      rstatus *st)
{
	if (depth > MAX_DEPTH)
		return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s: nested too deeply", desc->name);
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, len;
		int rv;

		if (read_varint(&p, end, &key) != 0)
			return malformed(desc, st);
		f = key >> 3 <= UINT32_MAX
			    ? protobuf_c_message_descriptor_get_field(desc, (unsigned) (key >> 3))
			    : NULL;
		switch (key & 7) {
		case 0:
			if (read_varint(&p, end, &len) != 0)
				return malformed(desc, st);
			break;
		case 1:
		case 5:
			if ((size_t) (end - p) < ((key & 7) == 1 ? 8u : 4u))
				return malformed(desc, st);
			p += (key & 7) == 1 ? 8 : 4;
			break;
		case 2:
			if (read_varint(&p, end, &len) != 0 || len > (uint64_t) (end - p))
				return malformed(desc, st);
			if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, len) != NULL)
				return rstatus_fail(st, RS_INVALID_ARGUMENT, "%s.%s contains a NUL byte",
						    desc->name, f->name);
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    (rv = check(f->descriptor, p, p + len, depth + 1, st)) < 0)
				return rv;
			p += len;
			break;
		default:
			/* Groups are deprecated and unused by runner.v1. */
			return malformed(desc, st);
		}
	}
	return 0;
}

int
wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		   rstatus *st)
{
	/* An empty message has no fields; and buf may be NULL, where even
	 * buf + 0 is undefined (protobuf-c leaves an empty bytes field NULL). */
	if (len == 0)
		return 0;
	return check(desc, buf, buf + len, 0, st);
}
