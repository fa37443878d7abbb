/* check_idempotency: the command hash against digests Python computes, and
 * the list cursor format. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "corad/cursor.h"
#include "corad/idempotency.h"
#include "tap_main.h"

/* Inputs as JSON text (json-c decodes the escapes), with what Python's
 * json.dumps(cmd, sort_keys=True) prints and its SHA-256. */
static const struct {
	const char *input;
	const char *python;
	const char *sha256;
} cases[] = {
	{ "{\"name\":\"Ada\",\"kind\":\"human\"}",
	  "{\"kind\": \"human\", \"name\": \"Ada\"}",
	  "0586c4d7274f2c5285d8830c63c2ed6cc9ca3aa1f0c8e795ce4eb976f3dbfdf9" },
	{ "{\"name\":\"Zo\\u00eb \\u674e\",\"kind\":\"service_account\"}",
	  "{\"kind\": \"service_account\", \"name\": \"Zo\\u00eb \\u674e\"}",
	  "5e1a1646b6d2db5414efe961f34bc99f3451211a97023c2e505aa351fc900268" },
	{ "{\"name\":\"emoji \\ud83d\\ude00 tab\\t quote\\\" back\\\\ nl\\n del\\u007f ctl\\u0001 slash/\",\"kind\":\"human\"}",
	  "{\"kind\": \"human\", \"name\": \"emoji \\ud83d\\ude00 tab\\t quote\\\" back\\\\ nl\\n del\\u007f ctl\\u0001 slash/\"}",
	  "b24b1ff64314de034973a8a3be1e9ff83bbfd4a7928b48a2d0deee379f538c58" },
	{ "{\"actor_id\":\"0190a000-0000-7000-8000-000000000001\"}",
	  "{\"actor_id\": \"0190a000-0000-7000-8000-000000000001\"}",
	  "577ef07dd1485134dee79c51db09ef9ef677404fa82bf685b991e076e89828a9" },
	{ "{\"b\":[1,true,null,{\"z\":\"x\",\"a\":2}],\"a\":\"\\u00e9\"}",
	  "{\"a\": \"\\u00e9\", \"b\": [1, true, null, {\"a\": 2, \"z\": \"x\"}]}",
	  "c725168f1634760d60697899d4f463c19782fd455ac41892defcb5deac4da2de" },
};

START_TEST(test_python_dumps_and_digest)
{
	json_object *cmd = json_tokener_parse(cases[_i].input);
	char *s, hex[65];

	ck_assert_ptr_nonnull(cmd);
	s = idem_command_json(cmd);
	ck_assert_str_eq(s, cases[_i].python);
	idem_sha256_hex(s, hex);
	ck_assert_str_eq(hex, cases[_i].sha256);
	free(s);
	json_object_put(cmd);
}
END_TEST

START_TEST(test_cursor_round_trip)
{
	char cur[200], ts[40], id[UUID_STR_LEN], why[CURSOR_WHY_LEN];

	ck_assert_int_eq(cursor_encode("2026-11-26T12:49:48.987657Z",
	    "01a217e7-adbb-73ef-a987-3f2e16d3fac2", cur, sizeof(cur)), 0);
	/* base64url of the text, without padding */
	ck_assert_str_eq(cur, "MjAyNi0xMS0yNlQxMjo0OTo0OC45ODc2NTdafDAxYTIxN2U3LWFkYmItNzNlZi1hOTg3LTNmMmUxNmQzZmFjMg");
	ck_assert(cursor_decode(cur, "created_at", "actor_id", ts, id, why));
	ck_assert_str_eq(ts, "2026-11-26T12:49:48.987657Z");
	ck_assert_str_eq(id, "01a217e7-adbb-73ef-a987-3f2e16d3fac2");
}
END_TEST

/* The timestamp part: any RFC 3339 date-time with an offset, given back
 * in UTC; NULL: refused as "invalid created_at". */
static const struct {
	const char *at;
	const char *utc;
} cursor_times[] = {
	/* the original's isoformat(): +00:00, no fraction when it is zero */
	{ "2026-11-26T12:49:48+00:00", "2026-11-26T12:49:48.000000Z" },
	{ "2026-11-26T12:49:48.987657+00:00", "2026-11-26T12:49:48.987657Z" },
	{ "2026-11-26T14:49:48.5+02:00", "2026-11-26T12:49:48.500000Z" },
	{ "2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z" },
	/* dates and times the calendar does not have */
	{ "2026-13-01T00:00:00.000000Z", NULL },
	{ "2026-02-30T00:00:00.000000Z", NULL },
	{ "2025-02-29T00:00:00.000000Z", NULL },
	{ "0000-01-01T00:00:00.000000Z", NULL },
	{ "2026-01-01T24:00:00.000000Z", NULL },
	{ "2026-01-01T00:60:00.000000Z", NULL },
	{ "2026-01-01T00:00:60.000000Z", NULL },
	/* no offset: corad never guesses a time zone */
	{ "2026-01-01T00:00:00", NULL },
	{ "2026-01-01", NULL },
	{ "2026-01-01T00:00:00.000000Z ", NULL },
};

