/* check_ids: UUID parsing and formatting, UUIDv7 and UUIDv4 generation. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corad/ids.h"
#include "tap_main.h"

#define CANON	"123e4567-e89b-12d3-a456-426614174000"
#define NGEN	1000

static const uint8_t canon_bytes[16] = {
	0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
	0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00,
};

static const char *const accepted[] = {
	CANON,
	"123E4567-E89B-12D3-A456-426614174000",
	"123e4567e89b12d3a456426614174000",
	"123E4567E89B12D3A456426614174000",
	"{123e4567-e89b-12d3-a456-426614174000}",
	"{123e4567e89b12d3a456426614174000}",
	"urn:uuid:123e4567-e89b-12d3-a456-426614174000",
	"urn:uuid:123E4567-E89B-12D3-A456-426614174000",
};

static const char *const rejected[] = {
	"",
	"not-a-uuid",
	"123e4567-e89b-12d3-a456-42661417400",		/* 35 characters */
	"123e4567-e89b-12d3-a456-4266141740000",	/* 37 characters */
	"123e4567e-89b-12d3-a456-426614174000",		/* hyphen moved */
	"123e4567-e89b-12d3-a4564-26614174000",
	"123e4567-e89b-12d3-a456-42661417400g",		/* not hex */
	"g23e4567-e89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a456 426614174000",
	" 123e4567-e89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a456-426614174000 ",
	"123e4567e89b12d3a45642661417400",		/* 31 hex digits */
	"123e4567e89b12d3a4564266141740000",		/* 33 hex digits */
	"123e4567-e89b-12d3-a456-426614174000-",
	"{123e4567-e89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a456-426614174000}",
	"{123e4567-e89b-12d3-a456-426614174000]",
	"(123e4567-e89b-12d3-a456-426614174000)",
	"123e4567e89b12d3a456426614174000abc",		/* 35 hex digits */
	"123e4567e89b12d3a456426614174000abcd",		/* 36 hex digits */
	"urn:uuid:123e4567-e89b-12d3-a456-426614174000}",
	"uuid:123e4567-e89b-12d3-a456-426614174000",
	"urn:uuid:",
	"urn:uuid:not-a-uuid",
	"----------------------------------------",
	"123e4567-e89b-12d3-a456-4266141740\xc3\xa9",
};

START_TEST(test_parse_accepts)
{
	const char		*in = accepted[_i];
	uint8_t			 out[16];
	char			 text[UUID_STR_LEN];
	struct uuid_error	 err;

	memset(out, 0, sizeof out);
	memset(&err, 0, sizeof err);
	ck_assert_msg(uuid_parse_text(in, out, &err), "\"%s\" rejected: %s",
	    in, err.msg);
	ck_assert_msg(memcmp(out, canon_bytes, sizeof out) == 0,
	    "\"%s\" parsed to the wrong bytes", in);
	memset(text, 'Z', sizeof text);
	uuid_format(out, text);
	ck_assert_str_eq(text, CANON);
}
END_TEST

START_TEST(test_parse_rejects)
{
	const char		*in = rejected[_i];
	uint8_t			 out[16];
	struct uuid_error	 err;

	memset(&err, 0, sizeof err);
	ck_assert_msg(!uuid_parse_text(in, out, &err), "\"%s\" accepted", in);
	ck_assert_msg(err.msg[0] != '\0', "\"%s\": empty error message", in);
	ck_assert_msg(memchr(err.msg, '\0', sizeof err.msg) != NULL,
	    "error message not NUL-terminated");
}
END_TEST

START_TEST(test_format)
{
	uint8_t	in[16];
	char	out[UUID_STR_LEN];
	size_t	i;

	for (i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)i;
	uuid_format(in, out);
	ck_assert_str_eq(out, "00010203-0405-0607-0809-0a0b0c0d0e0f");

	memset(in, 0xff, sizeof in);
	uuid_format(in, out);
	ck_assert_str_eq(out, "ffffffff-ffff-ffff-ffff-ffffffffffff");

	memset(in, 0, sizeof in);
	uuid_format(in, out);
	ck_assert_str_eq(out, "00000000-0000-0000-0000-000000000000");

	uuid_format(canon_bytes, out);
	ck_assert_str_eq(out, CANON);
}
END_TEST

