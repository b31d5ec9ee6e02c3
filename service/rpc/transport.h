/* transport.h — the REP side of runner.v1: one nng REP socket served by a
 * pool of contexts, each a small state machine (receive → busy → send).
 *
 * No thread is tied to a request: a context that received a request stays
 * parked, without a thread, until the service answers it, however long
 * that takes (a Run of minutes, a Wait). To keep serving everyone else,
 * the pool opens another receiving context whenever one gets parked, up to
 * `max_contexts` requests in flight; past that, requests queue in nng.
 * Callbacks from nng only post to the loop; everything else happens on the
 * loop thread.
 */
#ifndef RUNNER_TRANSPORT_H
#define RUNNER_TRANSPORT_H

#include <nng/nng.h>

#include "rpc/listeners.h"
#include "core/loop.h"

struct transport;
struct rep_ctx;

/* Called on the loop thread with a received request; the context is parked
 * until transport_reply. The callee owns `msg`. */
typedef void (*transport_request_fn)(struct rep_ctx *ctx, nng_msg *msg, void *arg);

struct transport_config {
	struct listeners_config listen;
	unsigned idle_receivers; /* contexts kept waiting for requests */
	unsigned max_contexts;   /* requests in flight at most */
};

int transport_start(struct transport **out, struct loop *l, const struct transport_config *cfg,
		    transport_request_fn on_request, void *arg, rstatus *st);

/* Loop thread: send `reply` (ownership taken) on the context's pipe and
 * recycle the context. */
void transport_reply(struct rep_ctx *ctx, nng_msg *reply);

/* Requests received and not yet completely answered. */
unsigned transport_busy(const struct transport *t);

struct listeners *transport_listeners(struct transport *t);

/* Close the socket and free every context; accepts NULL. */
void transport_free(struct transport *t);

#endif
