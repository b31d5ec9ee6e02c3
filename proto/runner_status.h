/* runner_status.h — how every call of the runnerd client library reports
 * failure (installed with it; runner_client.h includes it).
 *
 * A call that can fail takes a `runner_status *` (which may be NULL) and
 * returns 0 on success, or a negative value (minus the code) after filling
 * the status with a gRPC status code and a human-readable message. The
 * codes are those of runner.v1.StatusCode, with the same numbers; what each
 * one means for each call is documented with the call and in runner.proto.
 */
#ifndef RUNNER_STATUS_H
#define RUNNER_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* The gRPC status codes (runner.v1.StatusCode). */
typedef enum runner_code {
	RUNNER_OK = 0,
	RUNNER_CANCELLED = 1,
	RUNNER_UNKNOWN = 2,
	RUNNER_INVALID_ARGUMENT = 3,
	RUNNER_DEADLINE_EXCEEDED = 4,
	RUNNER_NOT_FOUND = 5,
	RUNNER_ALREADY_EXISTS = 6,
	RUNNER_PERMISSION_DENIED = 7,
	RUNNER_RESOURCE_EXHAUSTED = 8,
	RUNNER_FAILED_PRECONDITION = 9,
	RUNNER_ABORTED = 10,
	RUNNER_OUT_OF_RANGE = 11,
	RUNNER_UNIMPLEMENTED = 12,
	RUNNER_INTERNAL = 13,
	RUNNER_UNAVAILABLE = 14,
	RUNNER_DATA_LOSS = 15,
	RUNNER_UNAUTHENTICATED = 16,
} runner_code;

/* A call's outcome: `code` is a runner_code (RUNNER_OK after a call that
 * succeeded), `message` says what failed, NUL-terminated (cut to fit). */
typedef struct runner_status {
	int code;
	char message[512];
} runner_status;

#ifdef __cplusplus
}
#endif

#endif
