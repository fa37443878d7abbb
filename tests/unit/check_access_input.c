/* check_access_input: the POST /actors body rules and the UTF-8 helpers. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "access/input.h"
#include "corad/utf8.h"
#include "corad/reply.h"
#include "tap_main.h"

/* A string literal and its length (embedded NULs included). */
#define B(s)	s, sizeof(s) - 1

#define JSON_INVALID(pos) \
	"[{\"type\":\"json_invalid\",\"loc\":[\"body\"," #pos "]," \
	"\"msg\":\"JSON decode error\",\"input\":{}}]"
#define NOT_OBJECT(input) \
	"[{\"type\":\"model_attributes_type\",\"loc\":[\"body\"]," \
	"\"msg\":\"Input should be a valid dictionary or object to extract " \
	"fields from\",\"input\":" input "}]"
#define E_MISSING(input) \
	"{\"type\":\"missing\",\"loc\":[\"body\",\"name\"]," \
	"\"msg\":\"Field required\",\"input\":" input "}"
#define E_STRING_TYPE(input) \
	"{\"type\":\"string_type\",\"loc\":[\"body\",\"name\"]," \
	"\"msg\":\"Input should be a valid string\",\"input\":" input "}"
#define E_TOO_SHORT \
	"{\"type\":\"string_too_short\",\"loc\":[\"body\",\"name\"]," \
	"\"msg\":\"String should have at least 1 character\",\"input\":\"\"}"
#define E_TOO_LONG_HEAD \
	"[{\"type\":\"string_too_long\",\"loc\":[\"body\",\"name\"]," \
	"\"msg\":\"String should have at most 200 characters\",\"input\":\""
#define E_ENUM(input) \
	"{\"type\":\"enum\",\"loc\":[\"body\",\"kind\"]," \
	"\"msg\":\"Input should be 'human', 'service_account' or 'agent'\"," \
	"\"input\":" input "}"

#define MSG_TRIM	"Actor name must be 1-200 chars after trimming"
#define MSG_NUL		"Actor name must not contain NUL characters"
#define MSG_AGENT	"Actor kind 'agent' cannot be registered through this API"

