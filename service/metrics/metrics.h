/* metrics.h — what runnerd counts about itself, for the Prometheus
 * exposition (exposition.h renders it, metrics_http.h serves it).
 *
 * Process-wide, as the log is: one set of measurements per process. Any
 * thread may record (relaxed atomics: a hook is one call per event, with
 * no allocation and no lock, but for the families keyed by a name — a
 * listener's URL, a profile — which take a mutex only to find their row).
 * What the loop owns (Runs and sessions running, pools, backends,
 * connections) is not counted live: main's gauge timer publishes it with
 * metrics_set_* and the HTTP thread renders what was published last, so
 * a scrape never waits for the loop nor touches its state.
 *
 * metrics_init runs once, before any thread exists; recording before it
 * (or without it: --check-config, tests of single modules) is harmless and
 * counts nothing.
 */
#ifndef RUNNER_METRICS_H
#define RUNNER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Counters without labels. */
enum metrics_counter {
	METRIC_DEDUP_HITS,          /* requests answered from the de-duplication table, or joined to the original */
	METRIC_SESSION_STDIN_BYTES, /* bytes written into sessions' stdin */
	METRIC_SESSION_STDOUT_BYTES,/* bytes sessions' processes wrote, per stream */
	METRIC_SESSION_STDERR_BYTES,
	METRIC_SESSION_PTY_BYTES,
	METRIC_STREAM_FRAMES,       /* ReadStream frames sent (data and last) */
	METRIC_STREAM_BYTES,        /* output bytes carried by those frames */
	METRIC_STREAM_ACKS,         /* StreamAcks received */
	METRIC_CONFIG_RELOADS,      /* SIGHUP reloads that put a new config in force */
	METRIC_CONFIG_RELOAD_ERRORS,/* ... that failed, leaving the old one */
	METRIC_LOG_REOPEN_ERRORS,   /* --log-file could not be reopened */
	METRIC_AUDIT_LOG_ERRORS,    /* the audit log could not be written or reopened */
	METRIC_MISROUTED,           /* calls answered with the owning instance's address (a fleet) */
	METRIC_COUNTER_COUNT
};

/* Gauges without labels, as the loop publishes them. */
enum metrics_gauge {
	METRIC_RUNS_RUNNING,
	METRIC_SESSIONS_RUNNING,
	METRIC_SESSIONS_RETAINED,
	METRIC_STREAM_READERS,
	METRIC_DRAINING,
	METRIC_GAUGE_COUNT
};

/* The method names of runner.v1.Runner and the backends built in are
 * learnt here: call once, before any thread exists. */
void metrics_init(const char *version);

void metrics_add(enum metrics_counter m, uint64_t n);
static inline void
metrics_inc(enum metrics_counter m)
{
	metrics_add(m, 1);
}

void metrics_set(enum metrics_gauge g, int64_t value);

/* A request answered: its method's short name ("Run"; anything else counts
 * as "unknown"), the StatusCode it got, how long it took. */
void metrics_request(const char *method, int code, uint64_t duration_us);

/* A process asked of `backend` (a backend's name); it runs `spawn_us`
 * after it was asked for (metrics_spawned), and ends with a
 * runner.v1.Termination reason, or was killed by the OOM killer. */
void metrics_process_started(const char *backend);
void metrics_spawned(const char *backend, uint64_t spawn_us);
void metrics_process_ended(const char *backend, int reason, bool oom_killed);

/* The listener guard re-created the listener at `url` (nng bug #1518). */
void metrics_listener_recreated(const char *url);

/* A docker profile's request found a warm container, or started cold. */
void metrics_pool_take(const char *profile, bool hit);

/* Published by the loop. A publication is bracketed by metrics_publish_begin
 * and _end: rows of the keyed gauges not set in between (a pool whose
 * profile a reload removed) disappear from the exposition. */
void metrics_publish_begin(void);
void metrics_publish_end(void);
void metrics_set_backend(const char *backend, bool available);
void metrics_set_pool(const char *profile, unsigned ready, unsigned size);
void metrics_set_listener_connections(const char *url, unsigned connections);
/* The config in force: its version (1 for the one loaded at start-up, +1
 * per reload that took), SHA-256 of the file (hex; "" for the built-in
 * default), when it was loaded (ms since the epoch), and whether the last
 * reload worked. */
void metrics_set_config(uint64_t version, const char *sha256, uint64_t loaded_unix_ms, bool last_reload_ok);

#endif
