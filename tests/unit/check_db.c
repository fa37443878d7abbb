/* check_db: the array literals a batched projection statement takes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "corad/db.h"
#include "tap_main.h"

START_TEST(test_empty)
{
	struct db_array a = { 0 };

	ck_assert_str_eq(db_array_text(&a), "{}");
	ck_assert_str_eq(db_array_text(&a), "{}");
	/* Taken while empty, it still opens once the first element comes. */
	db_array_add(&a, "a");
	ck_assert_str_eq(db_array_text(&a), "{\"a\"}");
	db_array_free(&a);
}
END_TEST

START_TEST(test_elements_quoted)
{
	struct db_array a = { 0 };

	db_array_add(&a, "a");
	db_array_add(&a, NULL);
	db_array_add(&a, "NULL");
	db_array_add(&a, "");
	ck_assert_str_eq(db_array_text(&a), "{\"a\",NULL,\"NULL\",\"\"}");
	ck_assert_uint_eq(a.n, 4);
	db_array_free(&a);
}
END_TEST

/* What would end an element or the array early is escaped; what an
 * unquoted element could not hold is kept as it is. */
START_TEST(test_escapes)
{
	struct db_array a = { 0 };

	db_array_add(&a, "say \"hi\"");
	db_array_add(&a, "back\\slash\\");
	db_array_add(&a, "{brace},comma \t Zo\xc3\xab");
	db_array_add(&a, "\"");
	ck_assert_str_eq(db_array_text(&a),
	    "{\"say \\\"hi\\\"\",\"back\\\\slash\\\\\",\"{brace},comma \t Zo\xc3\xab\",\"\\\"\"}");
	db_array_free(&a);
}
END_TEST

/* Cleared, it builds the next array in the same storage; the text of a
 * closed array can be taken again, and more added after it. */
START_TEST(test_reuse)
{
	struct db_array a = { 0 };
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 100; i++)
		db_array_add(&a, big);
	ck_assert_uint_eq(strlen(db_array_text(&a)), 2 + 100 * (sizeof(big) - 1 + 2) + 99);
	db_array_clear(&a);
	db_array_add(&a, "1");
	ck_assert_str_eq(db_array_text(&a), "{\"1\"}");
	ck_assert_str_eq(db_array_text(&a), "{\"1\"}");
	db_array_add(&a, "2");
	ck_assert_str_eq(db_array_text(&a), "{\"1\",\"2\"}");
	db_array_free(&a);
	ck_assert_ptr_null(a.s);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("array");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_elements_quoted);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_reuse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
