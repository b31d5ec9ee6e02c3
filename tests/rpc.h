/* rpc.h — building Run requests and checking their answers in tests.
 *
 * rd_cmd is a RunRequest with its storage inline: init it, pick argv or a
 * shell line, add env / stdin, then set any other CommandSpec field on
 * c.spec directly (cwd, timeout_ms, stdout_limit, ...).
 */
#ifndef RUNNERD_TEST_RPC_H
#define RUNNERD_TEST_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "runner_client.h"

#define RD_MAX_ARGS 16
#define RD_MAX_ENV 8
#define RD_RUN_METHOD "runner.v1.Runner/Run"
/* The envelope deadline of every Run the helpers send: a server that never
 * answers fails the test (after this + the client's margin) instead of
 * hanging it until check's timeout. */
#define RD_CALL_DEADLINE_MS 30000

typedef struct rd_cmd {
	Runner__V1__RunRequest req;
	Runner__V1__CommandSpec spec;
	char *argv[RD_MAX_ARGS];
	Runner__V1__EnvVar env[RD_MAX_ENV];
	Runner__V1__EnvVar *envp[RD_MAX_ENV];
} rd_cmd;

void rd_cmd_init(rd_cmd *c);
/* argv, NULL-terminated. */
void rd_cmd_argv(rd_cmd *c, ...) __attribute__((sentinel));
void rd_cmd_shell(rd_cmd *c, const char *shell);
void rd_cmd_env(rd_cmd *c, const char *name, const char *value);
void rd_cmd_stdin(rd_cmd *c, const void *data, size_t len);

/* The encoded RunRequest (malloc'd). */
uint8_t *rd_cmd_pack(const rd_cmd *c, size_t *len);

/* Run and assert the call succeeded with OK; returns the response (free
 * with runner__v1__run_response__free_unpacked); its result is non-NULL. */
Runner__V1__RunResponse *rd_run_ok(runner_client *cl, const rd_cmd *c);

/* The same through a new client on url (closed before returning). */
Runner__V1__RunResponse *rd_run_ok_at(const char *url, const rd_cmd *c);

/* Run and return the status code of the answer (RUNNER_OK or an error);
 * st gets the message. Any reply payload is freed. */
int rd_run_code(runner_client *cl, const rd_cmd *c, runner_status *st);

/* Send an envelope through the client (transport success asserted). */
Runner__V1__ReplyEnvelope *rd_call_envelope(runner_client *cl, const char *method,
					    const void *id, size_t id_len,
					    const void *payload, size_t len);

/* One request over a fresh raw REQ socket with send/receive timeouts.
 * Returns the nng error of the exchange (0: *reply holds the decoded
 * envelope, asserted to decode). */
int rd_raw_request(const char *url, const void *buf, size_t len, int timeout_ms,
		   Runner__V1__ReplyEnvelope **reply);

/* Output assertions with readable failure messages. */
void rd_assert_bytes(ProtobufCBinaryData got, const void *want, size_t want_len, const char *what);
void rd_assert_output(ProtobufCBinaryData got, const char *want, const char *what);
/* reason EXITED with this exit code and no signal. */
void rd_assert_exited(const Runner__V1__RunResult *r, int code);

/* A plain `echo ok` through cl answers OK with "ok\n" (the "server still
 * works" check after every bad input). */
void rd_assert_echo_ok(runner_client *cl);
/* The same through a new client on url. */
void rd_assert_echo_ok_at(const char *url);
/* The same through a new client on url, connecting and answering within
 * ms (measured; the call itself gives up soon after). */
void rd_assert_echo_ok_within(const char *url, int ms);

#endif
