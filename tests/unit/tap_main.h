/*
 * tap_main: the main() every unit test binary shares. The runner honours
 * CK_RUN_SUITE, CK_RUN_CASE, CK_FORK and CK_VERBOSITY; `make check` sets
 * CK_TAP_LOG_FILE_NAME=- so the results reach automake's TAP driver.
 */
#ifndef CORAD_TESTS_TAP_MAIN_H
#define CORAD_TESTS_TAP_MAIN_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of `s` (and frees it); EXIT_SUCCESS only when none failed. */
static inline int
run_suite(Suite *s)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
