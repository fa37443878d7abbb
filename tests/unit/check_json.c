/* check_json: JSON input as the original's Python decoder reads it. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "corad/json.h"
#include "tap_main.h"

static json_object *
read_ok(const char *text)
{
	json_object *v = NULL;
	size_t off = 999;

	ck_assert_msg(json_read(text, strlen(text), &v, &off), "rejected at %zu: %s", off, text);
	return v;
}

static size_t
read_bad(const char *text, size_t len)
{
	json_object *v = (json_object *)1;
	size_t off = 999;

	ck_assert_msg(!json_read(text, len, &v, &off), "accepted: %s", text);
	ck_assert_ptr_null(v);
	return off;
}

/* json-c 0.16 turns some escaped surrogate pairs into U+FFFD; corad must
 * not: U+1DA00 and U+1DE00 have low bits in D800..DFFF. */
START_TEST(test_surrogate_pairs)
{
	static const struct {
		const char	*json;
		const char	*utf8;
	} cases[] = {
		{ "\"\\ud836\\ude00\"", "\xf0\x9d\xa8\x80" },	/* U+1DA00 */
		{ "\"\\uD837\\uDE00\"", "\xf0\x9d\xb8\x80" },	/* U+1DE00 */
		{ "\"a\\ud83d\\ude00b\"", "a\xf0\x9f\x98\x80" "b" },	/* U+1F600 */
		{ "\"\\\\ud836\\\\ude00\"", "\\ud836\\ude00" },	/* escaped backslashes */
		{ "\"\\u00e9\"", "\xc3\xa9" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *v = read_ok(cases[i].json);

		ck_assert(json_object_is_type(v, json_type_string));
		ck_assert_str_eq(json_object_get_string(v), cases[i].utf8);
		json_object_put(v);
	}
}
END_TEST

/* json-c would cut a key at a NUL: "name\u0000x" must stay a key of its
 * own and never replace "name". A NUL in a value is kept. */
START_TEST(test_nul_in_keys)
{
	json_object *v = read_ok("{\"name\":\"real\",\"name\\u0000x\":\"smuggled\","
	    " \"k\\u0000\" : {\"\\u0000\":\"a\\u0000b\"}, \"s\":\"\\u0000\"}");
	json_object *k, *inner;

	ck_assert(json_object_object_get_ex(v, "name", &k));
	ck_assert_str_eq(json_object_get_string(k), "real");
	ck_assert(json_object_object_get_ex(v, "name\x01x", NULL));
	ck_assert(json_object_object_get_ex(v, "k\x01", &inner));
	ck_assert(json_object_object_get_ex(inner, "\x01", &k));
	ck_assert_int_eq(json_object_get_string_len(k), 3);
	ck_assert(memcmp(json_object_get_string(k), "a\0b", 3) == 0);
	ck_assert(json_object_object_get_ex(v, "s", &k));
	ck_assert_int_eq(json_object_get_string_len(k), 1);
	ck_assert_int_eq(json_object_object_length(v), 4);
	json_object_put(v);
}
END_TEST

/* Error offsets are in the text as sent, also after a joined pair, and in
 * characters after the byte order mark, as json.loads counts them. */
START_TEST(test_offsets)
{
	const char *t = "{\"a\":\"\\ud836\\ude00\", x}";

	ck_assert_uint_eq(read_bad(t, strlen(t)), (size_t)(strchr(t, 'x') - t));
	ck_assert_uint_eq(read_bad("[1.]", 4), 3);
	ck_assert_uint_eq(read_bad("{\"a\": NaN}", 10), 6);
	ck_assert_uint_eq(read_bad("[1] x", 5), 4);
	ck_assert_uint_eq(read_bad("\xef\xbb\xbf[1,", 6), 3);	/* after a BOM */
	ck_assert_uint_eq(read_bad("\xef\xbb\xbf", 3), 0);
	ck_assert_uint_eq(read_bad("{\"n\":\"\xc3\xa9\xe2\x98\x83\",}", 14), 10);	/* é, U+2603 */
	ck_assert_uint_eq(read_bad(" \t\r\n ", 5), 5);
}
END_TEST

/* An escaped surrogate that is not half of a pair is refused where it
 * starts: json-c would turn it into U+FFFD, and two different texts into
 * one. A pair, an escaped backslash before "ud800", and U+FFFD itself pass. */
START_TEST(test_lone_surrogates)
{
	static const struct {
		const char	*json;
		size_t		 at;
	} cases[] = {
		{ "\"\\ud800\"", 1 },
		{ "\"ab\\udbff\"", 3 },
		{ "\"\\udc00\"", 1 },
		{ "\"\\ud800\\u0041\"", 1 },		/* a high one, then no low one */
		{ "\"\\ud800\\ud800\\udc00\"", 1 },
		{ "\"\\ud83d\\ude00\\ude00\"", 13 },	/* a pair, then a low one alone */
		{ "{\"k\":\"\\uDFFF\"}", 6 },
		{ "\"\\ud800", 1 },			/* cut short */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_uint_eq(read_bad(cases[i].json, strlen(cases[i].json)), cases[i].at);
	json_object_put(read_ok("\"\\\\ud800\""));
	json_object_put(read_ok("\"\\ufffd\\ud7ff\\ue000\""));
}
END_TEST

START_TEST(test_accepts)
{
	json_object *v = read_ok("\xef\xbb\xbf{\"k\": [1, 2.5, true, null, \"\\u0000\"]}");

	ck_assert(json_object_is_type(v, json_type_object));
	json_object_put(v);
	ck_assert_ptr_null(read_ok("null"));
}
END_TEST

/* As deep as Python's decoder goes (about 1,000 levels), not json-c's 32;
 * deeper is refused, not a crash. */
START_TEST(test_depth)
{
	static char text[2 * 1001 + 16];
	static const int depths[] = { 33, 1000, 1001 };
	json_object *v;
	size_t n;

	for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
		int depth = depths[d];

		n = 0;
		n += (size_t)sprintf(text, "{\"x\":");
		for (int i = 0; i < depth - 1; i++)
			text[n++] = '[';
		for (int i = 0; i < depth - 1; i++)
			text[n++] = ']';
		text[n++] = '}';
		text[n] = '\0';
		if (depth <= 1000) {
			v = read_ok(text);
			ck_assert(json_object_is_type(v, json_type_object));
			json_object_put(v);
			v = json_parse_stored(text);
			ck_assert_ptr_nonnull(v);
			json_object_put(v);
		} else {
			read_bad(text, n);
			ck_assert_ptr_null(json_parse_stored(text));
		}
	}
	/* the kept tokener of stored text reads on after a refused depth */
	v = json_parse_stored("{\"after\": [1]}");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(
	    json_object_object_get(v, "after"), 0)), 1);
	json_object_put(v);
}
END_TEST

/* One tokener serves every stored text: each parse starts afresh, a text
 * that fails leaves nothing behind for the next. */
START_TEST(test_parse_stored)
{
	json_object *v;

	for (int i = 0; i < 3; i++) {
		v = json_parse_stored("{\"actor_id\":\"a\",\"tags\":[\"x\",\"y\"]}");
		ck_assert_ptr_nonnull(v);
		ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		    "{\"actor_id\":\"a\",\"tags\":[\"x\",\"y\"]}");
		json_object_put(v);
		ck_assert_ptr_null(json_parse_stored("{\"cut\": [1, "));
		ck_assert_ptr_null(json_parse_stored(""));
	}
	v = json_parse_stored("42");	/* a top-level number ends at the NUL */
	ck_assert_int_eq(json_object_get_int(v), 42);
	json_object_put(v);
	v = json_parse_stored("[\"after\"]");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "after");
	json_object_put(v);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("read");

	tcase_add_test(tc, test_surrogate_pairs);
	tcase_add_test(tc, test_nul_in_keys);
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_lone_surrogates);
	tcase_add_test(tc, test_accepts);
	tcase_add_test(tc, test_parse_stored);
	tcase_add_test(tc, test_depth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
