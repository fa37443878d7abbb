/* check_rfc3339: reading a client's date-time, writing ours. */
#include <check.h>
#include <string.h>

#include "corad/rfc3339.h"
#include "tap_main.h"

static const struct {
	const char	*in;
	int64_t		 unix_us;
	int		 offset_min;
	bool		 has_offset;
	const char	*iso;	/* isoformat in the writer's offset ("" when naive) */
} good[] = {
	{ "1970-01-01T00:00:00Z", 0, 0, true, "1970-01-01T00:00:00+00:00" },
	{ "2030-01-01T10:00:00+02:00", INT64_C(1893484800000000), 120, true,
	  "2030-01-01T10:00:00+02:00" },
	{ "2030-01-01t08:00:00.5z", INT64_C(1893484800500000), 0, true,
	  "2030-01-01T08:00:00.500000+00:00" },
	{ "2030-01-01 03:30:00.000001-04:30", INT64_C(1893484800000001), -270, true,
	  "2030-01-01T03:30:00.000001-04:30" },
	/* Fractions past microseconds are cut, not rounded. */
	{ "2030-01-01T08:00:00,1234569Z", INT64_C(1893484800123456), 0, true,
	  "2030-01-01T08:00:00.123456+00:00" },
	{ "2024-02-29T23:59:59Z", INT64_C(1709251199000000), 0, true, "2024-02-29T23:59:59+00:00" },
	{ "1969-12-31T23:59:59.5Z", INT64_C(-500000), 0, true, "1969-12-31T23:59:59.500000+00:00" },
	{ "2030-01-01T08:00Z", INT64_C(1893484800000000), 0, true, "2030-01-01T08:00:00+00:00" },
	{ "9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999), 0, true,
	  "9999-12-31T23:59:59.999999+00:00" },
	{ "0001-01-01T01:00:00+01:00", INT64_C(-62135596800000000), 60, true,
	  "0001-01-01T01:00:00+01:00" },
	/* Naive: read (the caller decides), no offset. */
	{ "2030-01-01", INT64_C(1893456000000000), 0, false, "" },
	{ "2030-01-01T08:00:00", INT64_C(1893484800000000), 0, false, "" },
};

START_TEST(test_parse_good)
{
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN], iso[40];

	ck_assert_msg(rfc3339_parse(good[_i].in, strlen(good[_i].in), &t, why), "%s: %s",
	    good[_i].in, why);
	ck_assert_int_eq(t.unix_us, good[_i].unix_us);
	ck_assert_int_eq(t.offset_min, good[_i].offset_min);
	ck_assert_int_eq(t.has_offset, good[_i].has_offset);
	if (t.has_offset) {
		rfc3339_isoformat(&t, iso);
		ck_assert_str_eq(iso, good[_i].iso);
	}
}
END_TEST

static const struct {
	const char	*in;
	const char	*why;
} bad[] = {
	{ "", "input is too short" },
	{ "2030-01", "input is too short" },
	{ "20x0-01-01", "invalid character in year" },
	{ "2030/01/01", "invalid date separator, expected `-`" },
	{ "2030-13-01", "month value is outside expected range of 1-12" },
	{ "2030-02-29", "day value is outside expected range" },
	{ "2030-04-31", "day value is outside expected range" },
	{ "0000-01-01", "year value is outside expected range of 1-9999" },
	{ "2030-01-01X08:00", "invalid datetime separator, expected `T`, `t` or space" },
	{ "2030-01-01T24:00:00Z", "hour value is outside expected range of 0-23" },
	{ "2030-01-01T08:60:00Z", "minute value is outside expected range of 0-59" },
	{ "2030-01-01T08:00:60Z", "second value is outside expected range of 0-59" },
	{ "2030-01-01T08-00:00Z", "invalid time separator, expected `:`" },
	{ "2030-01-01T08:00:00.Z", "invalid character in second fraction" },
	{ "2030-01-01T08:00:00.", "input is too short" },
	{ "2030-01-01T08:00:00#01:00", "invalid timezone sign" },
	{ "2030-01-01T08:00:00+24:00", "timezone offset must be less than 24 hours" },
	{ "2030-01-01T08:00:00+0100", "invalid timezone minute" },
	{ "2030-01-01T08:00:00Zjunk", "unexpected extra characters at the end of the input" },
	{ "1893484800", "invalid date separator, expected `-`" },
	/* Valid as written, but not a time of years 1..9999 in UTC. */
	{ "9999-12-31T23:00:00-12:00", "the instant is outside years 1-9999 in UTC" },
	{ "0001-01-01T00:30:00+01:00", "the instant is outside years 1-9999 in UTC" },
};

START_TEST(test_parse_bad)
{
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN];

	ck_assert_msg(!rfc3339_parse(bad[_i].in, strlen(bad[_i].in), &t, why), "%s", bad[_i].in);
	ck_assert_str_eq(why, bad[_i].why);
}
END_TEST

START_TEST(test_parse_length_is_authoritative)
{
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN];

	/* A NUL inside, or bytes past len, are not read as more input. */
	ck_assert(!rfc3339_parse("2030-01-01T08:00:00Z\0", 21, &t, why));
	ck_assert_str_eq(why, "unexpected extra characters at the end of the input");
	ck_assert(rfc3339_parse("2030-01-01T08:00:00Zjunk", 20, &t, why));
}
END_TEST

START_TEST(test_utc)
{
	char out[40];

	rfc3339_utc(INT64_C(1893484800000001), out);
	ck_assert_str_eq(out, "2030-01-01T08:00:00.000001Z");
	rfc3339_utc(INT64_C(-500000), out);
	ck_assert_str_eq(out, "1969-12-31T23:59:59.500000Z");
	rfc3339_utc(0, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00.000000Z");
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("rfc3339");
	TCase *tc = tcase_create("rfc3339");

	tcase_add_loop_test(tc, test_parse_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_parse_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_parse_length_is_authoritative);
	tcase_add_test(tc, test_utc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
