/* daemon.c — the daemon's shutdown (daemon.h). */
#include "daemon.h"

#include "core/notify.h"
#include "files/files.h"
#include "log.h"
#include "rpc/rpc.h"
#include "rpc/transport.h"
#include "run/docker_pools.h"
#include "session/session.h"
#include "session/streams.h"

#define DRAIN_POLL_US 20000

static unsigned
running(const struct runnerd *d)
{
	return runs_in_flight(d->runs) + sessions_running(d->sessions);
}

static void
stop_work(struct runnerd *d)
{
	d->stopped_work = true;
	runs_stop_all(d->runs);
}

/* Ends the loop once no Run is left and every reply has been sent. */
static void
drain_tick(struct loop_timer *t)
{
	struct runnerd *d = (struct runnerd *) ((char *) t - offsetof(struct runnerd, drain_timer));
	uint64_t now = loop_now_us();

	/* Done when nothing runs, every reply is out, and readers got their
	 * final frames (or a second past the grace, for readers that stall). */
	if (running(d) == 0 && transport_busy(d->transport) == 0 &&
	    (streams_busy(d->streams) == 0 || now >= d->drain_deadline_us + 1000000u)) {
		loop_stop(d->loop);
		return;
	}
	if (!d->stopped_work && now >= d->drain_deadline_us) {
		log_msg("warning", "shutdown grace over: stopping %u running process(es)", running(d));
		stop_work(d);
	}
	loop_timer_arm(d->loop, t, now + DRAIN_POLL_US);
}

void
runnerd_drain(struct runnerd *d)
{
	if (d->draining) {
		/* A second signal: don't wait out the grace. */
		stop_work(d);
		return;
	}
	d->draining = true;
	(void) notify_send("STOPPING=1\nSTATUS=shutting down: %u running", running(d));
	docker_pools_stop(d->pools);
	log_msg("info", "shutting down: %u running, grace %llums", running(d),
		(unsigned long long) d->cfg.shutdown_grace_ms);
	rpc_drain(d->rpc);
	listeners_stop_accepting(transport_listeners(d->transport));
	streams_stop_accepting(d->streams);
	/* Sessions are open-ended: they are not waited for, they are ended,
	 * and their readers get a final frame saying why. */
	sessions_stop_all(d->sessions);
	files_stop(d->files);
	d->drain_deadline_us = loop_now_us() + d->cfg.shutdown_grace_ms * 1000u;
	d->drain_timer.cb = drain_tick;
	loop_timer_arm(d->loop, &d->drain_timer, loop_now_us());
}
