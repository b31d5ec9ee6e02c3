/* probes.h — what runnerd knows about its backends: the last verdict of
 * each backend's probe (backend.h), kept fresh by probe threads so that
 * nothing on the loop ever waits for a probe (a firejail probe starts a
 * sandbox, and can take 2 x 20 s when firejail hangs). Each backend whose
 * verdict can expire has a thread of its own, so one that hangs delays no
 * other's.
 *
 * - probes_init probes every backend once, on the calling thread, before
 *   runnerd serves: the first request always finds a verdict, as the
 *   profile checks and start-up warnings do.
 * - probes_start starts the probe threads, which post each new verdict to
 *   the loop; requests and Health read the last one (probes_state).
 * - A verdict holds for the backend's probe_ok_ms / probe_failed_ms. A
 *   success past it is probed again at once (docker's engine may stop). A
 *   failure past it is probed again when someone reads it (a request,
 *   Health): the reader gets the failure at once, the re-probe runs in the
 *   background, and a backend this host cannot run is not probed over and
 *   over for nobody.
 *
 * The single instance of the process, as the backends it describes are
 * (backend_all): one verdict per backend per process.
 */
#ifndef RUNNER_PROBES_H
#define RUNNER_PROBES_H

#include "backend.h"
#include "status.h"

struct loop;

/* Called on the loop thread when a backend's availability changed (the
 * verdict went from success to failure or back). */
typedef void (*probes_changed_fn)(const struct backend_ops *be, const rstatus *verdict);

/* Probe every backend now, on the calling thread (blocks while they
 * probe). Before probes_start. */
void probes_init(void);

/* Start the probe threads; verdicts are posted to `loop`, and `changed`
 * (may be NULL) hears of flips. Once; after probes_init. */
int probes_start(struct loop *loop, probes_changed_fn changed, rstatus *st);

/* Stop the probe threads once the loop no longer runs: a probe in flight
 * is SIGKILLed (spawn_sync_stop_all), the threads joined. */
void probes_stop(void);

/* The last verdict on `be`: 0, or fills st with why it cannot run. Never
 * blocks. Loop thread (any thread before probes_start). */
int probes_state(const struct backend_ops *be, rstatus *st);

#endif
