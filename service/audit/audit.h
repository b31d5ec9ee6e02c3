/* audit.h — the audit log: who ran what, and who was refused.
 *
 * One JSON object per line (the JSON shape of runnerd's other output,
 * pb_json.h: lowerCamelCase names, codes and reasons by name, 64-bit
 * numbers as strings, request ids in base64), written whole with one
 * write(2) to a file opened O_APPEND (--audit-log FILE, mode 0600,
 * reopened by audit_reopen on SIGHUP for logrotate) or to stderr:
 *
 *   {"time", "event": "start", "principal", "peer", "method", "requestId",
 *    "profile", "backend", "argv" | "shell", "cwd", "envNames", "sessionId",
 *    "pid"}                               a process was started;
 *   {... the same, "event": "end", "reason", "exitCode", "signal",
 *    "wallTimeUs", "stdinBytes", "stdoutBytes", "stderrBytes", "oomKilled",
 *    "execError"}                         it ended (self-contained);
 *   {"time", "event": "refused", "principal", "peer", "method",
 *    "requestId", "code", "message", and what the request asked to run
 *    when it asked to run something}      a request or connection refused.
 *
 * "principal" is null without principals; "peer" is {"transport": "ipc",
 * "uid", "gid", "pid"} or {"transport": "tcp" | "tls", "address"}. argv is
 * bounded (64 elements of at most 1,024 bytes; "argvTruncated": true when
 * cut), strings are JSON-escaped (a newline in an argument cannot start a
 * line of its own) and repaired to UTF-8. Environment values, bearer
 * tokens and stream secrets are never written.
 *
 * Thread-safe: refusals of connections are written from nng's threads.
 */
#ifndef RUNNER_AUDIT_H
#define RUNNER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "auth/caller.h"
#include "runner/v1/runner.pb-c.h"
#include "status.h"

struct audit;
struct audit_process;

/* Open `path` for appending (NULL: stderr). */
int audit_open(struct audit **out, const char *path, rstatus *st);
/* Open the path again (the old file was rotated away); stderr stays. */
int audit_reopen(struct audit *a, rstatus *st);
void audit_free(struct audit *a);

/* What a request is and asked for; any field may be NULL/0. */
struct audit_request {
	const struct caller *caller;
	const struct peer *peer;      /* when there is no caller (a dropped connection) */
	const char *method;           /* short name: "Run" */
	const uint8_t *request_id;
	size_t request_id_len;
	const char *profile;          /* the profile it runs (or would have run) under */
	const char *backend;
	const Runner__V1__CommandSpec *spec;
	const char *cwd;              /* the resolved working directory (NULL: as spec asked) */
	const char *session_id;
};

/* A refusal: `code` and `message` as the caller got them. */
void audit_refused(struct audit *a, const struct audit_request *r, int code, const char *message);

/* A process about to start for `r`: a record of what its lines say (NULL
 * when out of memory: its lines are then missing). */
struct audit_process *audit_process_new(struct audit *a, const struct audit_request *r);
/* Its start line, once it runs (or could not be started: pid 0); the
 * result says the rest. Accepts NULL. */
void audit_process_started(struct audit_process *p, int pid);
/* Its end line, then free the record; accepts NULL. */
void audit_process_end(struct audit_process *p, const Runner__V1__RunResult *result,
		       uint64_t stdin_bytes);
/* Free a record whose process never started (its refusal is logged
 * instead); accepts NULL. */
void audit_process_free(struct audit_process *p);

#endif
