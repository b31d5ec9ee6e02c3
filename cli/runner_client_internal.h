/* runner_client_internal.h — what the client library offers its own tests
 * but not its users: not installed, and hidden in the shared library. */
#ifndef RUNNER_CLIENT_INTERNAL_H
#define RUNNER_CLIENT_INTERNAL_H

#include <stdbool.h>

#include <nng/nng.h>

#include "runner_client.h"

#define RCLIENT_HIDDEN __attribute__((visibility("hidden")))

/* A unary call by short method name ("WriteStdin"): what each typed call of
 * runner_client.h does. *lost (may be NULL) is set when the call failed
 * with its last copy out — the connection dropped before the answer, after
 * any re-sends — so it may or may not have been carried out; not when
 * runnerd could not be reached or did not answer within the deadline. */
RCLIENT_HIDDEN int runner_client_call(runner_client *c, const char *method,
				       const ProtobufCMessage *request, ProtobufCMessage **reply,
				       uint64_t deadline_ms, bool *lost, runner_status *st);

/* Send an already-built envelope with an explicit request id (tests of
 * de-duplication and of bad envelopes); the raw reply envelope is returned
 * in *reply (free with runner__v1__reply_envelope__free_unpacked). Checks
 * the size and re-sends as every call does. */
RCLIENT_HIDDEN int runner_client_call_envelope(runner_client *c,
						const Runner__V1__RequestEnvelope *env,
						Runner__V1__ReplyEnvelope **reply, runner_status *st);

/* PERMISSION_DENIED, naming the path, when `url` is an ipc socket this
 * process may not connect to (a directory above it it may not search, or
 * the socket not writable); 0 otherwise (other schemes, a missing socket:
 * those are the dialer's to report). What runner_client_open and
 * runner_stream_open check first. */
RCLIENT_HIDDEN int runner_client_check_access(const char *url, runner_status *st);

/* Dial `url` on `sock` without waiting (runner_dial.c): plainly, or for a
 * tls+tcp:// address with TLS as `cred` says (INVALID_ARGUMENT for a
 * missing CA or unusable files). */
RCLIENT_HIDDEN int runner_dial(nng_socket sock, const char *url, const runner_credentials *cred,
				runner_status *st);

/* Why a tls+tcp:// address gave no connection: one dial attempt, waited
 * for, its error in words into buf ("" when it connected or is not
 * tls+tcp). */
RCLIENT_HIDDEN void runner_dial_diagnose(const char *url, const runner_credentials *cred, char *buf,
					  size_t size);

#endif