/* Serialises an error list the way replies do (compact, no "\/"). */
static const char *
errors_string(json_object *errors)
{
	ck_assert_ptr_nonnull(errors);
	ck_assert(json_object_is_type(errors, json_type_array));
	return json_object_to_json_string_ext(errors,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void
check_422(const char *body, size_t len, const char *expected)
{
	struct register_cmd	 cmd = { (char *)"garbage", ACTOR_KIND_AGENT };
	json_object		*errors = (json_object *)&cmd;
	char			 detail[128] = "garbage";
	enum cora_err		 e;

	e = register_parse(body, len, &cmd, &errors, detail, sizeof detail);
	ck_assert_msg(e == CORA_ERR_VALIDATION, "body %.*s: got %s",
	    (int)len, body, cora_err_name(e));
	ck_assert_ptr_null(cmd.name);
	ck_assert_str_eq(detail, "");
	ck_assert_str_eq(errors_string(errors), expected);
	json_object_put(errors);
	register_cmd_free(&cmd);
}

static void
check_400(const char *body, size_t len, const char *expected)
{
	struct register_cmd	 cmd;
	json_object		*errors = (json_object *)&cmd;
	char			 detail[128];
	enum cora_err		 e;

	e = register_parse(body, len, &cmd, &errors, detail, sizeof detail);
	ck_assert_msg(e == CORA_ERR_BAD_REQUEST, "body %.*s: got %s",
	    (int)len, body, cora_err_name(e));
	ck_assert_ptr_null(cmd.name);
	ck_assert_ptr_null(errors);
	ck_assert_str_eq(detail, expected);
	register_cmd_free(&cmd);
}

static void
check_ok(const char *body, size_t len, const char *name, size_t nlen,
    enum actor_kind kind)
{
	struct register_cmd	 cmd;
	json_object		*errors = (json_object *)&cmd;
	char			 detail[128] = "garbage";
	enum cora_err		 e;

	e = register_parse(body, len, &cmd, &errors, detail, sizeof detail);
	ck_assert_msg(e == CORA_OK, "body %.*s: got %s %s", (int)len, body,
	    cora_err_name(e), e == CORA_ERR_VALIDATION ?
	    errors_string(errors) : detail);
	ck_assert_ptr_null(errors);
	ck_assert_ptr_nonnull(cmd.name);
	ck_assert_uint_eq(strlen(cmd.name), nlen);
	ck_assert_msg(memcmp(cmd.name, name, nlen) == 0, "name \"%s\"",
	    cmd.name);
	ck_assert_int_eq(cmd.kind, kind);
	ck_assert(utf8_valid(cmd.name, strlen(cmd.name)));
	register_cmd_free(&cmd);
	ck_assert_ptr_null(cmd.name);
	register_cmd_free(&cmd);	/* twice is harmless */
}

/* prefix + count x unit + suffix, NUL-terminated, owned by the caller. */
static char *
repeat(const char *prefix, const char *unit, size_t count, const char *suffix,
    size_t *len)
{
	size_t	 plen = strlen(prefix), ulen = strlen(unit);
	size_t	 slen = strlen(suffix), i;
	char	*s, *p;

	*len = plen + ulen * count + slen;
	s = malloc(*len + 1);
	ck_assert_ptr_nonnull(s);
	p = s;
	memcpy(p, prefix, plen);
	p += plen;
	for (i = 0; i < count; i++, p += ulen)
		memcpy(p, unit, ulen);
	memcpy(p, suffix, slen);
	p[slen] = '\0';
	return s;
}

/* Encodes one code point (< U+110000, not a surrogate); returns its length. */
static size_t
encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- actor_kind ---- */

START_TEST(test_kind_names)
{
	enum actor_kind k = ACTOR_KIND_AGENT;

	ck_assert_str_eq(actor_kind_name(ACTOR_KIND_HUMAN), "human");
	ck_assert_str_eq(actor_kind_name(ACTOR_KIND_SERVICE_ACCOUNT),
	    "service_account");
	ck_assert_str_eq(actor_kind_name(ACTOR_KIND_AGENT), "agent");
	ck_assert_ptr_null(actor_kind_name((enum actor_kind)3));
	ck_assert_ptr_null(actor_kind_name((enum actor_kind)-1));

	ck_assert_int_eq(actor_kind_parse("human", &k), 0);
	ck_assert_int_eq(k, ACTOR_KIND_HUMAN);
	ck_assert_int_eq(actor_kind_parse("service_account", &k), 0);
	ck_assert_int_eq(k, ACTOR_KIND_SERVICE_ACCOUNT);
	ck_assert_int_eq(actor_kind_parse("agent", &k), 0);
	ck_assert_int_eq(k, ACTOR_KIND_AGENT);

	k = ACTOR_KIND_SERVICE_ACCOUNT;
	ck_assert_int_eq(actor_kind_parse("Human", &k), -1);
	ck_assert_int_eq(actor_kind_parse("", &k), -1);
	ck_assert_int_eq(actor_kind_parse("human ", &k), -1);
	ck_assert_int_eq(actor_kind_parse("robot", &k), -1);
	ck_assert_int_eq(actor_kind_parse(NULL, &k), -1);
	ck_assert_int_eq(k, ACTOR_KIND_SERVICE_ACCOUNT);
}
END_TEST

START_TEST(test_cmd_free_null)
{
	struct register_cmd cmd = { NULL, ACTOR_KIND_HUMAN };

	register_cmd_free(NULL);
	register_cmd_free(&cmd);
	ck_assert_ptr_null(cmd.name);
}
END_TEST

/* ---- empty and undecodable bodies ---- */

START_TEST(test_empty_body)
{
	const char *missing = "[{\"type\":\"missing\",\"loc\":[\"body\"],"
	    "\"msg\":\"Field required\",\"input\":null}]";

	check_422(NULL, 0, missing);
	check_422("", 0, missing);
	/* whitespace is a body: JSON that ends before its value starts */
	check_422(B(" "), JSON_INVALID(1));
	check_422(B(" \t\r\n  \n"), JSON_INVALID(7));
	/* len is authoritative: the bytes past it are not read */
	check_422("{\"name\":\"Ada\"}", 0, missing);
}
END_TEST

struct body_case {
	const char	*body;
	size_t		 len;
	const char	*expected;
};

static const struct body_case invalid_json[] = {
	/* trailing garbage */
	{ B("{\"name\":\"a\"} x"), JSON_INVALID(13) },
	{ B("{\"name\":\"a\"}}"), JSON_INVALID(12) },
	{ B("{\"name\":\"a\"}{}"), JSON_INVALID(12) },
	{ B("{\"name\":\"a\"} \n\"b\""), JSON_INVALID(14) },
	{ B("{\"name\":\"a\"}\0"), JSON_INVALID(12) },
	{ B("{\"name\":\"a\"}\0{}"), JSON_INVALID(12) },
	{ B("\"str\" x"), JSON_INVALID(6) },
	{ B("1 2"), JSON_INVALID(2) },
	/* invalid UTF-8: offset of the first bad byte */
	{ B("{\"name\":\"\xff\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"Ada\xff\"}"), JSON_INVALID(12) },
	{ B("{\"name\":\"\xc0\xaf\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"\xe0\x80\xaf\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"\xed\xa0\x80\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"\xf4\x90\x80\x80\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"\xe2\x82\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"\x80\"}"), JSON_INVALID(9) },
	{ B("{\"name\":\"a\",\"kind\":\"\xfe\"}"), JSON_INVALID(20) },
	{ B("{\"x\xff\":1,\"name\":\"a\"}"), JSON_INVALID(3) },
	{ B("\xff"), JSON_INVALID(0) },
	{ B("{\"name\":\"a\"} \xc3"), JSON_INVALID(13) },
	/* not JSON */
	{ B("{"), JSON_INVALID(1) },
	{ B("{\"name\":"), JSON_INVALID(8) },
	{ B("{\"name\":}"), JSON_INVALID(8) },
	{ B("{\"a\":1,}"), JSON_INVALID(7) },
	{ B("[1,]"), JSON_INVALID(3) },
	{ B("{'name':'a'}"), JSON_INVALID(1) },
	{ B("{name:\"a\"}"), JSON_INVALID(1) },
	{ B("{\"name\":\"a\nb\"}"), JSON_INVALID(10) },
	{ B("{\"name\":\"a\0b\"}"), JSON_INVALID(10) },
	{ B("{\"name\":\"a\tb\"}"), JSON_INVALID(10) },
	{ B("{\"name\":\"\\x\"}"), JSON_INVALID(10) },
	{ B("{\"name\":1.}"), JSON_INVALID(10) },
	{ B("{\"name\":01}"), JSON_INVALID(9) },
	{ B("{\"name\":.5}"), JSON_INVALID(8) },
	{ B("{\"name\":1e}"), JSON_INVALID(10) },
	{ B("{\"name\":NaN}"), JSON_INVALID(8) },
	{ B("{\"name\":-Infinity}"), JSON_INVALID(9) },
	{ B("{\"name\":True}"), JSON_INVALID(8) },
	{ B("nul"), JSON_INVALID(0) },
	{ B("\0"), JSON_INVALID(0) },
	{ B("\0{\"name\":\"a\"}"), JSON_INVALID(0) },
	{ B("\f{}"), JSON_INVALID(0) },
	{ B("/* c */{\"name\":\"a\"}"), JSON_INVALID(0) },
};

START_TEST(test_invalid_json)
{
	const struct body_case *c = &invalid_json[_i];

	check_422(c->body, c->len, c->expected);
}
END_TEST

START_TEST(test_not_object)
{
	check_422(B("[]"), NOT_OBJECT("[]"));
	check_422(B("\"str\""), NOT_OBJECT("\"str\""));
	check_422(B("null"), NOT_OBJECT("null"));
	check_422(B("true"), NOT_OBJECT("true"));
	check_422(B("123"), NOT_OBJECT("123"));
	check_422(B("-1.5e3"), NOT_OBJECT("-1.5e3"));
	check_422(B(" [1, \"a\", {\"name\":\"x\"}] \n"),
	    NOT_OBJECT("[1,\"a\",{\"name\":\"x\"}]"));
	check_422(B("[{\"name\":\"Ada\"}]"),
	    NOT_OBJECT("[{\"name\":\"Ada\"}]"));
}
END_TEST

/* ---- field errors (422) ---- */

static const struct body_case field_errors[] = {
	/* name absent: the input is the whole body */
	{ B("{}"), "[" E_MISSING("{}") "]" },
	{ B("{\"kind\":\"human\"}"), "[" E_MISSING("{\"kind\":\"human\"}") "]" },
	{ B("{\"Name\":\"Ada\"}"), "[" E_MISSING("{\"Name\":\"Ada\"}") "]" },
	{ B("{\"nam\":\"Ada\",\"x\":[1,null]}"),
	    "[" E_MISSING("{\"nam\":\"Ada\",\"x\":[1,null]}") "]" },
	/* name not a string */
	{ B("{\"name\":5}"), "[" E_STRING_TYPE("5") "]" },
	{ B("{\"name\":-1.5}"), "[" E_STRING_TYPE("-1.5") "]" },
	{ B("{\"name\":null}"), "[" E_STRING_TYPE("null") "]" },
	{ B("{\"name\":[]}"), "[" E_STRING_TYPE("[]") "]" },
	{ B("{\"name\":[\"Ada\"]}"), "[" E_STRING_TYPE("[\"Ada\"]") "]" },
	{ B("{\"name\":{}}"), "[" E_STRING_TYPE("{}") "]" },
	{ B("{\"name\":{\"first\":\"Ada\"}}"),
	    "[" E_STRING_TYPE("{\"first\":\"Ada\"}") "]" },
	{ B("{\"name\":true}"), "[" E_STRING_TYPE("true") "]" },
	{ B("{\"name\":false}"), "[" E_STRING_TYPE("false") "]" },
	/* too short */
	{ B("{\"name\":\"\"}"), "[" E_TOO_SHORT "]" },
	{ B("{\"name\":\"\",\"kind\":\"human\"}"), "[" E_TOO_SHORT "]" },
	/* kind */
	{ B("{\"name\":\"Ada\",\"kind\":\"robot\"}"), "[" E_ENUM("\"robot\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":1}"), "[" E_ENUM("1") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":null}"), "[" E_ENUM("null") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\"Human\"}"), "[" E_ENUM("\"Human\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\"AGENT\"}"), "[" E_ENUM("\"AGENT\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\"\"}"), "[" E_ENUM("\"\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\" human\"}"),
	    "[" E_ENUM("\" human\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\"human\\u0000\"}"),
	    "[" E_ENUM("\"human\\u0000\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":[\"human\"]}"),
	    "[" E_ENUM("[\"human\"]") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":{}}"), "[" E_ENUM("{}") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":true}"), "[" E_ENUM("true") "]" },
	/* both fields wrong: all errors, name's first, whatever the key order */
	{ B("{\"name\":5,\"kind\":\"robot\"}"),
	    "[" E_STRING_TYPE("5") "," E_ENUM("\"robot\"") "]" },
	{ B("{\"kind\":\"robot\",\"name\":null}"),
	    "[" E_STRING_TYPE("null") "," E_ENUM("\"robot\"") "]" },
	{ B("{\"kind\":\"robot\"}"),
	    "[" E_MISSING("{\"kind\":\"robot\"}") "," E_ENUM("\"robot\"") "]" },
	{ B("{\"name\":\"\",\"kind\":1}"), "[" E_TOO_SHORT "," E_ENUM("1") "]" },
	/* an agent with a bad name is a 422, not the 400 */
	{ B("{\"name\":\"\",\"kind\":\"agent\"}"), "[" E_TOO_SHORT "]" },
	/* duplicate keys: the last one wins */
	{ B("{\"name\":\"Ada\",\"name\":5}"), "[" E_STRING_TYPE("5") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\"human\",\"kind\":\"x\"}"),
	    "[" E_ENUM("\"x\"") "]" },
	/* inputs are echoed as JSON (escaped, no "\/") */
	{ B("{\"name\":\"Ada\",\"kind\":\"a/b\\\"c\"}"),
	    "[" E_ENUM("\"a/b\\\"c\"") "]" },
	{ B("{\"name\":\"Ada\",\"kind\":\"Zo\xc3\xab\"}"),
	    "[" E_ENUM("\"Zo\xc3\xab\"") "]" },
};

