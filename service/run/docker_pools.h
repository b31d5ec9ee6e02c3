/* docker_pools.h — keeps the pre-started containers of every profile with
 * `docker: { pool: N }` (see backends/docker_pool.h). Loop thread only.
 *
 * The daemon owns one docker_pools object. The docker backend asks it for
 * a ready container through a hook without a context argument
 * (docker_pool_set_take), so at most one object is registered with the
 * backend at a time: the one started last, until it is stopped.
 */
#ifndef RUNNER_SERVICE_DOCKER_POOLS_H
#define RUNNER_SERVICE_DOCKER_POOLS_H

#include <stdint.h>

#include "core/loop.h"

struct conf;
struct ledger;
struct docker_pools;

struct docker_pools_config {
	struct loop *loop;
	struct conf *conf;               /* the pools keep a reference */
	struct ledger *ledger;           /* records pooled CLIs; NULL: none */
	/* What the pools have to say while they work in the background, with
	 * nobody to answer to (a container that would not start): a level
	 * ("info", "warning") and a message. NULL: silence. */
	void (*log)(void *arg, const char *level, const char *message);
	void *log_arg;
};

/* Start filling the pools (in the background: nothing here blocks). A
 * profile whose pool cannot be set up is logged and left cold. */
int docker_pools_start(struct docker_pools **out, const struct docker_pools_config *cfg,
		       rstatus *st);
/* Shutdown: no more refills; every pooled container goes. */
void docker_pools_stop(struct docker_pools *dp);
/* Requests served by a pooled container, and cold starts of pooled profiles. */
void docker_pools_stats(const struct docker_pools *dp, uint64_t *hits, uint64_t *misses);
/* fn for each pool: its profile, the containers ready in it, the number
 * it keeps; nothing after docker_pools_stop. Accepts NULL. */
void docker_pools_visit(const struct docker_pools *dp,
			void (*fn)(void *arg, const char *profile, unsigned ready, unsigned size), void *arg);
/* Stop, then free; accepts NULL. */
void docker_pools_free(struct docker_pools *dp);

#endif
