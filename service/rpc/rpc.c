#include "rpc/rpc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics.h"
#include "routing.h"
#include "rpc/envelope.h"
#include "runner/v1/runner.pb-c.h"

struct rpc {
	struct loop *loop;
	struct dedup *dedup;
	const ProtobufCServiceDescriptor *service;
	rpc_handler_fn *by_index; /* handler per descriptor method index */
	void *app;
	rpc_log_fn log;
	void *log_arg;
	bool draining;
	uint64_t started_unix_ms;
	struct wire_limits limits; /* checked before protobuf-c allocates */
	/* Decoded requests of calls in progress are allocated through this,
	 * so what they hold is known: `held` bytes, refused past `max_held`. */
	ProtobufCAllocator decoder;
	size_t held, max_held;
	const char *instance; /* advertised address in a fleet; NULL: alone */
};

static void *
held_alloc(void *data, size_t size)
{
	struct rpc *r = data;
	void *p = malloc(size);

	if (p != NULL)
		r->held += malloc_usable_size(p);
	return p;
}

static void
held_free(void *data, void *p)
{
	struct rpc *r = data;

	if (p != NULL) {
		r->held -= malloc_usable_size(p);
		free(p);
	}
}

static uint64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

int
rpc_new(struct rpc **out, struct loop *l, const struct dedup_config *dcfg,
	const struct rpc_handler *handlers, size_t n_handlers, void *app, rstatus *st)
{
	const ProtobufCServiceDescriptor *sd = &runner__v1__runner__descriptor;
	struct rpc *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->by_index = calloc(sd->n_methods, sizeof(*r->by_index))) == NULL ||
	    (r->dedup = dedup_new(dcfg)) == NULL) {
		rpc_free(r);
		return rstatus_fail(st, RS_RESOURCE_EXHAUSTED, "out of memory");
	}
	r->loop = l;
	r->service = sd;
	r->started_unix_ms = unix_ms();
	wire_limits_init(&r->limits, &runner__v1__command_spec__descriptor);
	r->decoder = (ProtobufCAllocator){ .alloc = held_alloc, .free = held_free, .allocator_data = r };
	r->max_held = SIZE_MAX;
	r->app = app;
	/* Bind handlers by name, so the table can never drift from the .proto
	 * unnoticed: a handler for a method that does not exist is a bug. */
	for (size_t i = 0; i < n_handlers; i++) {
		const ProtobufCMethodDescriptor *md =
			protobuf_c_service_descriptor_get_method_by_name(sd, handlers[i].method);
		if (md == NULL) {
			rpc_free(r);
			return rstatus_fail(st, RS_INTERNAL, "handler for unknown method %s",
					    handlers[i].method);
		}
		r->by_index[md - sd->methods] = handlers[i].fn;
	}
	*out = r;
	return 0;
}

void
rpc_free(struct rpc *r)
{
	if (r == NULL)
		return;
	dedup_free(r->dedup);
	free(r->by_index);
	free(r);
}

void
rpc_set_log(struct rpc *r, rpc_log_fn fn, void *arg)
{
	r->log = fn;
	r->log_arg = arg;
}

void
rpc_set_instance(struct rpc *r, const char *instance)
{
	r->instance = instance;
}

const char *
rpc_instance(const struct rpc *r)
{
	return r->instance;
}

void
rpc_set_max_held(struct rpc *r, size_t bytes)
{
	r->max_held = bytes;
}

void
rpc_expire(struct rpc *r)
{
	dedup_expire(r->dedup, loop_now_us());
}

void
rpc_drain(struct rpc *r)
{
	r->draining = true;
}

bool
rpc_draining(const struct rpc *r)
{
	return r->draining;
}

static void
log_request(struct rpc *r, const char *method, int code, const char *message, uint64_t started,
	    const uint8_t *id, size_t id_len, bool dup)
{
	struct rpc_log_record rec = {
		.method = method,
		.code = code,
		.message = message,
		.duration_us = loop_now_us() - started,
		.request_id = id,
		.request_id_len = id_len,
		.duplicate = dup,
	};

	if (r->log != NULL)
		r->log(&rec, r->log_arg);
}