START_TEST(test_field_errors)
{
	const struct body_case *c = &field_errors[_i];

	check_422(c->body, c->len, c->expected);
}
END_TEST

/* ---- lengths ---- */

START_TEST(test_name_200_ascii)
{
	size_t	 blen, nlen;
	char	*body = repeat("{\"name\":\"", "x", 200, "\"}", &blen);
	char	*name = repeat("", "x", 200, "", &nlen);

	check_ok(body, blen, name, nlen, ACTOR_KIND_HUMAN);
	free(body);
	free(name);
}
END_TEST

START_TEST(test_name_201_ascii)
{
	size_t	 blen, elen;
	char	*body = repeat("{\"name\":\"", "x", 201, "\"}", &blen);
	char	*expected = repeat(E_TOO_LONG_HEAD, "x", 201, "\"}]", &elen);

	check_422(body, blen, expected);
	free(body);
	free(expected);
}
END_TEST

START_TEST(test_name_200_multibyte)
{
	static const char *const units[] = {
		"\xc3\xa9",		/* é, 2 bytes */
		"\xe6\x9d\x8e",		/* 李, 3 bytes */
		"\xf0\x9f\x98\x80",	/* 😀, 4 bytes */
	};
	size_t	 blen, nlen, i;
	char	*body, *name;

	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		body = repeat("{\"name\":\"", units[i], 200, "\"}", &blen);
		name = repeat("", units[i], 200, "", &nlen);
		ck_assert_uint_eq(nlen, 200 * strlen(units[i]));
		check_ok(body, blen, name, nlen, ACTOR_KIND_HUMAN);
		free(body);
		free(name);
	}
}
END_TEST

