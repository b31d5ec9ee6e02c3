/* Well-formed UTF-8: see utf8.h. */
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* For each lead byte: the sequence length, and the range its second byte
 * must fall in (the ranges of table 3-7 that rule out overlong forms,
 * surrogates and code points past U+10FFFF); continuation bytes after the
 * second are always 80..BF. */
struct lead {
	uint8_t first, last; /* lead byte range */
	uint8_t len;
	uint8_t lo, hi;      /* second byte range */
};

static const struct lead leads[] = {
	{ 0xc2, 0xdf, 2, 0x80, 0xbf }, { 0xe0, 0xe0, 3, 0xa0, 0xbf }, { 0xe1, 0xec, 3, 0x80, 0xbf },
	{ 0xed, 0xed, 3, 0x80, 0x9f }, { 0xee, 0xef, 3, 0x80, 0xbf }, { 0xf0, 0xf0, 4, 0x90, 0xbf },
	{ 0xf1, 0xf3, 4, 0x80, 0xbf }, { 0xf4, 0xf4, 4, 0x80, 0x8f },
};

size_t
utf8_sequence(const char *s, size_t n)
{
	const uint8_t *b = (const uint8_t *) s;

	if (b[0] < 0x80)
		return 1;
	for (size_t k = 0; k < sizeof(leads) / sizeof(leads[0]); k++) {
		const struct lead *l = &leads[k];
		if (b[0] < l->first || b[0] > l->last)
			continue;
		if (n < l->len || b[1] < l->lo || b[1] > l->hi)
			return 0;
		for (size_t i = 2; i < l->len; i++)
			if (b[i] < 0x80 || b[i] > 0xbf)
				return 0;
		return l->len;
	}
	return 0;
}

char *
utf8_lossy(const char *s, size_t n, bool *exact)
{
	char *out = malloc(3 * n + 1);
	size_t o = 0;

	if (exact != NULL)
		*exact = true;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_sequence(s + i, n - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			if (exact != NULL)
				*exact = false;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}
