/* runner_client.h — the C client library of runnerd (runner.v1 over nng).
 *
 *   #include <runner_client.h>        cc prog.c $(pkg-config --cflags --libs runnerclient)
 *                                     or, in CMake: find_package(runnerclient)
 *                                     and link runner::runnerclient
 *
 * Messages. Requests and replies are the protobuf-c structs generated from
 * runner.proto (runner/v1/runner.pb-c.h, installed with the library and
 * part of its API; every field is documented in runner.proto, installed in
 * share/runnerd/proto). Build a request on the stack with its __INIT macro
 * and fill the fields you need:
 *
 *   Runner__V1__RunRequest req = RUNNER__V1__RUN_REQUEST__INIT;
 *   Runner__V1__CommandSpec spec = RUNNER__V1__COMMAND_SPEC__INIT;
 *   char *argv[] = { "echo", "hello" };
 *   spec.argv = argv; spec.n_argv = 2; req.command = &spec;
 *
 * The library neither keeps nor modifies a request (protobuf-c declares
 * strings `char *`; pointing them at constant strings is fine). A reply is
 * the caller's: free it with the generated runner__v1__<type>__free_unpacked
 * (reply, NULL), or protobuf_c_message_free_unpacked(&reply->base, NULL).
 *
 * Errors. Every call that can fail returns 0, or a negative value and fills
 * the runner_status (runner_status.h; the pointer may be NULL) with a gRPC
 * code and a message: the server's, or one of these from the library:
 *   UNAVAILABLE         no connection to runnerd within the connect timeout,
 *                       or the connection was lost before the reply (the
 *                       message then says the request may have run)
 *   DEADLINE_EXCEEDED   no reply within the call's deadline (+ 5 s transit)
 *   RESOURCE_EXHAUSTED  the request is larger than the client's limit
 *   INVALID_ARGUMENT    a malformed address
 *   INTERNAL            a reply that does not decode
 *
 * Retries. Each call carries a fresh random 16-byte request id. nng's own
 * REQ resends are disabled; when a connection drops under a request, the
 * library sends it again with the same id, marked as a retry, and runnerd
 * answers it from its de-duplication table or refuses it (ABORTED) when it
 * cannot prove the first copy never ran: a retry never runs anything twice.
 *
 * Threads. A runner_client may be shared by any number of threads: each
 * call uses its own nng context and blocks only its caller.
 *
 * Related headers, included here: runner_stream.h (reading a session's
 * output, or a watch's events), runner_stdin.h (writing a session's input),
 * runner_files.h (the file calls), runner_status.h,
 * runner_defaults.h (addresses and limits both sides agree on),
 * runner_client_version.h.
 */
#ifndef RUNNER_CLIENT_H
#define RUNNER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "runner/v1/runner.pb-c.h"
#include "runner_client_version.h"
#include "runner_defaults.h"
#include "runner_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the library ---------------------------------------------------------- */

/* The version of the library in use at run time, "MAJOR.MINOR.PATCH"; the
 * headers compiled against are RUNNER_CLIENT_VERSION. */
const char *runner_client_version(void);

/* "INVALID_ARGUMENT" for RUNNER_INVALID_ARGUMENT, etc.; "UNKNOWN_CODE" for a
 * number outside the runner_code range. */
const char *runner_status_code_name(int code);

/* ---- connections ------------------------------------------------------------ */

typedef struct runner_client runner_client;

typedef struct runner_client_options {
	/* How long a call waits for a connection before UNAVAILABLE; 0: 3000. */
	int connect_timeout_ms;
	/* Largest request this client will send (checked locally, so an
	 * oversized request fails fast with RESOURCE_EXHAUSTED instead of
	 * having the server drop the connection); 0: RUNNER_DEFAULT_MAX_REQUEST. */
	uint32_t max_request_bytes;
} runner_client_options;

/* Open a client for `url` (ipc:///path or tcp://host:port); `opts` may be
 * NULL. Dialing is asynchronous: an unreachable server shows up as
 * UNAVAILABLE on the first call. A malformed address is INVALID_ARGUMENT;
 * an ipc socket this process may not connect to (no write permission on
 * the socket, or no search permission on a directory above it) is
 * PERMISSION_DENIED at once, naming that path.
 *
 * Several addresses separated by commas are all dialed, and calls spread
 * over the connections (nng's REQ socket does), as through a load
 * balancer: one client for a fleet of runnerds.
 *
 * A fleet (runnerds started with --advertise, behind one address such as
 * a Kubernetes Service, or the list above): the library keeps a session
 * whole — a call naming a session goes to the runnerd that owns it (its id
 * names it: runner_session_owner), over a connection of its own to that
 * address, opened on first use and kept with the client — and a retry
 * reaches the instance that had the first copy, never another (every
 * request names the instance the client's connection answered from; one
 * that reaches another instance is refused there with the right one's
 * address, and the library sends it on). A call that cannot be routed
 * (the owner unreachable) fails UNAVAILABLE: it never runs elsewhere. */
int runner_client_open(runner_client **out, const char *url, const runner_client_options *opts,
		       runner_status *st);

/* Close and free; accepts NULL. No call may be in progress on `c`. */
void runner_client_close(runner_client *c);

/* The address to dial: `flag` if non-NULL and non-empty, else $RUNNERD_ADDR
 * if set and non-empty, else RUNNER_DEFAULT_ADDR. */
