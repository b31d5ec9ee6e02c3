/* metrics.c — recording (metrics.h): relaxed atomics in one static
 * registry, rows of the keyed families found under their mutex. */
#include "metrics/metrics_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "runner/v1/runner.pb-c.h"

struct metrics_registry metrics_reg = {
	.pools = { .mu = PTHREAD_MUTEX_INITIALIZER },
	.listeners = { .mu = PTHREAD_MUTEX_INITIALIZER },
	.config_mu = PTHREAD_MUTEX_INITIALIZER,
};

/* Requests range from a Health (tens of µs) to a Run of half an hour. */
static const uint64_t latency_le[] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 300000000, 1800000000,
};
/* A spawn is hundreds of µs on exec, tens of ms in a sandbox, more for a
 * cold container. */
static const uint64_t spawn_le[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
const struct histogram_bounds metrics_latency_bounds = { latency_le, sizeof(latency_le) / sizeof(latency_le[0]) };
const struct histogram_bounds metrics_spawn_bounds = { spawn_le, sizeof(spawn_le) / sizeof(spawn_le[0]) };

/* Indexed by runner.v1.Termination less one; the last is the OOM kill,
 * which wins over the reason it shows as. */
const char *const metrics_reason_names[METRICS_REASONS] = {
	"exited", "signaled", "timeout", "exec_failed", "killed", "oom",
};

#define RELAXED memory_order_relaxed

void
metrics_init(const char *version)
{
	const ProtobufCServiceDescriptor *sd = &runner__v1__runner__descriptor;
	const struct backend_ops *const *all;
	struct timespec ts;
	size_t n;

	if (metrics_reg.ready)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	metrics_reg.start_unix_ms = (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
	metrics_reg.version = version;
	for (size_t i = 0; i < sd->n_methods && i + 1 < METRICS_MAX_METHODS; i++)
		metrics_reg.methods[metrics_reg.n_methods++] = sd->methods[i].name;
	metrics_reg.methods[metrics_reg.n_methods++] = "unknown";
	all = backend_all(&n);
	for (size_t i = 0; i < n && i < METRICS_MAX_BACKENDS; i++) {
		metrics_reg.backends[metrics_reg.n_backends++] = all[i]->name;
		atomic_store(&metrics_reg.available[i], -1);
	}
	metrics_reg.ready = true;
}

void
metrics_add(enum metrics_counter m, uint64_t n)
{
	atomic_fetch_add_explicit(&metrics_reg.counters[m], n, RELAXED);
}

void
metrics_set(enum metrics_gauge g, int64_t value)
{
	atomic_store_explicit(&metrics_reg.gauges[g], value, RELAXED);
}

static void
observe(struct histogram *h, const struct histogram_bounds *b, uint64_t us)
{
	size_t i = 0;

	while (i < b->n && us > b->le_us[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, RELAXED);
	atomic_fetch_add_explicit(&h->sum_us, us, RELAXED);
}

static int
method_index(const char *name)
{
	const ProtobufCMethodDescriptor *md;

	if (!metrics_reg.ready)
		return -1;
	md = name ? protobuf_c_service_descriptor_get_method_by_name(&runner__v1__runner__descriptor, name) : NULL;
	if (md == NULL || (size_t) (md - runner__v1__runner__descriptor.methods) + 1 >= metrics_reg.n_methods)
		return (int) metrics_reg.n_methods - 1;
	return (int) (md - runner__v1__runner__descriptor.methods);
}

void
metrics_request(const char *method, int code, uint64_t duration_us)
{
	int m = method_index(method);

	if (m < 0)
		return;
	if (code < 0 || code >= METRICS_CODES)
		code = RUNNER__V1__STATUS_CODE__UNKNOWN;
	atomic_fetch_add_explicit(&metrics_reg.requests[m][code], 1, RELAXED);
	observe(&metrics_reg.latency[m], &metrics_latency_bounds, duration_us);
}

static int
backend_index(const char *name)
{
	for (size_t i = 0; name != NULL && i < metrics_reg.n_backends; i++)
		if (strcmp(metrics_reg.backends[i], name) == 0)
			return (int) i;
	return -1;
}

void
metrics_process_started(const char *backend)
{
	int b = backend_index(backend);

	if (b >= 0)
		atomic_fetch_add_explicit(&metrics_reg.started[b], 1, RELAXED);
}

void
metrics_spawned(const char *backend, uint64_t spawn_us)
{
	int b = backend_index(backend);

	if (b >= 0)
		observe(&metrics_reg.spawn[b], &metrics_spawn_bounds, spawn_us);
}

void
metrics_process_ended(const char *backend, int reason, bool oom_killed)
{
	int b = backend_index(backend);
	int r = oom_killed ? METRICS_REASONS - 1 : reason - 1;

	if (b < 0 || r < 0 || r >= METRICS_REASONS)
		return;
	atomic_fetch_add_explicit(&metrics_reg.ended[b][r], 1, RELAXED);
}

void
metrics_set_backend(const char *backend, bool available)
{
	int b = backend_index(backend);

	if (b >= 0)
		atomic_store_explicit(&metrics_reg.available[b], available ? 1 : 0, RELAXED);
}

/* The row of `key`, made when missing; NULL when the family is full. With
 * the family's mutex held. */
static struct keyed_row *
row_of(struct keyed *k, const char *key)
{
	struct keyed_row *free_row = NULL;

	for (size_t i = 0; i < METRICS_KEYED_MAX; i++) {
		struct keyed_row *r = &k->rows[i];
		if (r->used && strcmp(r->key, key) == 0)
			return r;
		if (!r->used && free_row == NULL)
			free_row = r;
	}
	if (free_row != NULL) {
		snprintf(free_row->key, sizeof(free_row->key), "%s", key);
		free_row->used = true;
	}
	return free_row;
}

static void
keyed_count(struct keyed *k, const char *key, int which)
{
	struct keyed_row *r;

	pthread_mutex_lock(&k->mu);
	if ((r = row_of(k, key)) != NULL)
		atomic_fetch_add_explicit(&r->c[which], 1, RELAXED);
	pthread_mutex_unlock(&k->mu);
}

static void
keyed_gauges(struct keyed *k, const char *key, int64_t g0, int64_t g1)
{
	struct keyed_row *r;

	pthread_mutex_lock(&k->mu);
	if ((r = row_of(k, key)) != NULL) {
		atomic_store_explicit(&r->g[0], g0, RELAXED);
		atomic_store_explicit(&r->g[1], g1, RELAXED);
		r->publishing = true;
	}
	pthread_mutex_unlock(&k->mu);
}

void
metrics_listener_recreated(const char *url)
{
	keyed_count(&metrics_reg.listeners, url, 0);
}

void
metrics_pool_take(const char *profile, bool hit)
{
	keyed_count(&metrics_reg.pools, profile, hit ? 0 : 1);
}

void
metrics_set_pool(const char *profile, unsigned ready, unsigned size)
{
	keyed_gauges(&metrics_reg.pools, profile, ready, size);
}

void
metrics_set_listener_connections(const char *url, unsigned connections)
{
	keyed_gauges(&metrics_reg.listeners, url, connections, 0);
}

static void
publication(struct keyed *k, bool end)
{
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < METRICS_KEYED_MAX; i++) {
		struct keyed_row *r = &k->rows[i];
		if (end)
			r->live = r->publishing;
		r->publishing = false;
	}
	pthread_mutex_unlock(&k->mu);
}

void
metrics_publish_begin(void)
{
	publication(&metrics_reg.pools, false);
	publication(&metrics_reg.listeners, false);
}

void
metrics_publish_end(void)
{
	publication(&metrics_reg.pools, true);
	publication(&metrics_reg.listeners, true);
}

void
metrics_set_config(uint64_t version, const char *sha256, uint64_t loaded_unix_ms, bool last_reload_ok)
{
	pthread_mutex_lock(&metrics_reg.config_mu);
	metrics_reg.config_set = true;
	metrics_reg.config_version = version;
	metrics_reg.config_loaded_unix_ms = loaded_unix_ms;
	metrics_reg.config_last_reload_ok = last_reload_ok;
	snprintf(metrics_reg.config_sha256, sizeof(metrics_reg.config_sha256), "%s", sha256 ? sha256 : "");
	pthread_mutex_unlock(&metrics_reg.config_mu);
}