/* The envelope of an answer; `owner` (NULL: none) names the runnerd of
 * the fleet the call belongs to. */
static nng_msg *
pack_reply(const struct rpc *r, int code, const char *message, const ProtobufCMessage *reply,
	   const uint8_t *id, size_t id_len, const char *owner)
{
	Runner__V1__ReplyEnvelope env = RUNNER__V1__REPLY_ENVELOPE__INIT;
	uint8_t *payload = NULL;
	nng_msg *msg;
	size_t len;

	env.code = (Runner__V1__StatusCode) code;
	env.message = (char *) (message ? message : "");
	env.instance = (char *) (r->instance ? r->instance : "");
	env.owner = (char *) (owner ? owner : "");
	env.request_id.data = (uint8_t *) id;
	env.request_id.len = id_len;
	if (reply != NULL) {
		size_t plen = protobuf_c_message_get_packed_size(reply);
		if ((payload = malloc(plen ? plen : 1)) == NULL)
			return NULL;
		protobuf_c_message_pack(reply, payload);
		env.payload.data = payload;
		env.payload.len = plen;
	}
	len = runner__v1__reply_envelope__get_packed_size(&env);
	if (nng_msg_alloc(&msg, len) != 0) {
		free(payload);
		return NULL;
	}
	runner__v1__reply_envelope__pack(&env, nng_msg_body(msg));
	free(payload);
	return msg;
}

/* Answer a context with bytes kept in the de-duplication table. */
static void
reply_bytes(struct rep_ctx *ctx, const uint8_t *bytes, size_t len)
{
	nng_msg *msg;

	if (nng_msg_alloc(&msg, len) != 0) {
		/* Out of memory: an empty reply still frees the client's REQ. */
		if (nng_msg_alloc(&msg, 0) != 0)
			return;
		len = 0;
	}
	memcpy(nng_msg_body(msg), bytes, len);
	transport_reply(ctx, msg);
}

static void
reply_owned(struct rpc *r, struct rep_ctx *ctx, const char *method, int code, const char *message,
	    uint64_t started, const uint8_t *id, size_t id_len, const char *owner)
{
	nng_msg *msg = pack_reply(r, code, message, NULL, id, id_len, owner);

	if (msg == NULL && nng_msg_alloc(&msg, 0) != 0)
		return;
	transport_reply(ctx, msg);
	log_request(r, method, code, message, started, id, id_len, false);
}

static void
reply_now(struct rpc *r, struct rep_ctx *ctx, const char *method, int code, const char *message,
	  uint64_t started, const uint8_t *id, size_t id_len)
{
	reply_owned(r, ctx, method, code, message, started, id, id_len, NULL);
}

static void
answer_call(struct call *c, int code, const char *message, const ProtobufCMessage *reply, const char *owner)
{
	struct rpc *r = c->rpc;
	struct dedup_entry *e = c->entry;
	const uint8_t *id = e ? e->id : NULL;
	size_t id_len = e ? e->id_len : 0;
	nng_msg *msg = pack_reply(r, code, message, reply, id, id_len, owner);

	if (msg == NULL) {
		code = RS_RESOURCE_EXHAUSTED;
		message = "out of memory while packing the reply";
		msg = pack_reply(r, code, message, NULL, id, id_len, NULL);
	}
	if (e != NULL && msg != NULL) {
		uint64_t now = loop_now_us();
		dedup_complete(r->dedup, e, nng_msg_body(msg), nng_msg_len(msg), now);
		for (size_t i = 0; i < e->n_waiters; i++) {
			reply_bytes(e->waiters[i], nng_msg_body(msg), nng_msg_len(msg));
			log_request(r, c->method->name, code, message, c->received_us, id, id_len, true);
		}
		dedup_clear_waiters(e);
	}
	if (msg != NULL)
		transport_reply(c->ctx, msg);
	log_request(r, c->method->name, code, message, c->received_us, id, id_len, false);
	if (c->request != NULL)
		protobuf_c_message_free_unpacked(c->request, &r->decoder);
	free(c);
}

