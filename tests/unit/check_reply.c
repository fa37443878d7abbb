/* check_reply: error codes, reason phrases and the two JSON error shapes. */
#include <check.h>
#include <stddef.h>
#include <string.h>

#include <json-c/json.h>

#include "corad/reply.h"
#include "tap_main.h"

struct status_case {
	enum cora_err	 e;
	int		 status;
};

static const struct status_case statuses[] = {
	{ CORA_OK,			200 },
	{ CORA_ERR_BAD_REQUEST,		400 },
	{ CORA_ERR_UNAUTHENTICATED,	401 },
	{ CORA_ERR_FORBIDDEN,		403 },
	{ CORA_ERR_NOT_FOUND,		404 },
	{ CORA_ERR_METHOD,		405 },
	{ CORA_ERR_CONFLICT,		409 },
	{ CORA_ERR_TOO_LARGE,		413 },
	{ CORA_ERR_VALIDATION,		422 },
	{ CORA_ERR_UNPROCESSABLE,	422 },
	{ CORA_ERR_INTERNAL,		500 },
	{ CORA_ERR_NOT_IMPLEMENTED,	501 },
	{ CORA_ERR_UNAVAILABLE,		503 },
	{ CORA_ERR_TIMEOUT,		504 },
};

START_TEST(test_status)
{
	const struct status_case	*c = &statuses[_i];

	ck_assert_msg(cora_err_status(c->e) == c->status,
	    "cora_err_status(%d) = %d, expected %d", (int)c->e,
	    cora_err_status(c->e), c->status);
}
END_TEST

START_TEST(test_status_table_complete)
{
	/* a new code must get a row above */
	ck_assert_int_eq(sizeof statuses / sizeof statuses[0], CORA_ERR__MAX);
}
END_TEST

START_TEST(test_names)
{
	int		 e;
	const char	*name;

	for (e = 0; e < CORA_ERR__MAX; e++) {
		name = cora_err_name((enum cora_err)e);
		ck_assert_msg(name != NULL && name[0] != '\0',
		    "cora_err_name(%d) is empty", e);
	}
}
END_TEST

START_TEST(test_reason)
{
	const char	*r;

	ck_assert_str_eq(http_reason(200), "OK");
	ck_assert_str_eq(http_reason(201), "Created");
	ck_assert_str_eq(http_reason(204), "No Content");
	ck_assert_str_eq(http_reason(400), "Bad Request");
	ck_assert_str_eq(http_reason(401), "Unauthorized");
	ck_assert_str_eq(http_reason(403), "Forbidden");
	ck_assert_str_eq(http_reason(404), "Not Found");
	ck_assert_str_eq(http_reason(405), "Method Not Allowed");
	ck_assert_str_eq(http_reason(409), "Conflict");
	ck_assert_str_eq(http_reason(500), "Internal Server Error");
	ck_assert_str_eq(http_reason(501), "Not Implemented");
	ck_assert_str_eq(http_reason(503), "Service Unavailable");
	ck_assert_str_eq(http_reason(504), "Gateway Timeout");

	r = http_reason(413);
	ck_assert_msg(r != NULL && (strcmp(r, "Content Too Large") == 0 ||
	    strcmp(r, "Payload Too Large") == 0), "413: \"%s\"",
	    r ? r : "(null)");
	r = http_reason(422);
	ck_assert_msg(r != NULL && (strcmp(r, "Unprocessable Content") == 0 ||
	    strcmp(r, "Unprocessable Entity") == 0), "422: \"%s\"",
	    r ? r : "(null)");

	ck_assert_str_eq(http_reason(999), "Unknown");
	ck_assert_str_eq(http_reason(0), "Unknown");
	ck_assert_str_eq(http_reason(-1), "Unknown");
}
END_TEST

