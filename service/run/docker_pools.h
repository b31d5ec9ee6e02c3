/* docker_pools.h — keeps the pre-started containers of every
 * profile with `docker: { pool: N }` (see backends/docker_pool.h). Loop
 * thread only. */
#ifndef RUNNER_SERVICE_DOCKER_POOL_H
#define RUNNER_SERVICE_DOCKER_POOL_H

#include <stdint.h>

#include "core/loop.h"

struct profiles;

/* Start filling the pools (in the background: nothing here blocks). */
void docker_pools_start(struct loop *l, const struct profiles *p);
/* Shutdown: no more refills; every pooled container goes. */
void docker_pools_stop(void);
/* Requests served by a pooled container, and cold starts of pooled profiles. */
void docker_pools_stats(uint64_t *hits, uint64_t *misses);

#endif