void
call_reply(struct call *c, int code, const char *message, const ProtobufCMessage *reply)
{
	answer_call(c, code, message, reply, NULL);
}

void
call_fail(struct call *c, const rstatus *st)
{
	call_reply(c, st->code, st->message, NULL);
}

/* A request whose id was seen before: same request → same answer; a
 * different request under the same id is the client's bug. */
static void
answer_duplicate(struct rpc *r, struct rep_ctx *ctx, struct dedup_entry *e, uint64_t fp,
		 const char *method, uint64_t started)
{
	if (e->fingerprint != fp) {
		reply_now(r, ctx, method, RS_ALREADY_EXISTS,
			  "request id already used for a different request", started, e->id, e->id_len);
		return;
	}
	if (!e->done) {
		if (!dedup_add_waiter(e, ctx))
			reply_now(r, ctx, method, RS_RESOURCE_EXHAUSTED, "out of memory", started,
				  e->id, e->id_len);
		return;
	}
	if (e->reply_dropped) {
		reply_now(r, ctx, method, RS_ABORTED,
			  "this request id already ran; its reply is no longer retained and it was not run again",
			  started, e->id, e->id_len);
		return;
	}
	reply_bytes(ctx, e->reply, e->reply_len);
	log_request(r, method, RS_OK, "", started, e->id, e->id_len, true);
}

/* An unknown retried id is safe to run only if its original was sent
 * after this server started: it would be in the table had it arrived. Over
 * ipc both sides read the same clock; over tcp a margin absorbs the
 * difference between two hosts' clocks. */
static bool
retry_never_arrived(const struct rpc *r, const Runner__V1__RequestEnvelope *env, nng_pipe pipe)
{
	nng_sockaddr sa;
	bool same_host = nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0 && sa.s_family == NNG_AF_IPC;
	uint64_t margin_ms = same_host ? 0 : 2000;

	return env->first_sent_unix_ms > r->started_unix_ms + margin_ms;
}

/* In a fleet (routing.h), may this instance take a request that names no
 * session (those go by their id, once decoded)? One that names another
 * instance belongs there: UNAVAILABLE, *owner set; a retry this instance
 * does not know that names none may have run on any other: ABORTED. 0 when
 * it may; nothing is recorded either way. */
static int
fleet_refusal(const struct rpc *r, const Runner__V1__RequestEnvelope *env, const ProtobufCMethodDescriptor *md,
	      char *msg, size_t size, const char **owner)
{
	*owner = NULL;
	if (r->instance == NULL || routing_names_session(md->input))
		return 0;
	if (env->instance != NULL && env->instance[0] != '\0' && strcmp(env->instance, r->instance) != 0) {
		*owner = env->instance;
		snprintf(msg, size, "sent to the runnerd at %.200s, and this is %s: not run here; send it there",
			 env->instance, r->instance);
		return RS_UNAVAILABLE;
	}
	if (env->retry && env->request_id.len > 0 && (env->instance == NULL || env->instance[0] == '\0')) {
		snprintf(msg, size, "a retried request that names no instance, unknown to this one of a fleet of "
				    "runnerds: it may have run on another; not run, so it cannot run twice");
		return RS_ABORTED;
	}
	return 0;
}

