/* wire_check.h — checks protobuf-c cannot make on its own, made on the
 * encoded bytes before protobuf_c_message_unpack allocates anything.
 *
 * protobuf-c hands string fields to C as NUL-terminated char*, so a string
 * carrying a NUL byte would be silently cut short (an argv element
 * "rm\0-rf /" would reach exec as "rm"): every string field, at any
 * nesting depth, that contains NUL is refused.
 *
 * protobuf-c also allocates per element of a repeated field (a pointer, a
 * string or a struct) and per unknown field: a 4 MiB request of 2 million
 * empty argv elements would cost it ~100 MB and most of a second. So the
 * walk also counts, with wire_limits:
 *   - the argv, shell and env of the command message (CommandSpec) as
 *     execve(2) counts them — each string with its NUL and its pointer,
 *     "NAME=VALUE" for an env entry — against the kernel's rules: one
 *     string at most MAX_ARG_STRLEN (128 KiB) with its NUL, all of them
 *     with their pointers at most ARG_MAX (sysconf(_SC_ARG_MAX), a quarter
 *     of the stack limit). Past them the command could never be executed:
 *     INVALID_ARGUMENT. Every occurrence counts toward one total (protobuf
 *     merges a message field that appears twice, repeated fields
 *     concatenated).
 *   - every other repeated element and every unknown field of the whole
 *     message against `max_elements`: RESOURCE_EXHAUSTED past it.
 * The walk stops at the first violation, so a hostile request costs a
 * fraction of its length in time and nothing in memory.
 */
#ifndef RUNNER_WIRE_CHECK_H
#define RUNNER_WIRE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "status.h"

/* The kernel's per-string limit (linux/binfmts.h): 32 pages, NUL included. */
#define WIRE_ARG_STRLEN_MAX (32u * 4096u)
/* Repeated elements and unknown fields a request may carry besides argv/env. */
#define WIRE_DEFAULT_MAX_ELEMENTS 4096u

struct wire_limits {
	/* The message whose `argv`, `shell` (strings) and `env` (messages of
	 * a name and a value) become a process's argv and environment; NULL:
	 * none is counted. */
	const ProtobufCMessageDescriptor *command;
	size_t arg_max;        /* argv + environment, pointers included */
	size_t arg_strlen_max; /* one string with its NUL */
	size_t max_elements;   /* other repeated elements and unknown fields */
};

/* Limits with the kernel's values for this process (sysconf(_SC_ARG_MAX))
 * and the default element budget, counting `command`'s fields. */
void wire_limits_init(struct wire_limits *lim, const ProtobufCMessageDescriptor *command);

/* 0, or the first violation: INVALID_ARGUMENT naming the field ("runner.v1.
 * CommandSpec.argv contains a NUL byte", "argv[3] is 200000 bytes...", "argv
 * and env need ... bytes") or saying the bytes are not a valid encoding;
 * RESOURCE_EXHAUSTED past max_elements. `lim` NULL: the NUL check only. */
int wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
	       const struct wire_limits *lim, rstatus *st);

/* wire_check without limits. */
int wire_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
		       rstatus *st);

#endif
