/* daemon.h — the daemon object: main's, and only main's.
 *
 * struct runnerd owns every subsystem for the life of the process. main
 * creates them in this order: options, the log, metrics, backends, the
 * config (profiles); the loop, the Runs, rpc, the ledger, the spawners,
 * the launcher, sessions, streams, the files module, the transport
 * (requests arrive from here on), the metrics server and its gauges, the
 * docker pools. No module sees the daemon: each gets the handles it needs
 * (a loop, the launcher, the sessions...) through its own config struct,
 * and the handlers get a
 * handler_env. Loop thread, but for main's start-up and exit.
 *
 * main's files: main.c (start-up, signals), daemon.c (shutdown), reload.c
 * (SIGHUP), gauges.c (what the loop publishes to metrics), log.c.
 */
#ifndef RUNNER_DAEMON_H
#define RUNNER_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "config/options.h"
#include "core/loop.h"
#include "handlers/handlers.h"
#include "run/launch.h"

struct conf;
struct metrics_http;

struct runnerd {
	struct runnerd_config cfg;
	struct command_limits limits; /* the server's, from cfg */
	struct conf *conf;            /* the config in force (conf.h); the launcher's too */
	struct loop *loop;
	struct ledger *ledger;        /* NULL: no state directory */
	struct spawners *spawners;
	struct launcher launcher;
	struct rpc *rpc;
	struct runs *runs;
	struct sessions *sessions;
	struct streams *streams;
	struct transport *transport;
	struct docker_pools *pools;
	struct files *files;
	struct handler_env env;       /* what the handlers see (call.app) */
	uint64_t started_us;
	struct metrics_http *metrics; /* NULL: no --metrics-listen */
	struct loop_timer gauge_timer;
	char reload_error[512];       /* the last reload's failure; "" when it worked */
	struct loop_timer housekeeping; /* memory back to the system, old ids forgotten */

	/* shutdown */
	struct loop_timer drain_timer;
	uint64_t drain_deadline_us;
	bool draining;
	bool stopped_work;            /* the grace is over, or a second signal came */
};

/* SIGHUP: load the config again and put it in force if it loads (requests
 * running keep the one they started with; a failure leaves the old one,
 * logged and counted); reopen the log file (reload.c). */
void runnerd_reload(struct runnerd *d);

/* What each profile of `c` needs the operator to know (a backend missing
 * here, root without limits), logged; at start-up and on reload. */
void runnerd_report_config(const struct runnerd *d, const struct conf *c);

/* Publish the loop's gauges to metrics now and every second from now on
 * (gauges.c). */
void runnerd_gauges_start(struct runnerd *d);

/* Shutdown (SIGTERM, SIGINT): stop taking work, stop every session, let
 * Runs finish within the shutdown grace, stop the rest, then end the loop
 * once every reply and final stream frame is out. A second call stops
 * every Run at once. */
void runnerd_drain(struct runnerd *d);

#endif
