/* runner_client.h — the C client library for runnerd (runner.v1 over nng).
 *
 * One runner_client holds one nng REQ socket dialed to a runnerd address
 * (ipc:///path or tcp://host:port). It is safe to share between threads:
 * each call uses its own nng context. Automatic REQ resends are disabled;
 * every call carries a fresh random request id, so a transport-level retry
 * can never run a command twice.
 *
 * Errors follow status.h: calls return 0 or a negative value and fill an
 * rstatus with the gRPC code and message — the server's, or one of:
 *   UNAVAILABLE        no connection to the server within the connect timeout
 *   DEADLINE_EXCEEDED  no reply within the call's deadline (+ a margin)
 *   RESOURCE_EXHAUSTED the request is larger than the server accepts
 *   INTERNAL           a reply that does not decode
 */
#ifndef RUNNER_CLIENT_H
#define RUNNER_CLIENT_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "runner/v1/runner.pb-c.h"
#include "runner_defaults.h"
#include "status.h"
#include "units.h"


typedef struct runner_client runner_client;

typedef struct runner_client_options {
	/* How long a call waits for a connection before UNAVAILABLE; 0: 3000. */
	int connect_timeout_ms;
	/* Largest request this client will send (checked locally, so an
	 * oversized request fails fast with RESOURCE_EXHAUSTED instead of
	 * having the server drop the connection); 0: RUNNER_DEFAULT_MAX_REQUEST. */
	uint32_t max_request_bytes;
} runner_client_options;

/* Open a client for `url`; `opts` may be NULL. Dialing is asynchronous: an
 * unreachable server shows up as UNAVAILABLE on the first call. */
int runner_client_open(runner_client **out, const char *url,
		       const runner_client_options *opts, rstatus *st);

/* Close and free; accepts NULL. */
void runner_client_close(runner_client *c);

/* Call `method` (short name, e.g. "Run") with `request`. On success
 * *reply is the decoded reply message (free with protobuf_c_message_free_unpacked).
 * `deadline_ms` is sent in the envelope (0: none) and bounds the wait.
 * On a non-OK reply the server's code and message land in `st`; when the
 * server attached a payload anyway (e.g. Run's partial result with
 * DEADLINE_EXCEEDED) it is still returned in *reply. */
int runner_client_call(runner_client *c, const char *method,
		       const ProtobufCMessage *request, ProtobufCMessage **reply,
		       uint64_t deadline_ms, rstatus *st);

/* Lower level: send an already-built envelope with an explicit request id
 * (for tests of de-duplication); the raw reply envelope is returned. */
int runner_client_call_envelope(runner_client *c, const Runner__V1__RequestEnvelope *env,
				Runner__V1__ReplyEnvelope **reply, rstatus *st);

/* Convenience wrapper for Run. */
int runner_client_run(runner_client *c, const Runner__V1__RunRequest *req,
		      Runner__V1__RunResponse **resp, uint64_t deadline_ms, rstatus *st);

/* The address to use: `flag` if non-NULL, else $RUNNERD_ADDR, else the default. */
const char *runner_client_default_addr(const char *flag);

#endif
