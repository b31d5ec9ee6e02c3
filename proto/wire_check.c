#include "wire_check.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* Our schema has no recursive messages; this only guards hostile input
 * against a schema that might grow one. */
#define MAX_DEPTH 32

/* What one walk has counted so far, over every nesting level. */
struct walk {
	const struct wire_limits *lim;
	const ProtobufCFieldDescriptor *argv, *shell, *env; /* of lim->command */
	size_t exec_bytes; /* argv + environment as execve counts them */
	size_t n_argv, n_env, elements;
	rstatus *st;
};

void
wire_limits_init(struct wire_limits *lim, const ProtobufCMessageDescriptor *command)
{
	long arg_max = sysconf(_SC_ARG_MAX);

	lim->command = command;
	/* The kernel never accepts less than 32 pages, whatever the stack limit. */
	lim->arg_max = arg_max > (long) WIRE_ARG_STRLEN_MAX ? (size_t) arg_max : WIRE_ARG_STRLEN_MAX;
	lim->arg_strlen_max = WIRE_ARG_STRLEN_MAX;
	lim->max_elements = WIRE_DEFAULT_MAX_ELEMENTS;
}

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

/* The string bytes of an env entry (its name and value fields): the
 * entry becomes "NAME=VALUE". Malformed bytes count as what was read; the
 * walk into the entry reports them. */
static size_t
entry_bytes(const uint8_t *p, const uint8_t *end)
{
	size_t n = 0;
	uint64_t key, len;

	while (p < end && read_varint(&p, end, &key) == 0) {
		if ((key & 7) == 0 && read_varint(&p, end, &len) == 0)
			continue;
		if ((key & 7) != 2 || read_varint(&p, end, &len) != 0 || len > (uint64_t) (end - p))
			break;
		n += (size_t) len;
		p += len;
	}
	return n;
}

/* One string of the command's argv or environment, `len` bytes without
 * its NUL: within the per-string limit, and the total within ARG_MAX. */
static int
count_exec_string(struct walk *w, const char *what, size_t index, uint64_t len)
{
	const struct wire_limits *lim = w->lim;

	if (len + 1 > lim->arg_strlen_max)
		return rstatus_fail(w->st, RS_INVALID_ARGUMENT,
				    "%s[%zu] is %llu bytes; the kernel takes at most %zu per string "
				    "(MAX_ARG_STRLEN, its NUL included)",
				    what, index, (unsigned long long) len, lim->arg_strlen_max - 1);
	w->exec_bytes += (size_t) len + 1 + sizeof(char *);
	if (w->exec_bytes > lim->arg_max)
		return rstatus_fail(w->st, RS_INVALID_ARGUMENT,
				    "argv and env exceed the kernel's limit of %zu bytes (ARG_MAX: every "
				    "string with its NUL and a pointer) at %zu arguments and %zu variables",
				    lim->arg_max, w->n_argv, w->n_env);
	return 0;
}

static int
count_element(struct walk *w, const ProtobufCMessageDescriptor *desc, uint64_t n)
{
	if (w->lim == NULL)
		return 0;
	w->elements += n;
	if (w->elements > w->lim->max_elements)
		return rstatus_fail(w->st, RS_RESOURCE_EXHAUSTED,
				    "%s: more than %zu repeated elements and unknown fields in one request",
				    desc->name, w->lim->max_elements);
	return 0;
}

static bool
is_scalar(const ProtobufCFieldDescriptor *f)
{
	return f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
	       f->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* A length-delimited field of the command message that becomes part of
 * the process's argv or environment; counted. Others: 0, not counted. */
static int
count_exec_field(struct walk *w, const ProtobufCFieldDescriptor *f, const uint8_t *p, uint64_t len)
{
	if (f == w->argv)
		return count_exec_string(w, "argv", w->n_argv++, len);
	if (f == w->shell)
		return count_exec_string(w, "shell", 0, len);
	if (f == w->env)
		return count_exec_string(w, "env", w->n_env++, entry_bytes(p, p + len) + 1);
	return 0;
}

static int
check(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end, int depth,
      struct walk *w)
{
	bool command = w->lim != NULL && desc == w->lim->command;
	rstatus *st = w->st;

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
		/* protobuf-c keeps every unknown field, and allocates per
		 * element; argv and env are counted as execve counts them. */
		if ((f == NULL || (f->label == PROTOBUF_C_LABEL_REPEATED &&
				   !(command && (f == w->argv || f == w->env)))) &&
		    (rv = count_element(w, desc, 1)) < 0)
			return rv;
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
			if (command && f != NULL && (rv = count_exec_field(w, f, p, len)) < 0)
				return rv;
			/* A packed repeated scalar: one element per byte at most. */
			if (f != NULL && f->label == PROTOBUF_C_LABEL_REPEATED && is_scalar(f) &&
			    len > 1 && (rv = count_element(w, desc, len - 1)) < 0)
				return rv;
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    (rv = check(f->descriptor, p, p + len, depth + 1, w)) < 0)
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
wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
	   const struct wire_limits *lim, rstatus *st)
{
	struct walk w = { .lim = lim, .st = st };

	/* An empty message has no fields; and buf may be NULL, where even
	 * buf + 0 is undefined (protobuf-c leaves an empty bytes field NULL). */
	if (len == 0)
		return 0;
	if (lim != NULL && lim->command != NULL) {
		w.argv = protobuf_c_message_descriptor_get_field_by_name(lim->command, "argv");
		w.shell = protobuf_c_message_descriptor_get_field_by_name(lim->command, "shell");
		w.env = protobuf_c_message_descriptor_get_field_by_name(lim->command, "env");
	}
	return check(desc, buf, buf + len, 0, &w);
}

int
wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		   rstatus *st)
{
	return wire_check(desc, buf, len, NULL, st);
}