/* Serialises `body`, checks the length it reports, frees nothing. */
static const char *
serialise(json_object *body)
{
	const char	*s;
	size_t		 len = (size_t)-1;

	ck_assert_ptr_nonnull(body);
	s = reply_body_string(body, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	return s;
}

START_TEST(test_detail_exact)
{
	json_object	*body;

	body = reply_detail_new("Not Found");
	ck_assert_str_eq(serialise(body), "{\"detail\":\"Not Found\"}");
	json_object_put(body);
}
END_TEST

START_TEST(test_detail_escaping)
{
	const char	*detail = "a\"b\\c/d \xc3\xa9";
	json_object	*body, *parsed, *d;
	const char	*s;

	body = reply_detail_new(detail);
	s = serialise(body);
	ck_assert_msg(strstr(s, "\\/") == NULL, "escaped slash in %s", s);
	ck_assert_msg(strchr(s, '\n') == NULL, "not compact: %s", s);
	parsed = json_tokener_parse(s);
	ck_assert_msg(parsed != NULL, "not JSON: %s", s);
	ck_assert(json_object_is_type(parsed, json_type_object));
	ck_assert_int_eq(json_object_object_length(parsed), 1);
	ck_assert(json_object_object_get_ex(parsed, "detail", &d));
	ck_assert(json_object_is_type(d, json_type_string));
	ck_assert_str_eq(json_object_get_string(d), detail);
	json_object_put(parsed);
	json_object_put(body);
}
END_TEST

START_TEST(test_detail_control_chars)
{
	const char	*detail = "line1\nline2\ttab\x01";
	json_object	*body, *parsed, *d;
	const char	*s;

	body = reply_detail_new(detail);
	s = serialise(body);
	ck_assert_msg(strchr(s, '\n') == NULL, "raw newline in %s", s);
	parsed = json_tokener_parse(s);
	ck_assert_ptr_nonnull(parsed);
	ck_assert(json_object_object_get_ex(parsed, "detail", &d));
	ck_assert_str_eq(json_object_get_string(d), detail);
	json_object_put(parsed);
	json_object_put(body);
}
END_TEST

START_TEST(test_validation_exact)
{
	json_object	*list, *body;

	list = json_object_new_array();
	validation_add(list, "uuid_parsing", "header", "X-Principal-Id",
	    "Input should be a valid UUID, ...", json_object_new_string("xyz"));
	body = reply_validation_new(list);
	ck_assert_str_eq(serialise(body),
	    "{\"detail\":[{\"type\":\"uuid_parsing\","
	    "\"loc\":[\"header\",\"X-Principal-Id\"],"
	    "\"msg\":\"Input should be a valid UUID, ...\","
	    "\"input\":\"xyz\"}]}");
	json_object_put(body);
}
END_TEST

START_TEST(test_validation_null_input)
{
	json_object	*list, *body;

	list = json_object_new_array();
	validation_add(list, "missing", "body", "name", "Field required", NULL);
	body = reply_validation_new(list);
	ck_assert_str_eq(serialise(body),
	    "{\"detail\":[{\"type\":\"missing\","
	    "\"loc\":[\"body\",\"name\"],"
	    "\"msg\":\"Field required\","
	    "\"input\":null}]}");
	json_object_put(body);
}
END_TEST

START_TEST(test_validation_one_loc)
{
	json_object	*list, *body;

	list = json_object_new_array();
	validation_add(list, "json_invalid", "body", NULL, "JSON decode error",
	    json_object_new_object());
	body = reply_validation_new(list);
	ck_assert_str_eq(serialise(body),
	    "{\"detail\":[{\"type\":\"json_invalid\","
	    "\"loc\":[\"body\"],"
	    "\"msg\":\"JSON decode error\","
	    "\"input\":{}}]}");
	json_object_put(body);
}
END_TEST

START_TEST(test_validation_several)
{
	json_object	*list, *body;

	list = json_object_new_array();
	validation_add(list, "string_too_short", "body", "name",
	    "String should have at least 1 character", json_object_new_string(""));
	validation_add(list, "enum", "body", "kind",
	    "Input should be 'human' or 'service_account'",
	    json_object_new_int(3));
	body = reply_validation_new(list);
	ck_assert_str_eq(serialise(body),
	    "{\"detail\":["
	    "{\"type\":\"string_too_short\",\"loc\":[\"body\",\"name\"],"
	    "\"msg\":\"String should have at least 1 character\","
	    "\"input\":\"\"},"
	    "{\"type\":\"enum\",\"loc\":[\"body\",\"kind\"],"
	    "\"msg\":\"Input should be 'human' or 'service_account'\","
	    "\"input\":3}]}");
	json_object_put(body);
}
END_TEST

START_TEST(test_validation_no_escaped_slash)
{
	json_object	*list, *body;
	const char	*s;

	list = json_object_new_array();
	validation_add(list, "string_type", "query", "cursor", "a/b",
	    json_object_new_string("x/y"));
	body = reply_validation_new(list);
	s = serialise(body);
	ck_assert_msg(strstr(s, "\\/") == NULL, "escaped slash in %s", s);
	ck_assert_msg(strstr(s, "\"x/y\"") != NULL, "input lost in %s", s);
	json_object_put(body);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("reply");

	tc = tcase_create("codes");
	tcase_add_loop_test(tc, test_status, 0,
	    (int)(sizeof statuses / sizeof statuses[0]));
	tcase_add_test(tc, test_status_table_complete);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_reason);
	suite_add_tcase(s, tc);

	tc = tcase_create("bodies");
	tcase_add_test(tc, test_detail_exact);
	tcase_add_test(tc, test_detail_escaping);
	tcase_add_test(tc, test_detail_control_chars);
	tcase_add_test(tc, test_validation_exact);
	tcase_add_test(tc, test_validation_null_input);
	tcase_add_test(tc, test_validation_one_loc);
	tcase_add_test(tc, test_validation_several);
	tcase_add_test(tc, test_validation_no_escaped_slash);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