START_TEST(test_name_201_multibyte)
{
	size_t	 blen, elen;
	char	*body = repeat("{\"name\":\"", "\xc3\xa9", 201, "\"}", &blen);
	char	*expected = repeat(E_TOO_LONG_HEAD, "\xc3\xa9", 201, "\"}]",
	    &elen);

	check_422(body, blen, expected);
	free(body);
	free(expected);
}
END_TEST

START_TEST(test_name_escaped_counts_code_points)
{
	size_t	 blen, nlen;
	char	*body, *name;

	/* \u00e9 escapes: 6 bytes sent, one code point each */
	body = repeat("{\"name\":\"", "\\u00e9", 200, "\"}", &blen);
	name = repeat("", "\xc3\xa9", 200, "", &nlen);
	check_ok(body, blen, name, nlen, ACTOR_KIND_HUMAN);
	free(body);
	free(name);
	/* a surrogate pair is one code point */
	body = repeat("{\"name\":\"", "\\ud83d\\ude00", 200, "\"}", &blen);
	name = repeat("", "\xf0\x9f\x98\x80", 200, "", &nlen);
	check_ok(body, blen, name, nlen, ACTOR_KIND_HUMAN);
	free(body);
	free(name);
}
END_TEST

START_TEST(test_name_padded_over_200)
{
	size_t	 blen, elen, nlen;
	char	*body, *expected, *name, *inner;

	/* 198 chars + 4 spaces: 202 as sent, checked before trimming */
	inner = repeat("  ", "x", 198, "  ", &nlen);
	body = repeat("{\"name\":\"", inner, 1, "\"}", &blen);
	expected = repeat(E_TOO_LONG_HEAD, inner, 1, "\"}]", &elen);
	check_422(body, blen, expected);
	free(body);
	free(expected);
	free(inner);

	/* 196 chars + 4 spaces: 200 as sent, 196 once trimmed */
	inner = repeat("  ", "x", 196, "  ", &nlen);
	body = repeat("{\"name\":\"", inner, 1, "\"}", &blen);
	name = repeat("", "x", 196, "", &nlen);
	check_ok(body, blen, name, nlen, ACTOR_KIND_HUMAN);
	free(body);
	free(name);
	free(inner);

	/* 200 spaces: fine as sent, empty once trimmed */
	body = repeat("{\"name\":\"", " ", 200, "\"}", &blen);
	check_400(body, blen, MSG_TRIM);
	free(body);
	/* 201 spaces: the 422 comes first */
	body = repeat("{\"name\":\"", " ", 201, "\"}", &blen);
	expected = repeat(E_TOO_LONG_HEAD, " ", 201, "\"}]", &elen);
	check_422(body, blen, expected);
	free(body);
	free(expected);
}
END_TEST

