/* check_body: the request body limit. */
#include <check.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "corad/body.h"
#include "tap_main.h"

/*
 * A fake connection: serves `len` bytes of `data`, at most `chunk` bytes per
 * call (0: as many as asked), and fails with -1 once `fail_after` bytes have
 * been served (when fail_after >= 0).
 */
struct fake_reader {
	const char	*data;
	size_t		 len;
	size_t		 pos;		/* bytes handed out so far */
	size_t		 chunk;
	long		 fail_after;
	unsigned	 calls;
	unsigned	 calls_after_eof;
};

static ssize_t
fake_read(void *ctx, char *buf, size_t n)
{
	struct fake_reader	*r = ctx;
	size_t			 k;

	r->calls++;
	if (r->fail_after >= 0 && r->pos >= (size_t)r->fail_after)
		return -1;
	if (r->pos == r->len) {
		r->calls_after_eof++;
		return 0;
	}
	k = r->len - r->pos;
	if (k > n)
		k = n;
	if (r->chunk != 0 && k > r->chunk)
		k = r->chunk;
	if (r->fail_after >= 0 && r->pos + k > (size_t)r->fail_after)
		k = (size_t)r->fail_after - r->pos;
	memcpy(buf, r->data + r->pos, k);
	r->pos += k;
	return (ssize_t)k;
}

/* A body of n bytes with every byte value, NUL included. */
static char *
make_body(size_t n)
{
	char	*p;
	size_t	 i;

	p = malloc(n == 0 ? 1 : n);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		p[i] = (char)(i * 31 + 7);
	return p;
}

static void
reader_init(struct fake_reader *r, const char *data, size_t len, size_t chunk)
{
	memset(r, 0, sizeof *r);
	r->data = data;
	r->len = len;
	r->chunk = chunk;
	r->fail_after = -1;
}

/* Stands for "not written yet": a verdict other than BODY_OK must reset it. */
static char untouched_marker;

START_TEST(test_length_absent)
{
	long long	d = 12345;

	ck_assert_int_eq(body_check_length(NULL, 100, &d), BODY_OK);
	ck_assert_int_eq(d, -1);
	d = 12345;
	ck_assert_int_eq(body_check_length("", 100, &d), BODY_OK);
	ck_assert_int_eq(d, -1);
}
END_TEST

START_TEST(test_length_within)
{
	long long	d = -7;

	ck_assert_int_eq(body_check_length("100", 100, &d), BODY_OK);
	ck_assert_int_eq(d, 100);
	ck_assert_int_eq(body_check_length("0", 100, &d), BODY_OK);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(body_check_length("99", 100, &d), BODY_OK);
	ck_assert_int_eq(d, 99);
	ck_assert_int_eq(body_check_length("1048576", 1048576, &d), BODY_OK);
	ck_assert_int_eq(d, 1048576);
}
END_TEST

START_TEST(test_length_too_large)
{
	long long	d = -7;

	ck_assert_int_eq(body_check_length("101", 100, &d), BODY_TOO_LARGE);
	ck_assert_int_eq(d, 101);
	ck_assert_int_eq(body_check_length("1048577", 1048576, &d),
	    BODY_TOO_LARGE);
	ck_assert_int_eq(d, 1048577);
	ck_assert_int_eq(body_check_length("1", 0, &d), BODY_TOO_LARGE);
	ck_assert_int_eq(d, 1);
	ck_assert_int_eq(body_check_length("9223372036854775807", 100, &d),
	    BODY_TOO_LARGE);
	/* Past long long: over any limit, not malformed. */
	ck_assert_int_eq(body_check_length("99999999999999999999999", 100, &d),
	    BODY_TOO_LARGE);
	ck_assert(d == LLONG_MAX);
}
END_TEST

static const char *const bad_lengths[] = {
	"abc",
	"-1",
	"12x",
	"99999999999999999999999x",
	"x12",
	"1.5",
};

START_TEST(test_length_bad)
{
	long long	d;

	ck_assert_msg(body_check_length(bad_lengths[_i], 100, &d) ==
	    BODY_BAD_LENGTH, "CONTENT_LENGTH \"%s\" not BODY_BAD_LENGTH",
	    bad_lengths[_i]);
}
END_TEST

START_TEST(test_read_exact_limit)
{
	static const size_t	 chunks[] = { 7, 1, 0 };
	const long		 limit = 100;
	struct fake_reader	 r;
	char			*data, *out;
	size_t			 got, i;

	data = make_body((size_t)limit);
	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		reader_init(&r, data, (size_t)limit, chunks[i]);
		out = &untouched_marker;
		got = 999;
		ck_assert_int_eq(body_read_limited(fake_read, &r, limit, &out,
		    &got), BODY_OK);
		ck_assert_uint_eq(got, (size_t)limit);
		ck_assert_ptr_nonnull(out);
		ck_assert_ptr_ne(out, &untouched_marker);
		ck_assert_msg(out[limit] == '\0', "body not NUL-terminated");
		ck_assert_msg(memcmp(out, data, (size_t)limit) == 0,
		    "body differs from what was sent (chunk %zu)", chunks[i]);
		ck_assert_uint_eq(r.pos, (size_t)limit);
		free(out);
	}
	free(data);
}
END_TEST

