/* runnerd.h — the daemon's shared state and configuration, as the RPC
 * handlers see it. */
#ifndef RUNNER_RUNNERD_H
#define RUNNER_RUNNERD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "core/loop.h"
#include "run/launch.h"
#include "rpc/rpc.h"
#include "rpc/transport.h"

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
	int probe_interval_ms;     /* listener guard; 0 disables */
	bool log_json;
	const char **stream_listen; /* stream socket URLs; derived from listen when none */
	size_t n_stream_listen;
	unsigned max_sessions;
	uint64_t session_buffer;   /* bytes per output stream */
	uint64_t idle_ttl_ms;
	uint64_t retention_ms;
	char *state_dir;           /* ledger of running process groups; NULL: none */
	char *config_path;         /* profiles (YAML); NULL: the built-in default */
	bool check_config;         /* load the config, report, exit */
};

struct run;
struct sessions;
struct streams;
struct profiles;
struct ledger;
struct docker_pools;

struct runnerd {
	struct runnerd_config cfg;
	struct command_limits limits;
	struct loop *loop;
	struct ledger *ledger;     /* NULL: no state directory */
	struct docker_pools *pools;
	struct rpc *rpc;
	struct transport *transport;
	struct run *runs;          /* Runs in flight */
	struct sessions *sessions;
	struct profiles *profiles;
	struct launcher launcher;
	struct streams *streams;
	uint64_t started_us;
	struct loop_timer drain_timer;
	uint64_t drain_deadline_us;
	bool draining;
	bool stopped_runs;
};

/* RPC handlers (one file each). */
void rpc_run(struct call *c);
void rpc_health(struct call *c);
void rpc_start_pipes(struct call *c);
void rpc_write_stdin(struct call *c);
void rpc_close_stdin(struct call *c);
void rpc_wait(struct call *c);
void rpc_signal(struct call *c);
void rpc_list(struct call *c);
void rpc_read_stream(struct call *c);

/* Shutdown: stop taking work, let Runs finish within the shutdown grace,
 * stop the rest, then end the loop once every reply is out. */
void runnerd_drain(struct runnerd *d);
/* Stop every Run in flight (reason KILLED). */
void runnerd_stop_runs(struct runnerd *d);

#endif
