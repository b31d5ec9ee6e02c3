/* status.h — the error object shared by every runnerd library, and the
 * error convention of the whole code base.
 *
 * A status is a gRPC code (runner.v1.StatusCode) plus a human-readable
 * message. Libraries never print: main() and the RPC layer decide what to
 * do with a status.
 *
 * The convention, one per kind of function:
 *
 *  - A function that can fail for a reason a client or the operator gets
 *    to see takes an `rstatus *` and returns 0 on success, or a negative
 *    value after filling the status (rstatus_fail returns -code). Callers
 *    propagate the negative value and the status, unchanged, up to whoever
 *    logs or replies. This is the rule: every module's public functions
 *    that fail this way look like this (loop_new, job_start, launch_prepare,
 *    session_signal, profiles_resolve, a backend's prepare...).
 *
 *  - A thin wrapper over a system call, whose failure its caller handles
 *    without telling anyone (kill a group that may be gone, read a pipe
 *    until EAGAIN), returns a non-negative value on success and -errno on
 *    failure (job_signal, capture_read, loop_watch_mod, loop_run). A caller
 *    that must report one turns it into a status once, at that boundary,
 *    with rstatus_fail_errno(st, code, -rv, ...).
 *
 *  - A parser or predicate with a single way to fail (units.h: "not a
 *    duration") returns -1; its caller knows which field it was and fills
 *    the status.
 *
 * The negative values of the first two kinds overlap (-ESRCH is
 * -RS_INVALID_ARGUMENT), so a return value is only ever tested for < 0,
 * never compared with a code: the status, or errno's value, says what
 * happened. nng's positive NNG_E* codes never leave the module that called
 * nng: it converts them into a status (nng_strerror in the message) or a
 * -errno.
 *
 * This header is runnerd's own (not installed). rstatus is the client
 * library's public runner_status (runner_status.h) under the short names
 * the daemon's code uses, so a status travels between the two without
 * conversion; the RS_ codes are the RUNNER_ ones.
 */
#ifndef RUNNERD_STATUS_H
#define RUNNERD_STATUS_H

#include <stddef.h>

#include "runner_status.h"

enum rstatus_code {
	RS_OK = RUNNER_OK,
	RS_CANCELLED = RUNNER_CANCELLED,
	RS_UNKNOWN = RUNNER_UNKNOWN,
	RS_INVALID_ARGUMENT = RUNNER_INVALID_ARGUMENT,
	RS_DEADLINE_EXCEEDED = RUNNER_DEADLINE_EXCEEDED,
	RS_NOT_FOUND = RUNNER_NOT_FOUND,
	RS_ALREADY_EXISTS = RUNNER_ALREADY_EXISTS,
	RS_PERMISSION_DENIED = RUNNER_PERMISSION_DENIED,
	RS_RESOURCE_EXHAUSTED = RUNNER_RESOURCE_EXHAUSTED,
	RS_FAILED_PRECONDITION = RUNNER_FAILED_PRECONDITION,
	RS_ABORTED = RUNNER_ABORTED,
	RS_OUT_OF_RANGE = RUNNER_OUT_OF_RANGE,
	RS_UNIMPLEMENTED = RUNNER_UNIMPLEMENTED,
	RS_INTERNAL = RUNNER_INTERNAL,
	RS_UNAVAILABLE = RUNNER_UNAVAILABLE,
	RS_DATA_LOSS = RUNNER_DATA_LOSS,
	RS_UNAUTHENTICATED = RUNNER_UNAUTHENTICATED,
};

typedef runner_status rstatus;

/* Fill `st` (may be NULL) and return -code, which is negative for any
 * failure code. */
int rstatus_fail(rstatus *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like rstatus_fail, appending ": strerror(errnum)". */
int rstatus_fail_errno(rstatus *st, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void rstatus_clear(rstatus *st);

/* "INVALID_ARGUMENT" etc.; "UNKNOWN_CODE" outside 0..16. */
const char *rstatus_code_name(int code);

/* Parse a code name (case-insensitive); -1 when unknown. */
int rstatus_code_from_name(const char *name);

#endif