START_TEST(test_read_under_limit)
{
	const long		 limit = 1000;
	struct fake_reader	 r;
	char			*data, *out = NULL;
	size_t			 got = 0;

	data = make_body(333);
	reader_init(&r, data, 333, 7);
	ck_assert_int_eq(body_read_limited(fake_read, &r, limit, &out, &got),
	    BODY_OK);
	ck_assert_uint_eq(got, 333);
	ck_assert_ptr_nonnull(out);
	ck_assert(out[333] == '\0');
	ck_assert(memcmp(out, data, 333) == 0);
	free(out);
	free(data);
}
END_TEST

START_TEST(test_read_one_over)
{
	static const size_t	 chunks[] = { 7, 1, 0 };
	const long		 limit = 100;
	struct fake_reader	 r;
	char			*data, *out;
	size_t			 got, i;

	data = make_body((size_t)limit + 1);
	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		reader_init(&r, data, (size_t)limit + 1, chunks[i]);
		out = &untouched_marker;
		got = 0;
		ck_assert_int_eq(body_read_limited(fake_read, &r, limit, &out,
		    &got), BODY_TOO_LARGE);
		ck_assert_uint_eq(got, (size_t)limit + 1);
		ck_assert_ptr_null(out);
		ck_assert_uint_le(r.pos, (size_t)limit + 1);
	}
	free(data);
}
END_TEST

START_TEST(test_read_far_over)
{
	static const size_t	 chunks[] = { 7, 1, 0 };
	const long		 limit = 100;
	const size_t		 len = 100000;
	struct fake_reader	 r;
	char			*data, *out;
	size_t			 got, i;

	data = make_body(len);
	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		reader_init(&r, data, len, chunks[i]);
		out = &untouched_marker;
		got = 0;
		ck_assert_int_eq(body_read_limited(fake_read, &r, limit, &out,
		    &got), BODY_TOO_LARGE);
		ck_assert_uint_eq(got, (size_t)limit + 1);
		ck_assert_ptr_null(out);
		ck_assert_msg(r.pos <= (size_t)limit + 1,
		    "read %zu bytes with limit %ld (chunk %zu)", r.pos, limit,
		    chunks[i]);
	}
	free(data);
}
END_TEST

START_TEST(test_read_empty)
{
	struct fake_reader	 r;
	char			*out = &untouched_marker;
	size_t			 got = 999;

	reader_init(&r, "", 0, 7);
	ck_assert_int_eq(body_read_limited(fake_read, &r, 100, &out, &got),
	    BODY_OK);
	ck_assert_uint_eq(got, 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_ne(out, &untouched_marker);
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(test_read_limit_zero)
{
	struct fake_reader	 r;
	char			*out = &untouched_marker;
	size_t			 got = 0;

	reader_init(&r, "x", 1, 7);
	ck_assert_int_eq(body_read_limited(fake_read, &r, 0, &out, &got),
	    BODY_TOO_LARGE);
	ck_assert_uint_eq(got, 1);
	ck_assert_ptr_null(out);
	ck_assert_uint_le(r.pos, 1);

	reader_init(&r, "", 0, 7);
	out = &untouched_marker;
	got = 999;
	ck_assert_int_eq(body_read_limited(fake_read, &r, 0, &out, &got),
	    BODY_OK);
	ck_assert_uint_eq(got, 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_ne(out, &untouched_marker);
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(test_read_error_at_once)
{
	struct fake_reader	 r;
	char			*out = &untouched_marker;
	size_t			 got = 0;

	reader_init(&r, "hello", 5, 7);
	r.fail_after = 0;
	ck_assert_int_eq(body_read_limited(fake_read, &r, 100, &out, &got),
	    BODY_IO_ERROR);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_read_error_midway)
{
	struct fake_reader	 r;
	char			*data, *out = &untouched_marker;
	size_t			 got = 0;

	data = make_body(500);
	reader_init(&r, data, 500, 7);
	r.fail_after = 50;
	ck_assert_int_eq(body_read_limited(fake_read, &r, 1000, &out, &got),
	    BODY_IO_ERROR);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(r.pos, 50);
	free(data);
}
END_TEST

START_TEST(test_read_large_body)
{
	const long		 limit = 1048576;
	struct fake_reader	 r;
	char			*data, *out = NULL;
	size_t			 got = 0;

	data = make_body((size_t)limit);
	reader_init(&r, data, (size_t)limit, 4096);
	ck_assert_int_eq(body_read_limited(fake_read, &r, limit, &out, &got),
	    BODY_OK);
	ck_assert_uint_eq(got, (size_t)limit);
	ck_assert_ptr_nonnull(out);
	ck_assert(out[limit] == '\0');
	ck_assert(memcmp(out, data, (size_t)limit) == 0);
	free(out);
	free(data);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("body");

	tc = tcase_create("content_length");
	tcase_add_test(tc, test_length_absent);
	tcase_add_test(tc, test_length_within);
	tcase_add_test(tc, test_length_too_large);
	tcase_add_loop_test(tc, test_length_bad, 0,
	    (int)(sizeof bad_lengths / sizeof bad_lengths[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("read_limited");
	tcase_add_test(tc, test_read_exact_limit);
	tcase_add_test(tc, test_read_under_limit);
	tcase_add_test(tc, test_read_one_over);
	tcase_add_test(tc, test_read_far_over);
	tcase_add_test(tc, test_read_empty);
	tcase_add_test(tc, test_read_limit_zero);
	tcase_add_test(tc, test_read_error_at_once);
	tcase_add_test(tc, test_read_error_midway);
	tcase_add_test(tc, test_read_large_body);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
