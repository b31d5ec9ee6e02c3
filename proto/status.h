/* status.h — the error object shared by every runnerd library.
 *
 * A status is a gRPC code (runner.v1.StatusCode) plus a human-readable
 * message. Functions that can fail take a `rstatus *` and return 0 on
 * success or a negative value on failure, after filling the status; callers
 * propagate the negative value and the status up to whoever logs or replies.
 * Libraries never print: main() and the RPC layer decide what to do.
 */
#ifndef RUNNER_STATUS_H
#define RUNNER_STATUS_H

#include <stddef.h>

enum rstatus_code {
	RS_OK = 0,
	RS_CANCELLED = 1,
	RS_UNKNOWN = 2,
	RS_INVALID_ARGUMENT = 3,
	RS_DEADLINE_EXCEEDED = 4,
	RS_NOT_FOUND = 5,
	RS_ALREADY_EXISTS = 6,
	RS_PERMISSION_DENIED = 7,
	RS_RESOURCE_EXHAUSTED = 8,
	RS_FAILED_PRECONDITION = 9,
	RS_ABORTED = 10,
	RS_OUT_OF_RANGE = 11,
	RS_UNIMPLEMENTED = 12,
	RS_INTERNAL = 13,
	RS_UNAVAILABLE = 14,
	RS_DATA_LOSS = 15,
	RS_UNAUTHENTICATED = 16,
};

typedef struct rstatus {
	int code;          /* enum rstatus_code */
	char message[512];
} rstatus;

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
