/* gauges.c — what the loop owns, published to metrics once a second
 * (daemon.h): the HTTP thread renders the last publication and never
 * touches the loop's state. Backend availability is published when it
 * changes (main.c), not here: reading a failed verdict would probe again. */
#include "daemon.h"

#include <stddef.h>

#include "metrics/metrics.h"
#include "rpc/listeners.h"
#include "rpc/transport.h"
#include "run/docker_pools.h"
#include "session/session.h"
#include "session/streams.h"

#define GAUGE_PERIOD_US 1000000u

static void
publish_pool(void *arg, const char *profile, unsigned ready, unsigned size)
{
	metrics_set_pool(profile, ready, size);
}

static void
publish_listeners(struct listeners *ls)
{
	for (size_t i = 0; ls != NULL && i < listeners_count(ls); i++)
		metrics_set_listener_connections(listeners_url(ls, i), listeners_connections_at(ls, i));
}

static void
publish(struct loop_timer *t)
{
	struct runnerd *d = (struct runnerd *) ((char *) t - offsetof(struct runnerd, gauge_timer));

	metrics_publish_begin();
	metrics_set(METRIC_RUNS_RUNNING, runs_in_flight(d->runs));
	metrics_set(METRIC_SESSIONS_RUNNING, sessions_running(d->sessions));
	metrics_set(METRIC_SESSIONS_RETAINED, sessions_count(d->sessions));
	metrics_set(METRIC_STREAM_READERS, streams_readers(d->streams));
	metrics_set(METRIC_DRAINING, d->draining);
	docker_pools_visit(d->pools, publish_pool, NULL);
	publish_listeners(transport_listeners(d->transport));
	publish_listeners(streams_listeners(d->streams));
	metrics_publish_end();
	loop_timer_arm(d->loop, t, loop_now_us() + GAUGE_PERIOD_US);
}

void
runnerd_gauges_start(struct runnerd *d)
{
	d->gauge_timer.cb = publish;
	publish(&d->gauge_timer);
}
