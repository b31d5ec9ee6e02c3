/* exposition.c — the registry as Prometheus text (exposition.h). */
#include "metrics/exposition.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include "metrics/metrics_internal.h"
#include "status.h"

struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void __attribute__((format(printf, 2, 3)))
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t) n < t->cap - t->len) {
			t->len += (size_t) n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t) n;
		char *p = realloc(t->p, cap);
		if (p == NULL) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

static void
head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. Into `buf`. */
static const char *
esc(const char *v, char *buf, size_t size)
{
	size_t k = 0;

	for (; *v != '\0' && k + 3 < size; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			buf[k++] = '\\';
			buf[k++] = *v == '\n' ? 'n' : *v;
		} else {
			buf[k++] = *v;
		}
	}
	buf[k] = '\0';
	return buf;
}

static uint64_t
load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* One histogram series; `labels` is "" or `name="value",` ready to prefix. */
static void
histogram(struct text *t, const char *name, const char *labels, struct histogram *h,
	  const struct histogram_bounds *b)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= b->n; i++) {
		cum += load(&h->counts[i]);
		if (i < b->n)
			put(t, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, (double) b->le_us[i] / 1e6,
			    (unsigned long long) cum);
		else
			put(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long) cum);
	}
	/* The count is the +Inf bucket, so the two always agree. */
	size_t n = strlen(labels);
	put(t, "%s_sum{%.*s} %.6f\n", name, (int) (n ? n - 1 : 0), labels, (double) load(&h->sum_us) / 1e6);
	put(t, "%s_count{%.*s} %llu\n", name, (int) (n ? n - 1 : 0), labels, (unsigned long long) cum);
}

static void
requests(struct text *t, struct metrics_registry *r)
{
	char labels[128];

	head(t, "runnerd_requests_total", "counter", "Requests answered, by method and status code.");
	for (size_t m = 0; m < r->n_methods; m++)
		for (int c = 0; c < METRICS_CODES; c++) {
			uint64_t v = load(&r->requests[m][c]);
			if (v > 0 || c == 0)
				put(t, "runnerd_requests_total{method=\"%s\",code=\"%s\"} %llu\n", r->methods[m],
				    rstatus_code_name(c), (unsigned long long) v);
		}
	head(t, "runnerd_request_duration_seconds", "histogram",
	     "Time from a request's arrival to its answer, by method (a Run lasts as long as its command).");
	for (size_t m = 0; m < r->n_methods; m++) {
		snprintf(labels, sizeof(labels), "method=\"%s\",", r->methods[m]);
		histogram(t, "runnerd_request_duration_seconds", labels, &r->latency[m], &metrics_latency_bounds);
	}
}

static void
processes(struct text *t, struct metrics_registry *r)
{
	char labels[128];

	head(t, "runnerd_processes_started_total", "counter", "Processes asked of each backend.");
	for (size_t b = 0; b < r->n_backends; b++)
		put(t, "runnerd_processes_started_total{backend=\"%s\"} %llu\n", r->backends[b],
		    (unsigned long long) load(&r->started[b]));
	head(t, "runnerd_processes_ended_total", "counter",
	     "Processes that ended, by backend and how: exited, signaled, timeout, exec_failed, killed, oom "
	     "(killed by the kernel's OOM killer at the profile's memory limit).");
	for (size_t b = 0; b < r->n_backends; b++)
		for (int k = 0; k < METRICS_REASONS; k++)
			put(t, "runnerd_processes_ended_total{backend=\"%s\",reason=\"%s\"} %llu\n", r->backends[b],
			    metrics_reason_names[k], (unsigned long long) load(&r->ended[b][k]));
	head(t, "runnerd_spawn_duration_seconds", "histogram",
	     "Time from asking a spawner for a process to the process running, by backend.");
	for (size_t b = 0; b < r->n_backends; b++) {
		snprintf(labels, sizeof(labels), "backend=\"%s\",", r->backends[b]);
		histogram(t, "runnerd_spawn_duration_seconds", labels, &r->spawn[b], &metrics_spawn_bounds);
	}
	head(t, "runnerd_backend_available", "gauge", "1 when the backend's last probe succeeded, else 0.");
	for (size_t b = 0; b < r->n_backends; b++) {
		int v = atomic_load_explicit(&r->available[b], memory_order_relaxed);
		if (v >= 0)
			put(t, "runnerd_backend_available{backend=\"%s\"} %d\n", r->backends[b], v);
	}
}

static void
counter(struct text *t, const char *name, const char *help, enum metrics_counter m)
{
	head(t, name, "counter", help);
	put(t, "%s %llu\n", name, (unsigned long long) load(&metrics_reg.counters[m]));
}

static void
gauge(struct text *t, const char *name, const char *help, enum metrics_gauge g)
{
	head(t, name, "gauge", help);
	put(t, "%s %lld\n", name, (long long) atomic_load_explicit(&metrics_reg.gauges[g], memory_order_relaxed));
}

