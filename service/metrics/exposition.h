/* exposition.h — the measurements of metrics.h in the Prometheus text
 * exposition format (version 0.0.4), plus the process's own (CPU, memory,
 * fds: the process_* names every Prometheus client exports).
 *
 * Any thread: it reads the registry's atomics, and takes the keyed
 * families' mutexes for the time it copies their rows.
 */
#ifndef RUNNER_EXPOSITION_H
#define RUNNER_EXPOSITION_H

#include <stddef.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The whole exposition, NUL-terminated, in a malloc'd buffer (*len bytes
 * without the NUL); NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
