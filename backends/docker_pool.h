/* docker_pool.h — the docker backend's warm pool, seen from both sides.
 *
 * A profile with `docker: { pool: N }` keeps N containers started ahead of
 * time (service/docker_pool.c owns them: it needs the loop and the
 * reaper). A pooled container is `docker run -i --rm ...` with every
 * container-creation flag the profile's policy gives (docker_pool_plan),
 * whose init waits for the request on stdin (docker_init.c, pool mode).
 * docker_prepare hands a request to a ready one when its own container
 * flags are exactly the pooled ones (the signature); anything a request
 * tightens at creation time (network, mounts, memory...) changes the
 * signature and gets a cold start. Each pooled container serves one
 * request and is removed after it, like any other.
 */
#ifndef RUNNER_DOCKER_POOL_H
#define RUNNER_DOCKER_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy.h"
#include "status.h"

/* A pooled container's CLI: our child, in its own process group, and our
 * ends of its stdin, stdout (POOL_READY already consumed) and stderr. */
struct docker_pooled {
	pid_t pid;
	int fds[3];
	void *run; /* docker.c's record of the container */
};

#define DOCKER_POOL_READY "RNRDRDY\n" /* docker_init.c writes it when ready */

/* Set by the service: take a ready container of `profile` whose signature
 * is `signature` (loop thread; false: none). */
typedef bool (*docker_pool_take_fn)(const char *profile, const char *signature, struct docker_pooled *out);
void docker_pool_set_take(docker_pool_take_fn fn);

/* The plan of a pooled container under `p`: argv and envp to spawn (owned
 * by *run), and its signature. */
int docker_pool_plan(const struct policy *p, char *const **argv, char *const **envp, void **run,
		     const char **signature, rstatus *st);

/* A pooled container that will serve nobody: remove it (in the
 * background) and free its record. */
void docker_pool_discard(void *run);

/* Remove, in the background, every container in runs[0..n) at once. */
void docker_pool_discard_all(void **runs, size_t n);

#endif
