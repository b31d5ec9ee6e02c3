#include "units.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct unit {
	const char *suffix;
	uint64_t factor;
};

static int
parse_with(const char *s, const struct unit *units, size_t n, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			if (units[i].factor && v > UINT64_MAX / units[i].factor)
				return -1;
			*out = (uint64_t) v * units[i].factor;
			return 0;
		}
	}
	return -1;
}

int
parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct unit units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	return parse_with(s, units, sizeof(units) / sizeof(units[0]), ms);
}

int
parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1 },	      { "b", 1 },	  { "k", 1ull << 10 },   { "kib", 1ull << 10 },
		{ "m", 1ull << 20 },  { "mib", 1ull << 20 }, { "g", 1ull << 30 }, { "gib", 1ull << 30 },
	};
	return parse_with(s, units, sizeof(units) / sizeof(units[0]), bytes);
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
parse_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t len = strlen(hex);

	if (len % 2 != 0 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_digit(hex[i]), lo = hi < 0 ? -1 : hex_digit(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t) (hi << 4 | lo);
	}
	return (int) (len / 2);
}