START_TEST(test_cursor_times)
{
	char cur[200], ts[40], id[UUID_STR_LEN], why[CURSOR_WHY_LEN];

	ck_assert_int_eq(cursor_encode(cursor_times[_i].at, "01a217e7-adbb-73ef-a987-3f2e16d3fac2",
	    cur, sizeof(cur)), 0);
	if (cursor_times[_i].utc == NULL) {
		ck_assert(!cursor_decode(cur, "created_at", "actor_id", ts, id, why));
		ck_assert_str_eq(why, "invalid created_at");
		return;
	}
	ck_assert_msg(cursor_decode(cur, "created_at", "actor_id", ts, id, why), "%s: %s",
	    cursor_times[_i].at, why);
	ck_assert_str_eq(ts, cursor_times[_i].utc);
	ck_assert_str_eq(id, "01a217e7-adbb-73ef-a987-3f2e16d3fac2");
}
END_TEST

START_TEST(test_cursor_url_alphabet)
{
	char cur[200];

	/* '?' and '>' bytes encode to '/' and '+' in standard base64. */
	ck_assert_int_eq(cursor_encode("?\x3f>>", "x", cur, sizeof(cur)), 0);
	ck_assert(strchr(cur, '/') == NULL && strchr(cur, '+') == NULL && strchr(cur, '=') == NULL);
	ck_assert(strchr(cur, '_') != NULL || strchr(cur, '-') != NULL);
}
END_TEST

static const struct {
	const char *raw;
	const char *reason;
} bad_cursors[] = {
	{ "", "not unpadded base64url" },
	{ "a", "not unpadded base64url" },
	{ "abc=", "not unpadded base64url" },
	{ "ab+c", "not unpadded base64url" },
	{ "abc", "expected '<created_at>|<actor_id>'" },
	/* "yesterday|01a217e7-adbb-73ef-a987-3f2e16d3fac2" */
	{ "eWVzdGVyZGF5fDAxYTIxN2U3LWFkYmItNzNlZi1hOTg3LTNmMmUxNmQzZmFjMg", "invalid created_at" },
	/* "2026-11-26T12:49:48.987657Z|bob" */
	{ "MjAyNi0xMS0yNlQxMjo0OTo0OC45ODc2NTdafGJvYg", "invalid actor_id" },
};

START_TEST(test_cursor_rejects)
{
	char ts[40], id[UUID_STR_LEN], why[CURSOR_WHY_LEN];

	ck_assert(!cursor_decode(bad_cursors[_i].raw, "created_at", "actor_id", ts, id, why));
	ck_assert_str_eq(why, bad_cursors[_i].reason);
}
END_TEST

/* The header's bytes are Latin-1 characters, as Starlette reads them:
 * 1..255 of them, whatever they spell in UTF-8. */
START_TEST(test_header_key)
{
	char k255[256], k256[257], *k;

	ck_assert_str_eq((k = idem_header_key("k-1")), "k-1");
	free(k);
	ck_assert_str_eq((k = idem_header_key("caf\xe9")), "caf\xc3\xa9");	/* café */
	free(k);
	/* UTF-8's é is two characters to the original: Ã and ©. */
	ck_assert_str_eq((k = idem_header_key("caf\xc3\xa9")), "caf\xc3\x83\xc2\xa9");
	free(k);
	ck_assert_ptr_null(idem_header_key(""));
	memset(k255, 0xff, 255);
	k255[255] = '\0';
	ck_assert_int_eq(strlen((k = idem_header_key(k255))), 510);
	free(k);
	memset(k256, 'a', 256);
	k256[256] = '\0';
	ck_assert_ptr_null(idem_header_key(k256));
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("idempotency");
	TCase *tc = tcase_create("hash");

	tcase_add_loop_test(tc, test_python_dumps_and_digest, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_header_key);
	tcase_add_test(tc, test_cursor_round_trip);
	tcase_add_loop_test(tc, test_cursor_times, 0, sizeof(cursor_times) / sizeof(cursor_times[0]));
	tcase_add_test(tc, test_cursor_url_alphabet);
	tcase_add_loop_test(tc, test_cursor_rejects, 0, sizeof(bad_cursors) / sizeof(bad_cursors[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
