/* rpc.h — runner.v1 over the transport: envelopes, de-duplication,
 * dispatch by method name through protobuf-c's service descriptor, and the
 * call object handlers answer through.
 *
 * A handler receives a decoded request in a struct call and answers it
 * exactly once with call_reply — right away, or later from the loop (a Run
 * answers when its process is done). The RPC layer logs one line per
 * request through the configured log hook; it prints nothing itself.
 */
#ifndef RUNNER_RPC_H
#define RUNNER_RPC_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc/dedup.h"
#include "core/loop.h"
#include "rpc/transport.h"

struct rpc;
struct call;

typedef void (*rpc_handler_fn)(struct call *c);

/* One line per finished request: method short name, status, time, and
 * whether it was answered from the de-duplication table. */
struct rpc_log_record {
	const char *method;
	int code;
	const char *message;
	uint64_t duration_us;
	const uint8_t *request_id;
	size_t request_id_len;
	bool duplicate;
};
typedef void (*rpc_log_fn)(const struct rpc_log_record *rec, void *arg);

struct call {
	struct rpc *rpc;
	const ProtobufCMethodDescriptor *method;
	ProtobufCMessage *request;
	uint64_t received_us;
	uint64_t deadline_us; /* 0: none */
	void *app;            /* the application context given to rpc_new */
	nng_pipe pipe;        /* the connection the request came in on */
	/* internal */
	struct rep_ctx *ctx;
	struct dedup_entry *entry;
};

struct rpc_handler {
	const char *method; /* short name as in the .proto, e.g. "Run" */
	rpc_handler_fn fn;
};

int rpc_new(struct rpc **out, struct loop *l, const struct dedup_config *dcfg,
	    const struct rpc_handler *handlers, size_t n_handlers, void *app, rstatus *st);
void rpc_free(struct rpc *r);

/* The transport_request_fn to give transport_start, with `r` as its arg. */
void rpc_on_request(struct rep_ctx *ctx, nng_msg *msg, void *r);

void rpc_set_log(struct rpc *r, rpc_log_fn fn, void *arg);

/* This runnerd is one of a fleet, `instance` its advertised address (which
 * must outlive r): every reply carries it; a request naming another
 * instance, or a session of another instance, is answered UNAVAILABLE with
 * that instance as the owner and not run; a retry naming none that is not
 * in the table is ABORTED (routing.h, runner.proto's RequestEnvelope). A
 * call naming another runnerd's session is refused so without a fleet too. */
void rpc_set_instance(struct rpc *r, const char *instance);
const char *rpc_instance(const struct rpc *r); /* NULL: alone */

/* Requests of calls in progress (a Run's stdin until it is answered, a
 * WriteStdin's data until it is in the pipe) may hold at most `bytes`
 * decoded, all together; a request past it is RESOURCE_EXHAUSTED at once.
 * Unlimited until set. */
void rpc_set_max_held(struct rpc *r, size_t bytes);

/* Forget de-duplication entries past their time (also done whenever a
 * call completes; this is for a server that went quiet). */
void rpc_expire(struct rpc *r);

/* New requests get UNAVAILABLE from now on; calls in progress go on. */
void rpc_drain(struct rpc *r);
bool rpc_draining(const struct rpc *r);

/* Answer `c` and free it. `reply` (may be NULL) is the method's reply
 * message; it is sent with any code, so an error can carry a partial
 * result. */
void call_reply(struct call *c, int code, const char *message, const ProtobufCMessage *reply);
/* call_reply with a status object. */
void call_fail(struct call *c, const rstatus *st);

#endif
