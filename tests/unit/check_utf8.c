/* check_utf8: strict UTF-8, and the repair that keeps every JSON body and
 * log line valid. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "corad/utf8.h"
#include "tap_main.h"

#define R UTF8_REPLACEMENT

static const struct {
	const char	*in;
	size_t		 len;
	const char	*out;	/* NULL: already valid */
} sanitize_cases[] = {
	{ "plain ascii", 11, NULL },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, NULL },
	{ "", 0, NULL },
	{ "a\0b", 3, NULL },			/* NUL is U+0000 */
	{ "\xff", 1, R },
	{ "\xff\n", 2, R "\n" },		/* GET /actors/%FF%0A */
	{ "\xc3\x28", 2, R "(" },		/* status=%C3%28 */
	{ "\xe2", 1, R },			/* limit=%E2 */
	{ "\xe2\x82", 2, R },			/* a cut-off euro sign is one U+FFFD */
	{ "x\xe2\x82y", 4, "x" R "y" },
	{ "\xff\xfe", 2, R R },			/* two bad bytes, two replacements */
	{ "\xc0\xaf", 2, R R },			/* overlong '/': C0 never starts one */
	{ "\xe0\x80\xaf", 3, R R R },		/* overlong: E0 80 is no prefix */
	{ "\xed\xa0\x80", 3, R R R },		/* a surrogate */
	{ "\xf4\x90\x80\x80", 4, R R R R },	/* above U+10FFFF */
	{ "\xf0\x9f\x98", 3, R },		/* emoji cut short */
	{ "\xf0\x9f\x98" "A", 4, R "A" },
	{ "\x80\x80", 2, R R },			/* lone continuation bytes */
	{ "ok\xc3\xa9\xc3", 5, "ok\xc3\xa9" R },
};

START_TEST(test_sanitize)
{
	size_t olen = 12345;
	char *out = utf8_sanitize(sanitize_cases[_i].in, sanitize_cases[_i].len, &olen);

	if (sanitize_cases[_i].out == NULL) {
		ck_assert_ptr_null(out);
		ck_assert(utf8_valid(sanitize_cases[_i].in, sanitize_cases[_i].len));
		return;
	}
	ck_assert(!utf8_valid(sanitize_cases[_i].in, sanitize_cases[_i].len));
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(olen, strlen(sanitize_cases[_i].out));
	ck_assert_mem_eq(out, sanitize_cases[_i].out, olen);
	ck_assert_int_eq(out[olen], '\0');
	ck_assert(utf8_valid(out, olen));
	free(out);
}
END_TEST

/* Every byte string of up to three bytes comes out valid. */
START_TEST(test_sanitize_exhaustive)
{
	unsigned char b[3];

	for (unsigned v = 0; v < (1u << 24); v += 7) {
		size_t olen;
		char *out;

		b[0] = (unsigned char)(v >> 16);
		b[1] = (unsigned char)(v >> 8);
		b[2] = (unsigned char)v;
		out = utf8_sanitize((const char *)b, 3, &olen);
		if (out == NULL)
			ck_assert(utf8_valid((const char *)b, 3));
		else {
			ck_assert(utf8_valid(out, olen));
			free(out);
		}
	}
}
END_TEST

/* Validation reads ASCII eight bytes at a time: a bad byte or a sequence
 * at any offset against those words is found, and only it is replaced. */
START_TEST(test_word_offsets)
{
	char buf[40], want[48];
	size_t olen;
	char *out;

	for (size_t off = 0; off + 3 <= sizeof(buf); off++) {
		memset(buf, 'a', sizeof(buf));
		memcpy(buf + off, "\xe2\x82\xac", 3);	/* a euro sign */
		ck_assert_msg(utf8_valid(buf, sizeof(buf)), "euro sign at %zu", off);
		buf[off + 2] = 'a';			/* cut short */
		out = utf8_sanitize(buf, sizeof(buf), &olen);
		ck_assert_ptr_nonnull(out);
		memset(want, 'a', sizeof(want));
		memcpy(want + off, R, 3);
		ck_assert_uint_eq(olen, sizeof(buf) + 1);
		ck_assert_mem_eq(out, want, olen);
		free(out);
	}
	for (size_t off = 0; off < sizeof(buf); off++) {
		memset(buf, 'a', sizeof(buf));
		buf[off] = (char)0xff;
		ck_assert_msg(!utf8_valid(buf, sizeof(buf)), "0xff at %zu", off);
		ck_assert_msg(utf8_valid(buf, off), "the %zu bytes before it", off);
	}
}
END_TEST