static void
sessions_and_streams(struct text *t)
{
	static const struct {
		const char *name;
		enum metrics_counter m;
	} out[] = {
		{ "stdout", METRIC_SESSION_STDOUT_BYTES },
		{ "stderr", METRIC_SESSION_STDERR_BYTES },
		{ "pty", METRIC_SESSION_PTY_BYTES },
	};

	gauge(t, "runnerd_runs_running", "Runs whose command is running.", METRIC_RUNS_RUNNING);
	gauge(t, "runnerd_sessions_running", "Sessions whose process is running.", METRIC_SESSIONS_RUNNING);
	gauge(t, "runnerd_sessions_retained", "Sessions kept, running or finished and not yet collected.",
	      METRIC_SESSIONS_RETAINED);
	gauge(t, "runnerd_stream_readers", "ReadStream readers attached.", METRIC_STREAM_READERS);
	gauge(t, "runnerd_draining", "1 while runnerd shuts down (no new work), else 0.", METRIC_DRAINING);
	counter(t, "runnerd_session_stdin_bytes_total", "Bytes written into sessions' stdin.",
		METRIC_SESSION_STDIN_BYTES);
	head(t, "runnerd_session_output_bytes_total", "counter",
	     "Bytes sessions' processes wrote, by stream (pty: a terminal session's output).");
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		put(t, "runnerd_session_output_bytes_total{stream=\"%s\"} %llu\n", out[i].name,
		    (unsigned long long) load(&metrics_reg.counters[out[i].m]));
	counter(t, "runnerd_stream_frames_sent_total", "ReadStream frames sent (data and last frames).",
		METRIC_STREAM_FRAMES);
	counter(t, "runnerd_stream_sent_bytes_total", "Output bytes sent in ReadStream frames.", METRIC_STREAM_BYTES);
	counter(t, "runnerd_stream_acks_received_total", "ReadStream acknowledgements received.", METRIC_STREAM_ACKS);
	counter(t, "runnerd_dedup_hits_total",
		"Requests answered from the de-duplication table or joined to the original (retries, repeats).",
		METRIC_DEDUP_HITS);
	counter(t, "runnerd_misrouted_calls_total",
		"Calls that reached this runnerd instead of the fleet instance they belong to (answered with its address).",
		METRIC_MISROUTED);
}

/* The rows of a keyed family, copied under its mutex. */
static size_t
rows(struct keyed *k, struct keyed_row *copy)
{
	size_t n = 0;

	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < METRICS_KEYED_MAX; i++)
		if (k->rows[i].used) {
			struct keyed_row *r = &copy[n++];
			memcpy(r->key, k->rows[i].key, sizeof(r->key));
			r->live = k->rows[i].live;
			for (int j = 0; j < 2; j++) {
				atomic_init(&r->c[j], load(&k->rows[i].c[j]));
				atomic_init(&r->g[j], atomic_load_explicit(&k->rows[i].g[j], memory_order_relaxed));
			}
		}
	pthread_mutex_unlock(&k->mu);
	return n;
}

/* One series per row: a counter (which = 0, 1) or a live gauge (2, 3). */
static void
keyed_series(struct text *t, struct keyed_row *v, size_t n, const char *name, const char *label, int which)
{
	char buf[2 * METRICS_KEY_LEN];

	for (size_t i = 0; i < n; i++) {
		if (which < 2)
			put(t, "%s{%s=\"%s\"} %llu\n", name, label, esc(v[i].key, buf, sizeof(buf)),
			    (unsigned long long) load(&v[i].c[which]));
		else if (v[i].live)
			put(t, "%s{%s=\"%s\"} %lld\n", name, label, esc(v[i].key, buf, sizeof(buf)),
			    (long long) atomic_load_explicit(&v[i].g[which - 2], memory_order_relaxed));
	}
}

static void
keyed_families(struct text *t)
{
	static struct keyed_row v[METRICS_KEYED_MAX];
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	size_t n;

	/* One copy buffer (16 KiB of rows) for all scrapes, one at a time. */
	pthread_mutex_lock(&mu);
	n = rows(&metrics_reg.listeners, v);
	head(t, "runnerd_listener_connections", "gauge", "Connections open, by listener (requests and streams).");
	keyed_series(t, v, n, "runnerd_listener_connections", "listener", 2);
	head(t, "runnerd_listener_recreations_total", "counter",
	     "Listeners re-created by the guard against nng bug #1518, by listener.");
	keyed_series(t, v, n, "runnerd_listener_recreations_total", "listener", 0);
	n = rows(&metrics_reg.pools, v);
	head(t, "runnerd_docker_pool_hits_total", "counter", "Requests served by a warm container, by profile.");
	keyed_series(t, v, n, "runnerd_docker_pool_hits_total", "profile", 0);
	head(t, "runnerd_docker_pool_misses_total", "counter",
	     "Requests of a pooled profile that started a container cold, by profile.");
	keyed_series(t, v, n, "runnerd_docker_pool_misses_total", "profile", 1);
	head(t, "runnerd_docker_pool_ready", "gauge", "Warm containers ready, by profile.");
	keyed_series(t, v, n, "runnerd_docker_pool_ready", "profile", 2);
	head(t, "runnerd_docker_pool_size", "gauge", "Warm containers a profile keeps (its docker.pool).");
	keyed_series(t, v, n, "runnerd_docker_pool_size", "profile", 3);
	pthread_mutex_unlock(&mu);
}

