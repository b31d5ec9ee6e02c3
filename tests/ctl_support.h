/* ctl_support.h — runnerctl driven as its users drive it: a child process
 * with an argv, an environment, a working directory and stdin, whose
 * stdout, stderr and exit status the test reads.
 *
 * Helpers assert (check's ck_assert): call them from inside a test.
 */
#ifndef RUNNERD_TEST_CTL_SUPPORT_H
#define RUNNERD_TEST_CTL_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long one runnerctl may take before the test kills it and fails. */
#define CTL_TIMEOUT_MS 60000

typedef struct ctl_opts {
	const char *addr;          /* $RUNNERD_ADDR (NULL: unset) */
	const void *in;            /* stdin bytes (NULL: none, end-of-file at once) */
	size_t in_len;
	const char *cwd;           /* working directory (NULL: the test's) */
	const char *const *prefix; /* run through this (e.g. setpriv ...), NULL-terminated */
} ctl_opts;

typedef struct ctl_result {
	int status;     /* exit code, or 128+N when signal N killed it */
	char *out;      /* stdout, NUL-terminated (may hold NULs before) */
	size_t out_len;
	char *err;      /* stderr, NUL-terminated */
	size_t err_len;
	int64_t ms;     /* how long it ran */
} ctl_result;

/* Run runnerctl with the arguments (NULL-terminated) and wait for it. */
void ctl_run(ctl_result *r, const ctl_opts *o, ...) __attribute__((sentinel));
void ctl_runv(ctl_result *r, const ctl_opts *o, const char *const *args);

void ctl_result_free(ctl_result *r);

/* Assert the exit status, showing stderr when it differs. */
#define ctl_assert_status(r, want)                                                                 \
	ck_assert_msg((r)->status == (want), "runnerctl exited %d, want %d; stderr: %s", (r)->status, \
		      (want), (r)->err)

#endif
