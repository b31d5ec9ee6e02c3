/* units.h — the notations shared by runnerd's and runnerctl's command
 * lines and files: durations "250ms", "10s", "2m", "1h" (a bare number is
 * seconds); sizes "512", "64K", "4M", "1G" (also KiB/MiB/GiB; powers of
 * 1024); bytes in hex (a session's secret, a token's SHA-256). */
#ifndef RUNNER_UNITS_H
#define RUNNER_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *ms set, or -1 when `s` is not a duration. */
int parse_duration_ms(const char *s, uint64_t *ms);

/* 0 and *bytes set, or -1 when `s` is not a size. */
int parse_size(const char *s, uint64_t *bytes);

/* The bytes the hex digits of `hex` (either case, the whole string) stand
 * for, into out[0..cap): how many, or -1 when `hex` is not an even number
 * of hex digits or needs more than `cap` bytes. */
int parse_hex(const char *hex, uint8_t *out, size_t cap);

#endif