static void
dispatch(struct rpc *r, struct rep_ctx *ctx, const Runner__V1__RequestEnvelope *env,
	 uint64_t started, nng_pipe pipe)
{
	const char *owner;
	char why[400];
	int refused;
	const ProtobufCMethodDescriptor *md;
	const uint8_t *id = env->request_id.data;
	size_t id_len = env->request_id.len;
	struct dedup_entry *e = NULL;
	rpc_handler_fn fn;
	struct call *c;
	rstatus st;
	uint64_t fp = 0;

	if ((md = envelope_method(r->service, env->method)) == NULL) {
		char msg[200];
		snprintf(msg, sizeof(msg), "unknown method \"%.120s\"", env->method);
		reply_now(r, ctx, "?", RS_UNIMPLEMENTED, msg, started, id, id_len);
		return;
	}
	if (r->draining) {
		reply_now(r, ctx, md->name, RS_UNAVAILABLE, "runnerd is shutting down", started, id,
			  id_len);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		reply_now(r, ctx, md->name, RS_RESOURCE_EXHAUSTED, "out of memory", started, id, id_len);
		return;
	}
	if (id_len > 0) {
		fp = dedup_fingerprint(md->name, env->payload.data, env->payload.len);
		if ((e = dedup_find(r->dedup, id, id_len)) != NULL) {
			free(c);
			answer_duplicate(r, ctx, e, fp, md->name, started);
			return;
		}
	}
	if ((refused = fleet_refusal(r, env, md, why, sizeof(why), &owner)) != 0) {
		free(c);
		if (owner != NULL)
			metrics_inc(METRIC_MISROUTED);
		reply_owned(r, ctx, md->name, refused, why, started, id, id_len, owner);
		return;
	}
	if (id_len > 0) {
		if (env->retry && !retry_never_arrived(r, env, pipe)) {
			free(c);
			reply_now(r, ctx, md->name, RS_ABORTED,
				  "a retried request this runnerd does not know: it never arrived, or ran on a runnerd that has since restarted; not run, so it cannot run twice",
				  started, id, id_len);
			return;
		}
		if ((e = dedup_insert(r->dedup, id, id_len, fp)) == NULL) {
			free(c);
			reply_now(r, ctx, md->name, RS_RESOURCE_EXHAUSTED, "out of memory", started, id,
				  id_len);
			return;
		}
	}
	c->rpc = r;
	c->method = md;
	c->ctx = ctx;
	c->entry = e;
	c->app = r->app;
	c->received_us = started;
	c->pipe = pipe;
	c->deadline_us = env->deadline_ms ? started + env->deadline_ms * 1000u : 0;

	if ((fn = r->by_index[md - r->service->methods]) == NULL) {
		call_reply(c, RS_UNIMPLEMENTED, "not implemented by this server yet", NULL);
		return;
	}
	if (envelope_payload_decode(md, &env->payload, &r->limits, &r->decoder, &c->request, &st) < 0) {
		call_fail(c, &st);
		return;
	}
	/* This one included, so one request alone past the limit is refused. */
	if (r->held > r->max_held) {
		rstatus_fail(&st, RS_RESOURCE_EXHAUSTED,
			     "the requests in progress hold %zu bytes with this one, past runnerd's limit of "
			     "%zu (--max-inflight-bytes); retry when some are answered", r->held, r->max_held);
		call_fail(c, &st);
		return;
	}
	/* A session's calls go to the runnerd its id names (routing.h). */
	owner = routing_session_owner(routing_request_session(c->request));
	if (owner != NULL && (r->instance == NULL || strcmp(owner, r->instance) != 0)) {
		snprintf(why, sizeof(why), "session %.32s is on the runnerd at %.200s, not this one (%s): call it there",
			 routing_request_session(c->request), owner, r->instance ? r->instance : "no --advertise");
		metrics_inc(METRIC_MISROUTED);
		answer_call(c, RS_UNAVAILABLE, why, NULL, owner);
		return;
	}
	fn(c);
}

void
rpc_on_request(struct rep_ctx *ctx, nng_msg *msg, void *arg)
{
	struct rpc *r = arg;
	uint64_t started = loop_now_us();
	Runner__V1__RequestEnvelope *env;
	rstatus st = { .code = RS_OK };

	if (envelope_decode(nng_msg_body(msg), nng_msg_len(msg), &r->limits, &env, &st) < 0) {
		nng_msg_free(msg);
		reply_now(r, ctx, "?", st.code, st.message, started, NULL, 0);
		return;
	}
	nng_pipe pipe = nng_msg_get_pipe(msg);
	nng_msg_free(msg);
	dispatch(r, ctx, env, started, pipe);
	runner__v1__request_envelope__free_unpacked(env, NULL);
}
