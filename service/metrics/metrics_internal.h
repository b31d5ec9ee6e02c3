/* metrics_internal.h — the registry behind metrics.h, shared by the
 * recording side (metrics.c) and the rendering side (exposition.c). Not
 * for other modules. */
#ifndef RUNNER_METRICS_INTERNAL_H
#define RUNNER_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics/metrics.h"

#define METRICS_MAX_METHODS 32  /* runner.v1.Runner's, and "unknown" */
#define METRICS_CODES 17        /* StatusCode OK .. UNAUTHENTICATED */
#define METRICS_MAX_BACKENDS 8
#define METRICS_REASONS 6       /* exited signaled timeout exec_failed killed oom */
#define METRICS_KEYED_MAX 64    /* profiles with a pool, listeners */
#define METRICS_KEY_LEN 256

/* Bucket upper bounds in microseconds, ascending; +Inf is implied. */
struct histogram_bounds {
	const uint64_t *le_us;
	size_t n;
};

struct histogram {
	_Atomic uint64_t counts[24]; /* per bucket (not cumulative), the last one +Inf */
	_Atomic uint64_t sum_us;
};

/* A row of a family keyed by a name: two counters and two gauges. */
struct keyed_row {
	char key[METRICS_KEY_LEN];
	bool used;          /* counters recorded, or a gauge published once */
	bool live, publishing; /* gauges published in the last, the current publication */
	_Atomic uint64_t c[2];
	_Atomic int64_t g[2];
};

struct keyed {
	pthread_mutex_t mu;
	struct keyed_row rows[METRICS_KEYED_MAX];
};

struct metrics_registry {
	bool ready;
	const char *version;
	uint64_t start_unix_ms;

	size_t n_methods;                      /* the last one is "unknown" */
	const char *methods[METRICS_MAX_METHODS];
	_Atomic uint64_t requests[METRICS_MAX_METHODS][METRICS_CODES];
	struct histogram latency[METRICS_MAX_METHODS];

	size_t n_backends;
	const char *backends[METRICS_MAX_BACKENDS];
	_Atomic uint64_t started[METRICS_MAX_BACKENDS];
	_Atomic uint64_t ended[METRICS_MAX_BACKENDS][METRICS_REASONS];
	struct histogram spawn[METRICS_MAX_BACKENDS];
	_Atomic int available[METRICS_MAX_BACKENDS]; /* -1: not published yet */

	_Atomic uint64_t counters[METRIC_COUNTER_COUNT];
	_Atomic int64_t gauges[METRIC_GAUGE_COUNT];

	struct keyed pools;     /* c: hits, misses; g: ready, size */
	struct keyed listeners; /* c: re-creations; g: connections */

	pthread_mutex_t config_mu;
	bool config_set;
	uint64_t config_version, config_loaded_unix_ms;
	bool config_last_reload_ok;
	char config_sha256[65];
};

extern struct metrics_registry metrics_reg;
extern const struct histogram_bounds metrics_latency_bounds, metrics_spawn_bounds;
extern const char *const metrics_reason_names[METRICS_REASONS];

#endif