START_TEST(test_round_trip_nil)
{
	uint8_t			 b[16];
	char			 out[UUID_STR_LEN];
	struct uuid_error	 err;

	memset(b, 0xee, sizeof b);
	ck_assert(uuid_parse_text("00000000-0000-0000-0000-000000000000", b,
	    &err));
	uuid_format(b, out);
	ck_assert_str_eq(out, "00000000-0000-0000-0000-000000000000");
}
END_TEST

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
v7_ms(const uint8_t u[16])
{
	uint64_t	ms = 0;
	int		i;

	for (i = 0; i < 6; i++)
		ms = ms << 8 | u[i];
	return ms;
}

START_TEST(test_v7_layout)
{
	uint8_t		u[16];
	uint64_t	before, after, ms;

	before = now_ms();
	uuid_make_v7(u);
	after = now_ms();
	ck_assert_msg(u[6] >> 4 == 7, "version nibble %u", u[6] >> 4);
	ck_assert_msg((u[8] & 0xc0) == 0x80, "variant bits %02x", u[8] & 0xc0);
	ms = v7_ms(u);
	ck_assert_msg(ms + 1000 >= before && ms <= after + 1000,
	    "timestamp %llu ms, clock %llu..%llu ms", (unsigned long long)ms,
	    (unsigned long long)before, (unsigned long long)after);
}
END_TEST

START_TEST(test_v7_increasing)
{
	uint8_t		prev[16], cur[16];
	char		a[UUID_STR_LEN], b[UUID_STR_LEN];
	int		i;

	uuid_make_v7(prev);
	for (i = 0; i < NGEN; i++) {
		uuid_make_v7(cur);
		if (memcmp(prev, cur, sizeof cur) >= 0) {
			uuid_format(prev, a);
			uuid_format(cur, b);
			ck_abort_msg("v7 #%d not increasing: %s then %s", i, a,
			    b);
		}
		ck_assert_msg(cur[6] >> 4 == 7, "version nibble %u",
		    cur[6] >> 4);
		ck_assert_msg((cur[8] & 0xc0) == 0x80, "variant bits");
		memcpy(prev, cur, sizeof cur);
	}
}
END_TEST

static int
cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

START_TEST(test_v4)
{
	static uint8_t	ids[NGEN][16];
	int		i;

	for (i = 0; i < NGEN; i++) {
		uuid_make_v4(ids[i]);
		ck_assert_msg(ids[i][6] >> 4 == 4, "version nibble %u",
		    ids[i][6] >> 4);
		ck_assert_msg((ids[i][8] & 0xc0) == 0x80, "variant bits %02x",
		    ids[i][8] & 0xc0);
	}
	qsort(ids, NGEN, sizeof ids[0], cmp16);
	for (i = 1; i < NGEN; i++)
		ck_assert_msg(memcmp(ids[i - 1], ids[i], 16) != 0,
		    "two of %d v4 ids are equal", NGEN);
}
END_TEST

START_TEST(test_generated_parse_back)
{
	uint8_t			 u[16], back[16];
	char			 text[UUID_STR_LEN];
	struct uuid_error	 err;

	uuid_make_v7(u);
	uuid_format(u, text);
	ck_assert_uint_eq(strlen(text), 36);
	ck_assert(uuid_parse_text(text, back, &err));
	ck_assert(memcmp(u, back, 16) == 0);
	ck_assert(text[14] == '7');

	uuid_make_v4(u);
	uuid_format(u, text);
	ck_assert(uuid_parse_text(text, back, &err));
	ck_assert(memcmp(u, back, 16) == 0);
	ck_assert(text[14] == '4');
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("ids");

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_accepts, 0,
	    (int)(sizeof accepted / sizeof accepted[0]));
	tcase_add_loop_test(tc, test_parse_rejects, 0,
	    (int)(sizeof rejected / sizeof rejected[0]));
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_round_trip_nil);
	suite_add_tcase(s, tc);

	tc = tcase_create("generate");
	tcase_add_test(tc, test_v7_layout);
	tcase_add_test(tc, test_v7_increasing);
	tcase_add_test(tc, test_v4);
	tcase_add_test(tc, test_generated_parse_back);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