START_TEST(test_copy)
{
	char dst[8];

	utf8_copy(dst, sizeof(dst), "GET");
	ck_assert_str_eq(dst, "GET");
	/* Cut at a character boundary, never inside one. */
	utf8_copy(dst, sizeof(dst), "ab\xc3\xa9\xc3\xa9\xc3\xa9");
	ck_assert_str_eq(dst, "ab\xc3\xa9\xc3\xa9");
	utf8_copy(dst, sizeof(dst), "abcdef\xe2\x82\xac");
	ck_assert_str_eq(dst, "abcdef");
	/* Invalid bytes become U+FFFD, which must fit whole. */
	utf8_copy(dst, sizeof(dst), "\xff" "a");
	ck_assert_str_eq(dst, R "a");
	utf8_copy(dst, sizeof(dst), "abcde\xff");
	ck_assert_str_eq(dst, "abcde");
	utf8_copy(dst, 1, "abc");
	ck_assert_str_eq(dst, "");
	ck_assert(utf8_valid(dst, strlen(dst)));
}
END_TEST

/* Every code point is written as the sequence that reads back as it. */
START_TEST(test_encode)
{
	char buf[4];

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;	/* surrogates are no characters */
		n = utf8_encode(cp, buf);
		ck_assert_uint_eq(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
		ck_assert_uint_eq(utf8_seq_len((const unsigned char *)buf, n), n);
		ck_assert_uint_eq(utf8_decode((const unsigned char *)buf, n), cp);
	}
}
END_TEST

START_TEST(test_seq_len)
{
	ck_assert_uint_eq(utf8_seq_len((const unsigned char *)"a", 1), 1);
	ck_assert_uint_eq(utf8_seq_len((const unsigned char *)"\xc3\xa9", 2), 2);
	ck_assert_uint_eq(utf8_seq_len((const unsigned char *)"\xc3\xa9", 1), 0);
	ck_assert_uint_eq(utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	ck_assert_uint_eq(utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	ck_assert_uint_eq(utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 3), 0);
	ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4), 0x1f600);
	ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3), 0x20ac);
}
END_TEST

/* What Python's repr() gives for each (checked against CPython 3.11). */
static const struct {
	const char	*in;
	size_t		 len;
	const char	*repr;
} reprs[] = {
	{ "   ", 3, "'   '" },
	{ "\t\n\r\\", 4, "'\\t\\n\\r\\\\'" },
	{ "it's", 4, "\"it's\"" },
	{ "a\"b'c", 5, "'a\"b\\'c'" },
	{ "\xc2\xa0", 2, "'\\xa0'" },
	{ "\xe2\x80\xa8", 3, "'\\u2028'" },
	{ "\x7f\xc2\x85\xe2\x80\x8b\xf3\xa0\x80\x81", 10, "'\\x7f\\x85\\u200b\\U000e0001'" },
	{ "\xee\x80\x80\xf4\x8f\xbf\xbe\xef\xbb\xbf\xc2\xad \xc3\xa9", 15,
	  "'\\ue000\\U0010fffe\\ufeff\\xad \xc3\xa9'" },
	{ "a\0b", 3, "'a\\x00b'" },
	/* Not UTF-8 (never a Python str): the byte in \x form. */
	{ "\xff", 1, "'\\xff'" },
};

START_TEST(test_py_repr)
{
	char *got = utf8_py_repr(reprs[_i].in, reprs[_i].len);

	ck_assert_str_eq(got, reprs[_i].repr);
	free(got);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("sanitize");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_sanitize, 0,
	    (int)(sizeof(sanitize_cases) / sizeof(sanitize_cases[0])));
	tcase_add_test(tc, test_sanitize_exhaustive);
	tcase_add_test(tc, test_word_offsets);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_seq_len);
	tcase_add_test(tc, test_encode);
	tcase_add_loop_test(tc, test_py_repr, 0, sizeof(reprs) / sizeof(reprs[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