static void
config(struct text *t, struct metrics_registry *r)
{
	bool set, ok;
	uint64_t version, loaded;
	char sha[65];

	pthread_mutex_lock(&r->config_mu);
	set = r->config_set;
	ok = r->config_last_reload_ok;
	version = r->config_version;
	loaded = r->config_loaded_unix_ms;
	memcpy(sha, r->config_sha256, sizeof(sha));
	pthread_mutex_unlock(&r->config_mu);
	counter(t, "runnerd_config_reloads_total", "Reloads (SIGHUP) that put a new config in force.",
		METRIC_CONFIG_RELOADS);
	counter(t, "runnerd_config_reload_errors_total", "Reloads that failed and left the config in force as it was.",
		METRIC_CONFIG_RELOAD_ERRORS);
	counter(t, "runnerd_log_reopen_errors_total", "Failures to reopen --log-file (on SIGHUP).",
		METRIC_LOG_REOPEN_ERRORS);
	counter(t, "runnerd_audit_log_errors_total", "Failures to write or reopen the audit log.",
		METRIC_AUDIT_LOG_ERRORS);
	if (!set)
		return;
	head(t, "runnerd_config_info", "gauge", "The config in force: the SHA-256 of its file (empty: built in).");
	put(t, "runnerd_config_info{sha256=\"%s\"} 1\n", sha);
	head(t, "runnerd_config_version", "gauge", "The config's version: 1 at start-up, one more per reload that took.");
	put(t, "runnerd_config_version %llu\n", (unsigned long long) version);
	head(t, "runnerd_config_loaded_timestamp_seconds", "gauge", "When the config in force was loaded.");
	put(t, "runnerd_config_loaded_timestamp_seconds %.3f\n", (double) loaded / 1e3);
	head(t, "runnerd_config_last_reload_successful", "gauge", "0 when the last reload failed, else 1.");
	put(t, "runnerd_config_last_reload_successful %d\n", ok ? 1 : 0);
}

static unsigned
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* less the directory's own */
}

/* The process_* series of the Prometheus client libraries. */
static void
process(struct text *t, struct metrics_registry *r)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long vsize = 0, rss = 0;
	FILE *f;

	getrusage(RUSAGE_SELF, &ru);
	head(t, "process_cpu_seconds_total", "counter", "User and system CPU time of runnerd itself.");
	put(t, "process_cpu_seconds_total %.6f\n",
	    (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if ((f = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(f, "%llu %llu", &vsize, &rss) != 2)
			vsize = rss = 0;
		fclose(f);
	}
	head(t, "process_resident_memory_bytes", "gauge", "Resident memory of runnerd.");
	put(t, "process_resident_memory_bytes %llu\n", rss * (unsigned long long) sysconf(_SC_PAGESIZE));
	head(t, "process_virtual_memory_bytes", "gauge", "Virtual memory of runnerd.");
	put(t, "process_virtual_memory_bytes %llu\n", vsize * (unsigned long long) sysconf(_SC_PAGESIZE));
	head(t, "process_open_fds", "gauge", "File descriptors runnerd holds open.");
	put(t, "process_open_fds %u\n", open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		head(t, "process_max_fds", "gauge", "runnerd's limit on open file descriptors.");
		put(t, "process_max_fds %llu\n", (unsigned long long) rl.rlim_cur);
	}
	head(t, "process_start_time_seconds", "gauge", "When runnerd started, seconds since the epoch.");
	put(t, "process_start_time_seconds %.3f\n", (double) r->start_unix_ms / 1e3);
}

char *
metrics_render(size_t *len)
{
	struct metrics_registry *r = &metrics_reg;
	struct text t = { .cap = 64 << 10 };

	if ((t.p = malloc(t.cap)) == NULL)
		return NULL;
	t.p[0] = '\0';
	head(&t, "runnerd_build_info", "gauge", "runnerd's version and the libraries it runs on; always 1.");
	put(&t, "runnerd_build_info{version=\"%s\",nng=\"%s\",protobuf_c=\"%s\"} 1\n",
	    r->version ? r->version : "", nng_version(), protobuf_c_version());
	requests(&t, r);
	processes(&t, r);
	sessions_and_streams(&t);
	keyed_families(&t);
	config(&t, r);
	process(&t, r);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}