/* ---- accepted bodies ---- */

struct ok_case {
	const char	*body;
	size_t		 len;
	const char	*name;
	size_t		 nlen;
	enum actor_kind	 kind;
};

static const struct ok_case accepted[] = {
	{ B("{\"name\":\"Ada\"}"), B("Ada"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"Ada\",\"kind\":\"human\"}"), B("Ada"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"kind\":\"service_account\",\"name\":\"ci-bot\"}"), B("ci-bot"),
	    ACTOR_KIND_SERVICE_ACCOUNT },
	{ B("{\"name\":\"a\"}"), B("a"), ACTOR_KIND_HUMAN },
	/* JSON whitespace around the value */
	{ B(" \r\n\t{ \"name\" : \"Ada\" }\n\t \r"), B("Ada"),
	    ACTOR_KIND_HUMAN },
	/* a UTF-8 byte order mark, as Python's json.loads(bytes) allows */
	{ B("\xef\xbb\xbf{\"name\":\"Ada\"}"), B("Ada"), ACTOR_KIND_HUMAN },
	/* trimming */
	{ B("{\"name\":\"  Ada Lovelace  \"}"), B("Ada Lovelace"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\u3000Ada\\u2003\"}"), B("Ada"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\xe3\x80\x80" "Ada\xe2\x80\x83\"}"), B("Ada"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\u0085Ada\\u0085\"}"), B("Ada"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\t\\n\\r\\u000b\\u000c\\u001cAda\\u001f\"}"),
	    B("Ada"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\u00a0A\\u00a0d\\u00a0\"}"), B("A\xc2\xa0" "d"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"a\\tb\"}"), B("a\tb"), ACTOR_KIND_HUMAN },
	/* not whitespace to Python: kept */
	{ B("{\"name\":\"\\u200bAda\"}"), B("\xe2\x80\x8b" "Ada"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\xe2\x80\x8b" "Ada\"}"), B("\xe2\x80\x8b" "Ada"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\ufeffAda\\ufeff\"}"),
	    B("\xef\xbb\xbf" "Ada\xef\xbb\xbf"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\u180eAda\"}"), B("\xe1\xa0\x8e" "Ada"),
	    ACTOR_KIND_HUMAN },
	/* non-ASCII */
	{ B("{\"name\":\"Zo\xc3\xab\"}"), B("Zo\xc3\xab"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"Zo\\u00eb\"}"), B("Zo\xc3\xab"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d\"}"),
	    B("\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\xf0\x9f\x98\x80\"}"), B("\xf0\x9f\x98\x80"),
	    ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"\\ud83d\\ude00 bot\",\"kind\":\"service_account\"}"),
	    B("\xf0\x9f\x98\x80 bot"), ACTOR_KIND_SERVICE_ACCOUNT },
	{ B("{\"name\":\"a\\/b\\\\c\\\"d\"}"), B("a/b\\c\"d"),
	    ACTOR_KIND_HUMAN },
	/* unknown keys are ignored */
	{ B("{\"id\":7,\"name\":\"Ada\",\"extra\":{\"deep\":[1,2.5,{\"x\":null}]},"
	    "\"kind\":\"human\",\"active\":false}"), B("Ada"), ACTOR_KIND_HUMAN },
	/* duplicate keys: the last one wins */
	{ B("{\"name\":\"A\",\"name\":\"B\"}"), B("B"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":5,\"name\":\"B\"}"), B("B"), ACTOR_KIND_HUMAN },
	{ B("{\"name\":\"B\",\"kind\":\"robot\",\"kind\":\"service_account\"}"),
	    B("B"), ACTOR_KIND_SERVICE_ACCOUNT },
};

