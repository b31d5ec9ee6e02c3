/* options.h — runnerd's command line and environment ($RUNNERD_LISTEN),
 * and the configuration they make: what main builds the daemon from.
 *
 * Nothing but main reads a runnerd_config: each subsystem gets its own
 * config struct (transport_config, session_config, launcher, ...) filled
 * from it, so a new option is a field here, its parsing in options.c, and
 * the one config struct it feeds.
 */
#ifndef RUNNER_OPTIONS_H
#define RUNNER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct runnerd_config {
	const char **listen;       /* URLs */
	size_t n_listen;
	bool insecure_tcp;
	uint64_t max_request;      /* bytes, NNG_OPT_RECVMAXSZ */
	uint64_t output_limit;     /* per-stream cap, bytes */
	uint64_t default_timeout_ms;
	uint64_t max_timeout_ms;
	uint64_t grace_ms;         /* SIGTERM → SIGKILL for timeouts and stops */
	uint64_t linger_ms;        /* after exit, wait for stray pipe holders */
	uint64_t shutdown_grace_ms;
	uint64_t dedup_ttl_ms;
	uint64_t dedup_max_bytes;
	unsigned max_inflight;
	unsigned spawners;         /* spawner processes; 0: one per CPU */
	uint64_t max_inflight_bytes; /* decoded requests of calls in progress */
	unsigned max_connections;  /* per request listener */
	unsigned max_stream_connections; /* per stream listener */
	int probe_interval_ms;     /* listener guard; 0 disables */
	bool log_json;
	const char **stream_listen; /* stream socket URLs; derived from listen when none */
	size_t n_stream_listen;
	const char **advertise_stream; /* stream addresses to tell clients, by transport */
	char *advertise;           /* this runnerd's own address in a fleet; NULL: alone */
	size_t n_advertise_stream;
	unsigned max_sessions;     /* running ones */
	unsigned max_retained;     /* finished ones */
	uint64_t retained_output;  /* bytes of finished sessions' output, all together */
	uint64_t session_buffer;   /* bytes per output stream */
	uint64_t idle_ttl_ms;
	uint64_t retention_ms;
	char *state_dir;           /* ledger of running process groups; NULL: none */
	char *config_path;         /* profiles (YAML); NULL: the built-in default */
	bool check_config;         /* load the config, report, exit */
	char *metrics_listen;      /* http://HOST:PORT for /metrics; NULL: none */
	bool insecure_metrics;     /* a metrics address off loopback allowed */
	char *log_file;            /* append the log here, reopened on SIGHUP; NULL: stderr */
};

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_EXIT_USAGE };

/* Fill `cfg` from defaults, $RUNNERD_LISTEN and argv. Prints --help or a
 * usage error itself (this is main's helper, not a library). */
enum options_result options_parse(int argc, char **argv, struct runnerd_config *cfg);

void options_free(struct runnerd_config *cfg);

#endif
