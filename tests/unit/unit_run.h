/* unit_run — the unit tests' main(): run a check suite. */
#ifndef RUNNERD_TESTS_UNIT_RUN_H
#define RUNNERD_TESTS_UNIT_RUN_H

#include <check.h>

/* Run every test of s (CK_NORMAL output; s is freed); the number failed. */
static inline int
unit_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

#endif
