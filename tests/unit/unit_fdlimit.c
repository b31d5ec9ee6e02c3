/* Unit tests of core/fdlimit: the count of open descriptors, and starts
 * refused once only the reserve is left, counted either way (the kernel's
 * number, or reading /proc/self/fd as on kernels before 6.2). Each test
 * runs in check's forked child, whose limit it may lower. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/fdlimit.h"
#include "unit_run.h"

#define LIMIT 96

START_TEST(test_count)
{
	long before = fdlimit_open_count(true);
	int fds[10];

	ck_assert_int_gt(before, 2);
	for (int i = 0; i < 10; i++)
		ck_assert_int_ge(fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	ck_assert_int_eq(fdlimit_open_count(true), before + 10);
	ck_assert_int_eq(fdlimit_open_count(false), before + 10);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	ck_assert_int_eq(fdlimit_open_count(false), before);
}
END_TEST

/* Under a limit of LIMIT: starts are admitted until fewer than the reserve
 * plus a start's worth are free, then refused with the numbers; closing
 * descriptors admits them again. */
START_TEST(test_reserve)
{
	struct rlimit rl = { .rlim_cur = LIMIT / 2, .rlim_max = LIMIT };
	struct rlimit was;
	uint64_t now;
	int fds[LIMIT], n = 0;
	rstatus st;

	fdlimit_count_slowly(_i == 1);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(fdlimit_raise(&was, &now), 0);
	ck_assert_uint_eq(was.rlim_cur, LIMIT / 2);
	ck_assert_uint_eq(now, LIMIT);
	ck_assert_uint_eq(fdlimit_limit(), LIMIT);
	ck_assert_uint_eq(fdlimit_reserve(), 16);
	/* What an admitted start takes, as a start would. */
	while (fdlimit_check(&st) == 0) {
		ck_assert_int_lt(n + FDLIMIT_PER_START, LIMIT);
		for (int k = 0; k < FDLIMIT_PER_START; k++)
			ck_assert_int_ge(fds[n++] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	}
	ck_assert_int_eq(st.code, RS_RESOURCE_EXHAUSTED);
	ck_assert_msg(strstr(st.message, "of its 96 file descriptors open and keeps 16 for connections"), "%s",
		      st.message);
	/* Refused in time: the reserve is still there. */
	ck_assert_int_ge(LIMIT - fdlimit_open_count(true), 16);
	ck_assert_int_le(LIMIT - fdlimit_open_count(true), 16 + 2 * FDLIMIT_PER_START);
	for (int k = 0; k < FDLIMIT_PER_START * 2; k++)
		close(fds[--n]);
	if (_i == 1)
		usleep((FDLIMIT_RECOUNT_MS + 10) * 1000); /* the slow count may wait that long */
	ck_assert_msg(fdlimit_check(&st) == 0, "%s", st.message);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("unit_fdlimit");
	TCase *tc = tcase_create("fdlimit");

	tcase_add_test(tc, test_count);
	tcase_add_loop_test(tc, test_reserve, 0, 2);
	suite_add_tcase(s, tc);
	return unit_run_suite(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
