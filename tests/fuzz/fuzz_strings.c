/* The oracle that every decoded string is exactly what was sent.
 *
 * protobuf-c hands a string field to C as a NUL-terminated char *, so a
 * string sent with a NUL inside arrives cut short ("rm\0-rf" as "rm"),
 * and runnerd must refuse such input before decoding it (wire_check.h).
 * To see what was really sent, the same bytes are decoded a second time
 * by protobuf-c itself through a "shadow" descriptor: a copy of the
 * message's descriptor (and of its sub-messages') in which every string
 * field is a bytes field, laid out afresh (a ProtobufCBinaryData is larger
 * than a char *) with message_init NULL, so protobuf-c initialises it from
 * the descriptor alone. Every string must then equal its bytes twin.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"

struct shadow {
	const ProtobufCMessageDescriptor *real;
	ProtobufCMessageDescriptor desc;
	ProtobufCFieldDescriptor *fields;
	struct shadow *next;
};

static struct shadow *shadows; /* built once per descriptor, kept */

static size_t
value_size(const ProtobufCFieldDescriptor *f)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return sizeof(void *);
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 8; /* every scalar and pointer fits, 8-aligned */
	}
}

static bool
has_quantifier(const ProtobufCFieldDescriptor *f)
{
	return f->label == PROTOBUF_C_LABEL_OPTIONAL || f->label == PROTOBUF_C_LABEL_REPEATED ||
	       (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

/* Offsets shared in the real layout (a oneof's members, its case) stay
 * shared in the shadow one. */
static unsigned
remap(unsigned *from, unsigned *to, size_t *n, unsigned old, size_t size, size_t *end)
{
	for (size_t i = 0; i < *n; i++)
		if (from[i] == old)
			return to[i];
	from[*n] = old;
	to[*n] = (unsigned) *end;
	*end += (size + 7) & ~(size_t) 7;
	return to[(*n)++];
}

static const ProtobufCMessageDescriptor *
shadow_of(const ProtobufCMessageDescriptor *real)
{
	struct shadow *s;
	unsigned n = real->n_fields, *from, *to;
	size_t n_map = 0, end = sizeof(ProtobufCMessage);

	for (s = shadows; s; s = s->next)
		if (s->real == real)
			return &s->desc;
	s = calloc(1, sizeof(*s));
	FUZZ_CHECK(s != NULL, "out of memory");
	s->fields = calloc(n ? n : 1, sizeof(*s->fields));
	from = calloc(2 * (size_t) n + 1, sizeof(unsigned));
	to = calloc(2 * (size_t) n + 1, sizeof(unsigned));
	FUZZ_CHECK(s->fields && from && to, "out of memory");
	/* Registered before recursing: a schema may refer to itself. */
	s->real = real;
	s->desc = *real;
	s->desc.fields = s->fields;
	s->desc.message_init = NULL;
	s->next = shadows;
	shadows = s;

	for (unsigned i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *f = &real->fields[i];
		size_t size = value_size(f);

		/* The largest member decides a shared slot's size. */
		for (unsigned k = 0; k < n; k++)
			if (real->fields[k].offset == f->offset && value_size(&real->fields[k]) > size)
				size = value_size(&real->fields[k]);
		s->fields[i] = *f;
		s->fields[i].offset = remap(from, to, &n_map, f->offset, size, &end);
		if (has_quantifier(f))
			s->fields[i].quantifier_offset =
				remap(from, to, &n_map, f->quantifier_offset | 0x80000000u, 8, &end);
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			s->fields[i].type = PROTOBUF_C_TYPE_BYTES;
			s->fields[i].default_value = NULL;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			s->fields[i].descriptor = shadow_of(f->descriptor);
			s->fields[i].default_value = NULL;
		}
	}
	s->desc.sizeof_message = end;
	free(from);
	free(to);
	return &s->desc;
}

#define AT(type, msg, off) ((type *) ((char *) (msg) + (off)))

static void
same_string(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f, const char *s,
	    const ProtobufCBinaryData *b)
{
	size_t n = s ? strlen(s) : 0;

	FUZZ_CHECK(n == b->len && (n == 0 || memcmp(s, b->data, n) == 0),
		   "%s.%s decoded as %zu bytes, %zu were sent: a NUL got through", d->name, f->name, n,
		   b->len);
}

static void compare(const ProtobufCMessage *m, const ProtobufCMessage *sm);

static void
compare_field(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
	      const ProtobufCFieldDescriptor *sf, const ProtobufCMessage *m, const ProtobufCMessage *sm)
{
	size_t count = 1;
	const void *v = AT(const char, m, f->offset);
	const void *sv = AT(const char, sm, sf->offset);

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		count = *AT(const size_t, m, f->quantifier_offset);
		FUZZ_CHECK(count == *AT(const size_t, sm, sf->quantifier_offset), "%s.%s: counts differ",
			   d->name, f->name);
		v = *(void *const *) v;
		sv = *(void *const *) sv;
	}
	for (size_t i = 0; i < count; i++) {
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			same_string(d, f, ((char *const *) v)[i], &((const ProtobufCBinaryData *) sv)[i]);
		} else {
			const ProtobufCMessage *a = ((ProtobufCMessage *const *) v)[i];
			const ProtobufCMessage *b = ((ProtobufCMessage *const *) sv)[i];
			FUZZ_CHECK((a == NULL) == (b == NULL), "%s.%s: presence differs", d->name, f->name);
			if (a != NULL)
				compare(a, b);
		}
	}
}

static void
compare(const ProtobufCMessage *m, const ProtobufCMessage *sm)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i], *sf = &sm->descriptor->fields[i];

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			uint32_t c = *AT(const uint32_t, m, f->quantifier_offset);
			FUZZ_CHECK(c == *AT(const uint32_t, sm, sf->quantifier_offset), "%s: oneof case differs",
				   d->name);
			if (c != f->id)
				continue;
		}
		compare_field(d, f, sf, m, sm);
	}
}

void
fuzz_check_strings_exact(const ProtobufCMessage *m, const uint8_t *wire, size_t len)
{
	const ProtobufCMessageDescriptor *sd = shadow_of(m->descriptor);
	ProtobufCMessage *sm = protobuf_c_message_unpack(sd, NULL, len, wire);

	FUZZ_CHECK(sm != NULL, "%s decodes, but not with its strings as bytes", m->descriptor->name);
	compare(m, sm);
	protobuf_c_message_free_unpacked(sm, NULL);
}