START_TEST(test_accepted)
{
	const struct ok_case *c = &accepted[_i];

	check_ok(c->body, c->len, c->name, c->nlen, c->kind);
}
END_TEST

/* ---- 400s ---- */

START_TEST(test_bad_request)
{
	check_400(B("{\"name\":\"   \"}"), MSG_TRIM);
	check_400(B("{\"name\":\" \"}"), MSG_TRIM);
	check_400(B("{\"name\":\"\\u0085\"}"), MSG_TRIM);
	check_400(B("{\"name\":\"\xc2\x85\"}"), MSG_TRIM);
	check_400(B("{\"name\":\"\\u3000\\u2003\\n\"}"), MSG_TRIM);
	check_400(B("{\"name\":\"\\u0000\"}"), MSG_NUL);
	check_400(B("{\"name\":\"a\\u0000b\"}"), MSG_NUL);
	check_400(B("{\"name\":\" \\u0000 \"}"), MSG_NUL);
	check_400(B("{\"name\":\"Ada\",\"kind\":\"agent\"}"), MSG_AGENT);
	check_400(B("{\"kind\":\"agent\",\"name\":\" Ada \"}"), MSG_AGENT);
	/* the order of the checks: trimming, NUL, agent */
	check_400(B("{\"name\":\"   \",\"kind\":\"agent\"}"), MSG_TRIM);
	check_400(B("{\"name\":\"\\u0000\",\"kind\":\"agent\"}"), MSG_NUL);
}
END_TEST

START_TEST(test_detail_buffer)
{
	struct register_cmd	 cmd;
	json_object		*errors;
	char			 small[6];

	ck_assert_int_eq(register_parse(B("{\"name\":\" \"}"), &cmd, &errors,
	    small, sizeof small), CORA_ERR_BAD_REQUEST);
	ck_assert_str_eq(small, "Actor");
	ck_assert_int_eq(register_parse(B("{\"name\":\" \"}"), &cmd, &errors,
	    NULL, 0), CORA_ERR_BAD_REQUEST);
	ck_assert_ptr_null(cmd.name);
	ck_assert_ptr_null(errors);
}
END_TEST

START_TEST(test_lone_surrogates)
{
	static const struct {
		const char	*body;
		size_t		 len;
		const char	*errors;	/* json_invalid where the escape starts */
	} cases[] = {
		{ B("{\"name\":\"\\ud800\"}"), JSON_INVALID(9) },
		{ B("{\"name\":\"\\udc00x\"}"), JSON_INVALID(9) },
		{ B("{\"name\":\"a\\ud800\\u0041\"}"), JSON_INVALID(10) },
		{ B("{\"name\":\"\\ude00\\ud83d\"}"), JSON_INVALID(9) },
	};
	struct register_cmd	 cmd;
	json_object		*errors;
	char			 detail[128];

	/* Refused, never stored as U+FFFD (json-c's choice) */
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(register_parse(cases[i].body, cases[i].len, &cmd, &errors,
		    detail, sizeof detail), CORA_ERR_VALIDATION);
		ck_assert_str_eq(errors_string(errors), cases[i].errors);
		json_object_put(errors);
	}
}
END_TEST

/* ---- UTF-8 helpers ---- */

struct utf8_case {
	const char	*s;
	size_t		 len;
	bool		 valid;
};

static const struct utf8_case utf8_cases[] = {
	{ B(""), true },
	{ B("a"), true },
	{ B("\0"), true },
	{ B("a\0b"), true },
	{ B("\x7f"), true },
	{ B("\xc2\x80"), true },		/* U+0080 */
	{ B("\xdf\xbf"), true },		/* U+07FF */
	{ B("\xe0\xa0\x80"), true },		/* U+0800 */
	{ B("\xed\x9f\xbf"), true },		/* U+D7FF */
	{ B("\xee\x80\x80"), true },		/* U+E000 */
	{ B("\xef\xbf\xbf"), true },		/* U+FFFF */
	{ B("\xf0\x90\x80\x80"), true },	/* U+10000 */
	{ B("\xf0\x9f\x98\x80"), true },	/* U+1F600 */
	{ B("\xf4\x8f\xbf\xbf"), true },	/* U+10FFFF */
	{ B("Zo\xc3\xab \xe6\x9d\x8e\xf0\x9f\x98\x80"), true },
	/* overlong */
	{ B("\xc0\xaf"), false },
	{ B("\xc0\x80"), false },
	{ B("\xc1\xbf"), false },
	{ B("\xe0\x80\xaf"), false },
	{ B("\xe0\x9f\xbf"), false },
	{ B("\xf0\x80\x80\xaf"), false },
	{ B("\xf0\x8f\xbf\xbf"), false },
	/* surrogates */
	{ B("\xed\xa0\x80"), false },
	{ B("\xed\xbf\xbf"), false },
	{ B("\xed\xa0\xbd\xed\xb8\x80"), false },
	/* above U+10FFFF */
	{ B("\xf4\x90\x80\x80"), false },
	{ B("\xf5\x80\x80\x80"), false },
	{ B("\xf7\xbf\xbf\xbf"), false },
	{ B("\xf8\x88\x80\x80\x80"), false },
	/* never in UTF-8 */
	{ B("\xff"), false },
	{ B("\xfe"), false },
	/* stray continuation bytes */
	{ B("\x80"), false },
	{ B("\xbf"), false },
	{ B("a\x80"), false },
	{ B("\xf0\x9f\x98\x80\x80"), false },
	/* truncated */
	{ B("\xc2"), false },
	{ B("\xe2\x82"), false },
	{ B("\xf0\x9f\x98"), false },
	{ B("a\xf0\x9f"), false },
	{ B("\xc2\x41"), false },
	{ B("\xe2\x28\xa1"), false },
	{ B("\xe2\x82\x28"), false },
	{ B("\xf0\x9f\x28\x80"), false },
};

