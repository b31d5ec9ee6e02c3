/* units.h — the duration and size notation shared by runnerd's and
 * runnerctl's command lines: "250ms", "10s", "2m", "1h" (a bare number is
 * seconds); "512", "64K", "4M", "1G" (also KiB/MiB/GiB; powers of 1024). */
#ifndef RUNNER_UNITS_H
#define RUNNER_UNITS_H

#include <stdint.h>

/* 0 and *ms set, or -1 when `s` is not a duration. */
int parse_duration_ms(const char *s, uint64_t *ms);

/* 0 and *bytes set, or -1 when `s` is not a size. */
int parse_size(const char *s, uint64_t *bytes);

#endif
