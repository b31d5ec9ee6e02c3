#include "argv_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int
argv_vadd(struct argv_build *b, const char *fmt, va_list ap)
{
	char *s;

	if (b->argc + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		char **v = realloc(b->argv, cap * sizeof(char *));
		if (v == NULL)
			return -ENOMEM;
		b->argv = v;
		b->cap = cap;
	}
	if (vasprintf(&s, fmt, ap) < 0)
		return -ENOMEM;
	b->argv[b->argc++] = s;
	b->argv[b->argc] = NULL;
	return 0;
}

int
argv_add(struct argv_build *b, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = argv_vadd(b, fmt, ap);
	va_end(ap);
	return rv;
}

void
argv_build_free(struct argv_build *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->argc; i++)
		free(b->argv[i]);
	free(b->argv);
	b->argv = NULL;
	b->argc = b->cap = 0;
}
