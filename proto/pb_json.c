/* pb_json.c — the proto3 JSON mapping of protobuf-c messages; see
 * pb_json.h. jansson builds and prints the JSON; glibc's resolver library
 * does the base64 (b64_ntop) and iconv the UTF-8 checking. */
#include "pb_json.h"

#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <math.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* U+FFFD REPLACEMENT CHARACTER, in UTF-8. */
static const char replacement[] = "\xef\xbf\xbd";

/* `s` with each byte that does not begin a well-formed UTF-8 sequence
 * replaced by U+FFFD (glibc's UTF-8 decoder refuses overlong forms,
 * surrogates and values past U+10FFFF, as JSON wants). */
static json_t *
repaired_string(const char *s, size_t len)
{
	iconv_t cd = iconv_open("UTF-8", "UTF-8");
	size_t cap = len * 3 + 1, inleft = len, outleft = cap;
	char *out, *in = (char *) s, *o;
	json_t *v = NULL;

	if (cd == (iconv_t) -1)
		return NULL;
	if ((out = malloc(cap)) == NULL) {
		iconv_close(cd);
		return NULL;
	}
	o = out;
	while (inleft > 0) {
		if (iconv(cd, &in, &inleft, &o, &outleft) != (size_t) -1)
			break;
		if (errno != EILSEQ && errno != EINVAL)
			goto done;
		/* One bad byte becomes one U+FFFD (3 bytes out for 1 in: the
		 * worst case `cap` allows for). */
		memcpy(o, replacement, 3);
		o += 3;
		outleft -= 3;
		in++;
		inleft--;
	}
	v = json_stringn_nocheck(out, (size_t) (o - out));
done:
	free(out);
	iconv_close(cd);
	return v;
}

static json_t *
string_n(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	return v != NULL ? v : repaired_string(s, len);
}

json_t *
pb_json_string(const char *s)
{
	return s != NULL ? string_n(s, strlen(s)) : json_string("");
}

json_t *
pb_json_bytes(const uint8_t *data, size_t len)
{
	size_t size = (len + 2) / 3 * 4 + 1;
	char *buf = malloc(size);
	json_t *v = NULL;
	int n;

	if (buf == NULL)
		return NULL;
	if ((n = b64_ntop(data, len, buf, size)) >= 0)
		v = json_stringn_nocheck(buf, (size_t) n);
	free(buf);
	return v;
}

/* A 64-bit integer as the mapping has it: a decimal string (JSON numbers
 * lose precision past 2^53 in many readers). */
static json_t *
decimal_string(uint64_t magnitude, bool negative)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%s%" PRIu64, negative ? "-" : "", magnitude);
	return json_string(buf);
}

json_t *
pb_json_uint64(uint64_t v)
{
	return decimal_string(v, false);
}

json_t *
pb_json_enum(const ProtobufCEnumDescriptor *e, int value)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(e, value);

	return ev != NULL ? json_string(ev->name) : json_integer(value);
}

static json_t *
floating(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

void
pb_json_field_name(const char *proto_name, char *buf, size_t size)
{
	size_t n = 0;
	bool upper = false;

	if (size == 0)
		return;
	for (const char *p = proto_name; *p != '\0' && n + 1 < size; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		buf[n++] = upper && *p >= 'a' && *p <= 'z' ? (char) (*p - 'a' + 'A') : *p;
		upper = false;
	}
	buf[n] = '\0';
}

/* One value of field `f` stored at `p`. */
static json_t *
value_at(const ProtobufCFieldDescriptor *f, const void *p, unsigned flags)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *) p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *) p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return *(const int64_t *) p < 0 ? decimal_string(-(uint64_t) *(const int64_t *) p, true)
						: decimal_string((uint64_t) *(const int64_t *) p, false);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return pb_json_uint64(*(const uint64_t *) p);
	case PROTOBUF_C_TYPE_FLOAT:
		return floating(*(const float *) p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return floating(*(const double *) p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *) p);
	case PROTOBUF_C_TYPE_ENUM:
		return pb_json_enum(f->descriptor, *(const int *) p);
	case PROTOBUF_C_TYPE_STRING:
		return pb_json_string(*(char *const *) p);
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		return pb_json_bytes(b->data, b->len);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(const ProtobufCMessage *const *) p;
		return m != NULL ? pb_json_message(m, flags) : json_null();
	}
	}
	return json_null();
}

/* Bytes of one stored value of `f`, for stepping through a repeated field. */
static size_t
value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* the 32-bit types and float */
		return sizeof(uint32_t);
	}
}

/* Does the proto3 field without presence at `p` hold its default? */
static bool
is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *) p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *) p == 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *) p == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *) p;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *) p == 0;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *) p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(const void *const *) p == NULL;
	default: /* the other 32-bit integers */
		return *(const uint32_t *) p == 0;
	}
}

/* Whether a field with presence (oneof member, proto2/proto3 optional) is
 * set. */
static bool
is_present(const ProtobufCFieldDescriptor *f, const char *msg)
{
	const void *p = msg + f->offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *) (msg + f->quantifier_offset) == f->id;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
		return *(const void *const *) p != NULL &&
		       (f->type == PROTOBUF_C_TYPE_MESSAGE || *(const void *const *) p != f->default_value);
	return *(const protobuf_c_boolean *) (msg + f->quantifier_offset);
}

/* The value of field `f` of `msg`, or NULL with *skip set when it is left
 * out. */
static json_t *
field_value(const ProtobufCFieldDescriptor *f, const char *msg, unsigned flags, bool *skip)
{
	const void *p = msg + f->offset;

	*skip = false;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *) (msg + f->quantifier_offset);
		const char *items = *(const char *const *) p;
		json_t *a;

		if (n == 0 && !(flags & PB_JSON_EMIT_DEFAULTS)) {
			*skip = true;
			return NULL;
		}
		if ((a = json_array()) == NULL)
			return NULL;
		for (size_t i = 0; i < n; i++)
			if (json_array_append_new(a, value_at(f, items + i * value_size(f), flags)) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
		if (!is_present(f, msg)) {
			*skip = true;
			return NULL;
		}
	} else if (f->label == PROTOBUF_C_LABEL_NONE && is_default(f, p) &&
		   (f->type == PROTOBUF_C_TYPE_MESSAGE || !(flags & PB_JSON_EMIT_DEFAULTS))) {
		*skip = true;
		return NULL;
	}
	return value_at(f, p, flags);
}

json_t *
pb_json_message(const ProtobufCMessage *m, unsigned flags)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *obj = json_object();

	if (obj == NULL)
		return NULL;
	/* Fields in field-number order (protobuf-c's), as protobuf's printers
	 * have them. */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char name[128];
		bool skip;
		json_t *v = field_value(f, (const char *) m, flags, &skip);

		if (skip)
			continue;
		pb_json_field_name(f->name, name, sizeof(name));
		if (v == NULL || json_object_set_new(obj, name, v) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

int
pb_json_print(FILE *f, json_t *v, int pretty)
{
	int rv;

	if (v == NULL)
		return -1;
	rv = json_dumpf(v, f, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	json_decref(v);
	if (rv < 0 || fputc('\n', f) == EOF || fflush(f) != 0 || ferror(f))
		return -1;
	return 0;
}
