#include "rpc/transport.h"

#include <stdlib.h>

#include <nng/protocol/reqrep0/rep.h>

enum ctx_state { CTX_RECV, CTX_BUSY, CTX_SEND, CTX_SPARE };

/* Contexts kept open but idle once the receivers are topped up: a burst's
 * contexts are reused rather than opened and closed per request (each
 * open costs nng allocations, locks and a getrandom). */
#define MAX_SPARE 64

struct rep_ctx {
	struct transport *t;
	nng_ctx ctx;
	nng_aio *aio;
	enum ctx_state state;
	int result;
	nng_pipe pipe;        /* the request's connection, while busy */
	struct loop_task task;
	struct rep_ctx *next; /* all contexts, for teardown */
	struct rep_ctx *spare_next;
};

struct transport {
	struct loop *loop;
	nng_socket sock;
	bool sock_open;
	struct listeners *listeners;
	transport_request_fn on_request;
	void *arg;
	unsigned idle_target, max_contexts;
	unsigned contexts, receiving, busy, spare;
	struct rep_ctx *all;
	struct rep_ctx *spares; /* CTX_SPARE ones, through spare_next */
};

#define CTX_OF(t) ((struct rep_ctx *) ((char *) (t) - offsetof(struct rep_ctx, task)))

/* nng thread: hand over to the loop, nothing else. */
static void
aio_cb(void *arg)
{
	struct rep_ctx *c = arg;

	c->result = nng_aio_result(c->aio);
	loop_post(c->t->loop, &c->task);
}

static void
start_recv(struct rep_ctx *c)
{
	c->state = CTX_RECV;
	c->t->receiving++;
	nng_ctx_recv(c->ctx, c->aio);
}

static void ctx_task(struct loop_task *task);

static int
open_ctx(struct transport *t)
{
	struct rep_ctx *c;
	int rv;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NNG_ENOMEM;
	c->t = t;
	c->task.fn = ctx_task;
	if ((rv = nng_aio_alloc(&c->aio, aio_cb, c)) != 0) {
		free(c);
		return rv;
	}
	if ((rv = nng_ctx_open(&c->ctx, t->sock)) != 0) {
		nng_aio_free(c->aio);
		free(c);
		return rv;
	}
	c->next = t->all;
	t->all = c;
	t->contexts++;
	start_recv(c);
	return 0;
}

static void
unlink_ctx(struct transport *t, struct rep_ctx *c)
{
	for (struct rep_ctx **pp = &t->all; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	t->contexts--;
	nng_ctx_close(c->ctx);
	nng_aio_free(c->aio);
	free(c);
}

/* Keep enough contexts receiving that a parked one never starves others:
 * spares first, then new ones. */
static void
top_up_receivers(struct transport *t)
{
	while (t->receiving < t->idle_target && t->spares != NULL && t->sock_open) {
		struct rep_ctx *c = t->spares;
		t->spares = c->spare_next;
		t->spare--;
		start_recv(c);
	}
	while (t->receiving < t->idle_target && t->contexts < t->max_contexts)
		if (open_ctx(t) != 0)
			break;
}

static void
ctx_task(struct loop_task *task)
{
	struct rep_ctx *c = CTX_OF(task);
	struct transport *t = c->t;

	switch (c->state) {
	case CTX_RECV:
		t->receiving--;
		if (c->result == NNG_ECLOSED || c->result == NNG_ECANCELED) {
			unlink_ctx(t, c);
			return;
		}
		if (c->result != 0) {
			start_recv(c);
			return;
		}
		c->state = CTX_BUSY;
		t->busy++;
		top_up_receivers(t);
		/* A connection waiting for an answer is never closed to make
		 * room for another (listeners.h). */
		c->pipe = nng_msg_get_pipe(nng_aio_get_msg(c->aio));
		listeners_pipe_activity(t->listeners, c->pipe, 1);
		t->on_request(c, nng_aio_get_msg(c->aio), t->arg);
		return;
	case CTX_SEND:
		if (c->result != 0)
			nng_msg_free(nng_aio_get_msg(c->aio));
		listeners_pipe_activity(t->listeners, c->pipe, -1);
		t->busy--;
		if (t->receiving < t->idle_target && t->sock_open) {
			start_recv(c);
		} else if (t->spare < MAX_SPARE && t->sock_open) {
			c->state = CTX_SPARE;
			c->spare_next = t->spares;
			t->spares = c;
			t->spare++;
		} else {
			unlink_ctx(t, c);
		}
		top_up_receivers(t);
		return;
	case CTX_BUSY:
	case CTX_SPARE:
		break;
	}
}

void
transport_reply(struct rep_ctx *c, nng_msg *reply)
{
	c->state = CTX_SEND;
	nng_aio_set_msg(c->aio, reply);
	nng_ctx_send(c->ctx, c->aio);
}

unsigned
transport_busy(const struct transport *t)
{
	return t->busy;
}

struct listeners *
transport_listeners(struct transport *t)
{
	return t->listeners;
}

void
transport_free(struct transport *t)
{
	if (t == NULL)
		return;
	listeners_free(t->listeners);
	if (t->sock_open)
		nng_close(t->sock);
	t->sock_open = false;
	/* Closing failed every receive and send: once their callbacks are
	 * over, the tasks they posted run here, and each such context unlinks
	 * and frees itself. Only parked (busy) ones are left. */
	for (struct rep_ctx *c = t->all; c != NULL; c = c->next)
		nng_aio_stop(c->aio);
	loop_flush(t->loop);
	while (t->all != NULL) {
		struct rep_ctx *c = t->all;
		t->all = c->next;
		nng_aio_free(c->aio);
		free(c);
	}
	free(t);
}

int
transport_start(struct transport **out, struct loop *l, const struct transport_config *cfg,
		transport_request_fn on_request, void *arg, rstatus *st)
{
	struct transport *t;
	int rv;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	t->loop = l;
	t->on_request = on_request;
	t->arg = arg;
	t->idle_target = cfg->idle_receivers ? cfg->idle_receivers : 8;
	t->max_contexts = cfg->max_contexts ? cfg->max_contexts : 4096;
	if ((rv = nng_rep0_open(&t->sock)) != 0) {
		free(t);
		return rstatus_fail(st, RS_INTERNAL, "nng_rep0_open: %s", nng_strerror(rv));
	}
	t->sock_open = true;
	/* Also set on the socket so no listener can ever come up unbounded. */
	if ((rv = nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, cfg->listen.max_request)) != 0) {
		transport_free(t);
		return rstatus_fail(st, RS_INTERNAL, "recv-size-max: %s", nng_strerror(rv));
	}
	top_up_receivers(t);
	if ((rv = listeners_start(&t->listeners, t->sock, &cfg->listen, st)) < 0) {
		transport_free(t);
		return rv;
	}
	*out = t;
	return 0;
}