const char *runner_client_default_addr(const char *flag);

/* The address of the runnerd that owns a session, from its id (in a
 * fleet, "HEX@ADDRESS": a pointer to ADDRESS inside `session_id`); NULL
 * when the id names none (a runnerd without --advertise). Its stream
 * address is runner_stream_address() of it. */
const char *runner_session_owner(const char *session_id);

/* ---- the calls of runner.v1.Runner ----------------------------------------------
 *
 * One function per unary method. Each sends `req`, waits for the answer and
 * on success sets *resp to the reply (the caller frees it). `deadline_ms` is
 * sent in the envelope — runnerd gives up on the call after that long, for
 * Run by stopping the child — and bounds the wait; 0: no deadline. On
 * failure *resp is NULL unless the server attached a reply to its error
 * (documented per call), which is then the caller's to free as well. */

/* Run a command to completion: its output, exit status and resource use in
 * (*resp)->result. How the process ended is no error (see RunResult.reason).
 * DEADLINE_EXCEEDED from runnerd comes with the partial result in *resp. */
int runner_run(runner_client *c, const Runner__V1__RunRequest *req, Runner__V1__RunResponse **resp,
	       uint64_t deadline_ms, runner_status *st);

/* Start an interactive session: a process whose stdin stays open. The reply
 * names the session, where its output is streamed (runner_stream_open) and
 * the secret a reader needs. With an idempotency_key a second call returns
 * the first session (`existing` set) instead of starting another. */
int runner_start_pipes(runner_client *c, const Runner__V1__StartPipesRequest *req,
		       Runner__V1__StartPipesResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Append bytes to a session's stdin at an offset; answered once they are in
 * the child's pipe (a full pipe makes the reply wait: use no deadline, or a
 * long one). Bytes the session already has are skipped, so a replay is
 * harmless; past the end: OUT_OF_RANGE; after the child exited or closed its
 * stdin: FAILED_PRECONDITION. runner_stdin.h does the offsets for you. */
int runner_write_stdin(runner_client *c, const Runner__V1__WriteStdinRequest *req,
		       Runner__V1__WriteStdinResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Close a session's stdin: the child reads EOF. */
int runner_close_stdin(runner_client *c, const Runner__V1__CloseStdinRequest *req,
		       Runner__V1__CloseStdinResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Wait up to req->timeout_ms (0: without limit) for a session's process to
 * end; the result is in (*resp)->result, or DEADLINE_EXCEEDED. Give a
 * deadline_ms of at least the timeout (or 0). */
int runner_wait(runner_client *c, const Runner__V1__WaitRequest *req,
		Runner__V1__WaitResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Send a signal to a session's whole process group; FAILED_PRECONDITION
 * when it has already exited. */
int runner_signal(runner_client *c, const Runner__V1__SignalRequest *req,
		  Runner__V1__SignalResponse **resp, uint64_t deadline_ms, runner_status *st);

/* List the sessions (running and retained), optionally those with a tag. */
int runner_list(runner_client *c, const Runner__V1__ListRequest *req,
		Runner__V1__ListResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Whether runnerd is serving ((*resp)->status "SERVING" or "DRAINING"),
 * its version, counts and backends. */
int runner_health(runner_client *c, const Runner__V1__HealthRequest *req,
		  Runner__V1__HealthResponse **resp, uint64_t deadline_ms, runner_status *st);

/* A session's retained output from given offsets, without attaching (for a
 * look, as `runnerctl logs` takes): at most req->max_bytes (0: 256 KiB) of
 * each stream, where they start, how much was written, and the result once
 * the process ended. Needs the session's stream_secret (UNAUTHENTICATED
 * otherwise); acknowledges nothing. */
int runner_read_output(runner_client *c, const Runner__V1__ReadOutputRequest *req,
		       Runner__V1__ReadOutputResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Forget a finished session at once (its output, result and key);
 * FAILED_PRECONDITION while its process runs. */
int runner_remove(runner_client *c, const Runner__V1__RemoveRequest *req,
		  Runner__V1__RemoveResponse **resp, uint64_t deadline_ms, runner_status *st);

/* Set the window size of a PTY session's terminal (a session started with
 * command.terminal); its foreground process group gets SIGWINCH.
 * FAILED_PRECONDITION for a session without a terminal or whose process
 * exited, INVALID_ARGUMENT for a size outside 1..65535. */
int runner_resize(runner_client *c, const Runner__V1__ResizeRequest *req,
		  Runner__V1__ResizeResponse **resp, uint64_t deadline_ms, runner_status *st);

/* ReadStream, the contract's streaming method, is not a REQ/REP call: see
 * runner_stream.h. */

/* ---- the notation of runnerd's and runnerctl's command lines ---------------- */

/* A duration: "250ms", "10s", "2m", "1h"; a bare number is seconds. 0 and
 * *ms set, or -RUNNER_INVALID_ARGUMENT when `s` is not a duration. */
int runner_parse_duration_ms(const char *s, uint64_t *ms);

/* A size: "512", "64K", "4M", "1G" (also KiB, MiB, GiB; powers of 1024). 0
 * and *bytes set, or -RUNNER_INVALID_ARGUMENT when `s` is not a size. */
int runner_parse_size(const char *s, uint64_t *bytes);

#ifdef __cplusplus
}
#endif

#include "runner_files.h"
#include "runner_stdin.h"
#include "runner_stream.h"

#endif
