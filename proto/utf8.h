/* utf8.h — well-formed UTF-8 (Unicode's table 3-7), for text that came
 * from the file system and must travel in protobuf strings or JSON. */
#ifndef RUNNER_UTF8_H
#define RUNNER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes in the well-formed sequence at s (1..4, at most n), or 0 when the
 * bytes there are not one. n > 0. */
size_t utf8_sequence(const char *s, size_t n);

/* A malloc'd, NUL-terminated copy of s[0..n) where every byte that does not
 * begin a well-formed sequence is U+FFFD; *exact (may be NULL) tells
 * whether nothing was replaced. NULL when out of memory. */
char *utf8_lossy(const char *s, size_t n, bool *exact);

#endif