START_TEST(test_utf8_valid)
{
	const struct utf8_case *c = &utf8_cases[_i];

	ck_assert_msg(utf8_valid(c->s, c->len) == c->valid,
	    "case %d: expected %s", _i, c->valid ? "valid" : "invalid");
}
END_TEST

START_TEST(test_utf8_valid_len)
{
	/* len is authoritative */
	ck_assert(utf8_valid("\xc3\xa9", 2));
	ck_assert(!utf8_valid("\xc3\xa9", 1));
	ck_assert(utf8_valid("ab\xff", 2));
	ck_assert(utf8_valid(NULL, 0));
}
END_TEST

START_TEST(test_utf8_codepoints)
{
	ck_assert_uint_eq(utf8_codepoints("", 0), 0);
	ck_assert_uint_eq(utf8_codepoints(B("abc")), 3);
	ck_assert_uint_eq(utf8_codepoints(B("a\0b")), 3);
	ck_assert_uint_eq(utf8_codepoints(B("Zo\xc3\xab")), 3);
	ck_assert_uint_eq(utf8_codepoints(B("\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d")),
	    3);
	ck_assert_uint_eq(utf8_codepoints(B("\xf0\x9f\x98\x80")), 1);
	ck_assert_uint_eq(utf8_codepoints(B("\xe2\x80\x8b" "Ada\xef\xbb\xbf")),
	    5);
	ck_assert_uint_eq(utf8_codepoints(B("\xf4\x8f\xbf\xbf\xc2\x80\x7f")),
	    3);
}
END_TEST

/* Every code point Python's str.isspace() accepts. */
static const uint32_t py_spaces[] = {
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
	0x85, 0xa0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
	0x2008, 0x2009, 0x200a,
	0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
};

/* Neighbours and look-alikes that it does not. */
static const uint32_t py_non_spaces[] = {
	0x00, 0x08, 0x0e, 0x1b, 0x21, 0x7f, 0x84, 0x86, 0x9f, 0xa1,
	0x180e, 0x1fff, 0x200b, 0x200c, 0x200d, 0x2027, 0x202a, 0x202e,
	0x2060, 0x205e, 0x2fff, 0x3001, 0xfeff, 0xffff, 0x10ffff,
};

START_TEST(test_strip_space_alone)
{
	char		 buf[16];
	size_t		 n, out = 99;
	const char	*p;

	n = encode(py_spaces[_i], buf);
	p = utf8_strip_py(buf, n, &out);
	ck_assert_msg(out == 0, "U+%04X alone: %zu bytes left",
	    (unsigned)py_spaces[_i], out);
	ck_assert(p >= buf && p <= buf + n);
}
END_TEST

START_TEST(test_strip_space_around)
{
	char		 buf[32];
	size_t		 n = 0, k, out = 0;
	const char	*p;

	/* <sp><sp>a<sp>b<sp><sp> -> a<sp>b */
	k = encode(py_spaces[_i], buf + n);
	n += k;
	n += encode(py_spaces[_i], buf + n);
	buf[n++] = 'a';
	n += encode(py_spaces[_i], buf + n);
	buf[n++] = 'b';
	n += encode(py_spaces[_i], buf + n);
	n += encode(py_spaces[_i], buf + n);
	p = utf8_strip_py(buf, n, &out);
	ck_assert_msg(out == k + 2, "U+%04X: %zu bytes",
	    (unsigned)py_spaces[_i], out);
	ck_assert_int_eq(p[0], 'a');
	ck_assert_int_eq(p[out - 1], 'b');
}
END_TEST

