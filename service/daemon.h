/* daemon.h — the daemon object: main's, and only main's.
 *
 * struct runnerd owns every subsystem for the life of the process. main
 * creates them in this order: options, backends, profiles; the loop, the
 * Runs, rpc, the ledger, the spawners, the launcher, sessions, streams, the
 * files module, the transport (requests arrive from here on), the docker
 * pools. No module sees the
 * daemon: each gets the handles it needs (a loop, the launcher, the
 * sessions...) through its own config struct, and the handlers get a
 * handler_env. Loop thread, but for main's start-up and exit.
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

struct runnerd {
	struct runnerd_config cfg;
	struct command_limits limits; /* the server's, from cfg */
	struct profiles *profiles;
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
	struct loop_timer housekeeping; /* memory back to the system, old ids forgotten */

	/* shutdown */
	struct loop_timer drain_timer;
	uint64_t drain_deadline_us;
	bool draining;
	bool stopped_work;            /* the grace is over, or a second signal came */
};

/* Shutdown (SIGTERM, SIGINT): stop taking work, stop every session, let
 * Runs finish within the shutdown grace, stop the rest, then end the loop
 * once every reply and final stream frame is out. A second call stops
 * every Run at once. */
void runnerd_drain(struct runnerd *d);

#endif
