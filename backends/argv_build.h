/* argv_build.h — a NULL-terminated argv that grows one formatted element at
 * a time, as the sandbox backends assemble their wrappers' command lines
 * (firejail's flags, `docker run`'s). Each element is its own allocation;
 * the array is always NULL-terminated, so it can be handed to spawn_child
 * as it stands. */
#ifndef RUNNER_ARGV_BUILD_H
#define RUNNER_ARGV_BUILD_H

#include <stdarg.h>
#include <stddef.h>

struct argv_build {
	char **argv; /* NULL until the first element */
	size_t argc, cap;
};

/* Append one element, formatted like printf. 0, or -ENOMEM (nothing
 * appended). */
int argv_add(struct argv_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int argv_vadd(struct argv_build *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Free every element and the array; `b` is empty again. NULL-safe. */
void argv_build_free(struct argv_build *b);

#endif
