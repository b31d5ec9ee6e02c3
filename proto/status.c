#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runner/v1/runner.pb-c.h"

/* The numbering is the gRPC one, fixed by the contract; keep the C mirror
 * honest against the generated enum. */
_Static_assert((int) RS_UNAUTHENTICATED == (int) RUNNER__V1__STATUS_CODE__UNAUTHENTICATED,
	       "status codes drifted from runner.proto");
_Static_assert((int) RS_INVALID_ARGUMENT == (int) RUNNER__V1__STATUS_CODE__INVALID_ARGUMENT,
	       "status codes drifted from runner.proto");

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *
rstatus_code_name(int code)
{
	if (code < 0 || code >= (int) (sizeof(code_names) / sizeof(code_names[0])))
		return "UNKNOWN_CODE";
	return code_names[code];
}

int
rstatus_code_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++)
		if (strcasecmp(name, code_names[i]) == 0)
			return (int) i;
	return -1;
}

void
rstatus_clear(rstatus *st)
{
	if (st == NULL)
		return;
	st->code = RS_OK;
	st->message[0] = '\0';
}

static int
vfail(rstatus *st, int code, int errnum, const char *fmt, va_list ap)
{
	if (code == RS_OK)
		code = RS_UNKNOWN;
	if (st != NULL) {
		int n;

		st->code = code;
		n = vsnprintf(st->message, sizeof(st->message), fmt, ap);
		if (errnum != 0 && n >= 0 && (size_t) n < sizeof(st->message))
			snprintf(st->message + n, sizeof(st->message) - (size_t) n,
				 ": %s", strerror(errnum));
	}
	return -code;
}

int
rstatus_fail(rstatus *st, int code, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vfail(st, code, 0, fmt, ap);
	va_end(ap);
	return rv;
}

int
rstatus_fail_errno(rstatus *st, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vfail(st, code, errnum, fmt, ap);
	va_end(ap);
	return rv;
}