START_TEST(test_strip_space_name)
{
	char	body[64];
	int	n;

	/* a name made only of it is a 400, however it is written */
	n = snprintf(body, sizeof body, "{\"name\":\"\\u%04x\"}",
	    (unsigned)py_spaces[_i]);
	check_400(body, (size_t)n, MSG_TRIM);
	n = snprintf(body, sizeof body, "{\"name\":\"\\u%04xAda\\u%04x\"}",
	    (unsigned)py_spaces[_i], (unsigned)py_spaces[_i]);
	check_ok(body, (size_t)n, B("Ada"), ACTOR_KIND_HUMAN);
}
END_TEST

START_TEST(test_strip_non_space)
{
	char		 buf[16];
	size_t		 n, out = 0;
	const char	*p;

	n = encode(py_non_spaces[_i], buf);
	p = utf8_strip_py(buf, n, &out);
	ck_assert_msg(p == buf && out == n, "U+%04X was stripped",
	    (unsigned)py_non_spaces[_i]);
}
END_TEST

START_TEST(test_strip_misc)
{
	const char	*s, *p;
	size_t		 out = 99;

	p = utf8_strip_py("", 0, &out);
	ck_assert_uint_eq(out, 0);
	ck_assert_ptr_nonnull(p);

	s = "Ada";
	p = utf8_strip_py(s, 3, &out);
	ck_assert_ptr_eq(p, s);
	ck_assert_uint_eq(out, 3);

	/* inner whitespace stays */
	s = " \xe3\x80\x80" "A d\xe2\x80\x83" "a\xe2\x80\xa8\t";
	p = utf8_strip_py(s, strlen(s), &out);
	ck_assert_ptr_eq(p, s + 4);
	ck_assert_uint_eq(out, 7);
	ck_assert(memcmp(p, "A d\xe2\x80\x83" "a", 7) == 0);

	/* mixed, multibyte both ends */
	s = "\xc2\x85\xc2\xa0\xe1\x9a\x80\xe2\x80\x8b\xe2\x80\xaf\xe2\x81\x9f";
	p = utf8_strip_py(s, strlen(s), &out);
	ck_assert_ptr_eq(p, s + 7);
	ck_assert_uint_eq(out, 3);

	/* a multibyte non-space last, after a space-like continuation */
	s = " \xe6\x9d\x8e ";
	p = utf8_strip_py(s, strlen(s), &out);
	ck_assert_ptr_eq(p, s + 1);
	ck_assert_uint_eq(out, 3);

	/* len is authoritative; NUL is not whitespace */
	p = utf8_strip_py(" a\0 ", 4, &out);
	ck_assert_uint_eq(out, 2);
	ck_assert(memcmp(p, "a\0", 2) == 0);

	/* invalid input: stops, never reads out of bounds */
	s = " \xff ";
	p = utf8_strip_py(s, 3, &out);
	ck_assert_ptr_eq(p, s + 1);
	ck_assert_uint_eq(out, 1);
	s = "\x80\x80\x80\x80 ";
	p = utf8_strip_py(s, 5, &out);
	ck_assert_ptr_eq(p, s);
	ck_assert_uint_eq(out, 4);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("access_input");

	tc = tcase_create("kind");
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_cmd_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, test_empty_body);
	tcase_add_loop_test(tc, test_invalid_json, 0,
	    sizeof invalid_json / sizeof invalid_json[0]);
	tcase_add_test(tc, test_not_object);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_loop_test(tc, test_field_errors, 0,
	    sizeof field_errors / sizeof field_errors[0]);
	tcase_add_test(tc, test_name_200_ascii);
	tcase_add_test(tc, test_name_201_ascii);
	tcase_add_test(tc, test_name_200_multibyte);
	tcase_add_test(tc, test_name_201_multibyte);
	tcase_add_test(tc, test_name_escaped_counts_code_points);
	tcase_add_test(tc, test_name_padded_over_200);
	tcase_add_loop_test(tc, test_accepted, 0,
	    sizeof accepted / sizeof accepted[0]);
	tcase_add_test(tc, test_bad_request);
	tcase_add_test(tc, test_detail_buffer);
	tcase_add_test(tc, test_lone_surrogates);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_add_loop_test(tc, test_utf8_valid, 0,
	    sizeof utf8_cases / sizeof utf8_cases[0]);
	tcase_add_test(tc, test_utf8_valid_len);
	tcase_add_test(tc, test_utf8_codepoints);
	tcase_add_loop_test(tc, test_strip_space_alone, 0,
	    sizeof py_spaces / sizeof py_spaces[0]);
	tcase_add_loop_test(tc, test_strip_space_around, 0,
	    sizeof py_spaces / sizeof py_spaces[0]);
	tcase_add_loop_test(tc, test_strip_space_name, 0,
	    sizeof py_spaces / sizeof py_spaces[0]);
	tcase_add_loop_test(tc, test_strip_non_space, 0,
	    sizeof py_non_spaces / sizeof py_non_spaces[0]);
	tcase_add_test(tc, test_strip_misc);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
