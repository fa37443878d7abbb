/* check_caution: the caution fold, rendering and decisions, no database. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "caution/caution.h"
#include "corad/alloc.h"
#include "corad/idempotency.h"
#include "tap_main.h"

static const char id[] = "0190a000-0000-7000-8000-0000000000c1";
static const char child[] = "0190a000-0000-7000-8000-0000000000c2";
static const char author[] = "0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c";
static const char target_id[] = "01900000-0000-7000-8000-0000000000a1";
static const char now[] = "2026-11-26T12:00:00.000001Z";
/* 2026-11-26T12:00:00Z in microseconds since the epoch. */
static const int64_t now_us = INT64_C(1795694400000000);

/* A validated body, as the schema hands it over: `extra` is spliced in. */
static json_object *
body(const char *extra)
{
	char *s;
	json_object *o;

	s = xasprintf("{\"target\":{\"kind\":\"Asset\",\"id\":\"%s\"},\"category\":\"Wear\","
	    "\"severity\":\"Caution\",\"text\":\" stalls below 0.5 mm/s \",\"workaround\":\"jog\","
	    "\"tags\":[],\"expires_at\":null,\"propagate_to_children\":false%s}", target_id,
	    extra);
	o = json_tokener_parse(s);
	free(s);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* The detail of the 400 for `extra`, or NULL when the fields pass. */
static char *
refusal(const char *extra)
{
	json_object *in = body(extra);
	struct caution_fields f;
	char *detail = NULL;
	enum cora_err e = caution_check_fields(in, now_us, &f, &detail);

	if (e == CORA_OK) {
		ck_assert_ptr_null(detail);
		caution_fields_free(&f);
	} else
		ck_assert_int_eq(e, CORA_ERR_BAD_REQUEST);
	json_object_put(in);
	return detail;
}

static void
assert_refusal(const char *extra, const char *want)
{
	char *got = refusal(extra);

	ck_assert_msg(got != NULL, "accepted: %s", extra);
	ck_assert_str_eq(got, want);
	free(got);
}

static void
fold(struct caution_state *s, const char *type, const char *payload)
{
	json_object *p = json_tokener_parse(payload);

	ck_assert_int_eq(caution_fold(s, type, p), 0);
	s->version++;
	json_object_put(p);
}

static const char *
plain(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

START_TEST(test_fields_trimmed_and_tags_set)
{
	json_object *in = body(", \"tags\": [\"b\", \" a\", \"a\", \"\\u00e9\", \"B\"],"
	    " \"expires_at\": \"2030-01-01T10:00:00+02:00\"");
	struct caution_fields f;
	char *detail = NULL;

	ck_assert_int_eq(caution_check_fields(in, now_us, &f, &detail), CORA_OK);
	ck_assert_str_eq(f.text, "stalls below 0.5 mm/s");
	ck_assert_str_eq(f.workaround, "jog");
	/* Trimmed, repeats collapsed after trimming, code-point order. */
	ck_assert_str_eq(plain(f.tags), "[\"B\",\"a\",\"b\",\"\xc3\xa9\"]");
	/* The caller's offset is kept, as Python's isoformat writes it. */
	ck_assert_str_eq(f.expires_at, "2030-01-01T10:00:00+02:00");
	caution_fields_free(&f);
	json_object_put(in);
}
END_TEST

START_TEST(test_fields_refused_in_order)
{
	/* text first, then workaround, then tags, then expires_at. */
	assert_refusal(", \"text\": \"   \", \"workaround\": \" \"",
	    "Caution text must be 1-2000 chars after trimming (got: '   ')");
	assert_refusal(", \"workaround\": \"\\t\\n\"",
	    "Caution workaround must be 1-2000 chars after trimming (got: '\\t\\n')");
	assert_refusal(", \"text\": \"a\\u0000b\"", "Caution text must not contain NUL characters");
	/* Of several bad tags the first in code-point order, every time. */
	assert_refusal(", \"tags\": [\"ok\", \"\\u3000\", \" \"]",
	    "Caution tag must be 1-50 chars after trimming (got: ' ')");
	assert_refusal(", \"tags\": [\"it's\"], \"text\": \"\\u00a0\"",
	    "Caution text must be 1-2000 chars after trimming (got: '\\xa0')");
	assert_refusal(", \"tags\": [\" \\\"it's\\\" \", \"\\u2028\"]",
	    "Caution tag must be 1-50 chars after trimming (got: '\\u2028')");
	assert_refusal(", \"tags\": [\"ok\"], \"expires_at\": \"2026-11-26T12:00:00Z\"",
	    "expires_at must be in the future");
	assert_refusal(", \"expires_at\": \"2026-11-26T13:00:00+01:00\"",
	    "expires_at must be in the future");
	ck_assert_ptr_null(refusal(", \"expires_at\": \"2026-11-26T12:00:00.000001Z\""));
}
END_TEST

START_TEST(test_text_bounds_after_trimming)
{
	char *extra = malloc(2100 * 3 + 64), *p;

	/* 2000 code points (3 bytes each) padded with blanks: accepted. */
	p = extra + sprintf(extra, ", \"text\": \"  ");
	for (int i = 0; i < 2000; i++)
		p += sprintf(p, "\xe2\x82\xac");
	sprintf(p, "  \"");
	ck_assert_ptr_null(refusal(extra));
	/* 2001: refused, with the value as sent. */
	p = extra + sprintf(extra, ", \"text\": \"");
	for (int i = 0; i < 2001; i++)
		p += sprintf(p, "x");
	sprintf(p, "\"");
	{
		char *got = refusal(extra);

		ck_assert_ptr_nonnull(got);
		ck_assert(strncmp(got, "Caution text must be 1-2000 chars after trimming (got: 'xxx", 59) == 0);
		ck_assert_uint_eq(strlen(got), strlen("Caution text must be 1-2000 chars after "
		    "trimming (got: '')") + 2001);
		free(got);
	}
	free(extra);
}
END_TEST

START_TEST(test_registered_payload)
{
	json_object *in = body(", \"tags\": [\"x\"], \"propagate_to_children\": true,"
	    " \"expires_at\": \"2030-01-01T00:00:00.250Z\", \"authored_by\": \"someone\"");
	struct caution_fields f;
	char *detail;
	json_object *p;

	ck_assert_int_eq(caution_check_fields(in, now_us, &f, &detail), CORA_OK);
	p = caution_registered(&f, child, author, id, now);
	ck_assert_str_eq(plain(p), "{\"caution_id\":\"0190a000-0000-7000-8000-0000000000c2\","
	    "\"target\":{\"kind\":\"Asset\",\"id\":\"01900000-0000-7000-8000-0000000000a1\"},"
	    "\"category\":\"Wear\",\"severity\":\"Caution\",\"text\":\"stalls below 0.5 mm\\/s\","
	    "\"workaround\":\"jog\",\"tags\":[\"x\"],"
	    "\"authored_by\":\"0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c\","
	    "\"expires_at\":\"2030-01-01T00:00:00.250000+00:00\",\"propagate_to_children\":true,"
	    "\"parent_id\":\"0190a000-0000-7000-8000-0000000000c1\","
	    "\"occurred_at\":\"2026-11-26T12:00:00.000001Z\"}");
	json_object_put(p);
	caution_fields_free(&f);
	json_object_put(in);
}
END_TEST

START_TEST(test_transition_payloads)
{
	json_object *p = caution_superseded(id, child, now);

	ck_assert_str_eq(plain(p), "{\"caution_id\":\"0190a000-0000-7000-8000-0000000000c1\","
	    "\"superseded_by_caution_id\":\"0190a000-0000-7000-8000-0000000000c2\","
	    "\"occurred_at\":\"2026-11-26T12:00:00.000001Z\"}");
	json_object_put(p);
	p = caution_retired(id, "WrongTarget", now);
	ck_assert_str_eq(plain(p), "{\"caution_id\":\"0190a000-0000-7000-8000-0000000000c1\","
	    "\"reason\":\"WrongTarget\",\"occurred_at\":\"2026-11-26T12:00:00.000001Z\"}");
	json_object_put(p);
}
END_TEST

static const char registered[] =
    "{\"caution_id\":\"0190a000-0000-7000-8000-0000000000c1\","
    "\"target\":{\"kind\":\"Procedure\",\"id\":\"01900000-0000-7000-8000-0000000000a1\"},"
    "\"category\":\"Wiring\",\"severity\":\"Warning\",\"text\":\"t\",\"workaround\":\"w\","
    "\"tags\":[\"a\"],\"authored_by\":\"0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c\","
    "\"expires_at\":\"2026-11-26T13:00:00+01:00\",\"propagate_to_children\":false,"
    "\"parent_id\":null,\"occurred_at\":\"2026-11-26T11:00:00Z\"}";

START_TEST(test_fold_and_render)
{
	struct caution_state s = { 0 };
	json_object *o;

	ck_assert_int_eq(caution_can_change(&s), CAUTION_NOT_FOUND);
	fold(&s, "CautionRegistered", registered);
	ck_assert_int_eq(s.status, CAUTION_ACTIVE);
	ck_assert_int_eq(caution_can_change(&s), CAUTION_OK);
	/* expires_at is the instant now_us: expired, shown in UTC. */
	o = caution_render(&s, id, now_us);
	ck_assert_str_eq(plain(o), "{\"id\":\"0190a000-0000-7000-8000-0000000000c1\","
	    "\"target\":{\"kind\":\"Procedure\",\"id\":\"01900000-0000-7000-8000-0000000000a1\"},"
	    "\"category\":\"Wiring\",\"severity\":\"Warning\",\"text\":\"t\",\"workaround\":\"w\","
	    "\"authored_by\":\"0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c\",\"tags\":[\"a\"],"
	    "\"expires_at\":\"2026-11-26T12:00:00.000000Z\",\"propagate_to_children\":false,"
	    "\"status\":\"Active\",\"parent_id\":null,\"superseded_by_caution_id\":null,"
	    "\"retired_reason\":null,\"expired\":true}");
	json_object_put(o);
	o = caution_render(&s, id, now_us - 1);
	ck_assert(!json_object_get_boolean(json_object_object_get(o, "expired")));
	json_object_put(o);

	fold(&s, "CautionSuperseded", "{\"caution_id\":\"x\",\"superseded_by_caution_id\":\"c2\"}");
	ck_assert_int_eq(s.status, CAUTION_SUPERSEDED);
	ck_assert_int_eq(s.version, 2);
	ck_assert_int_eq(caution_can_change(&s), CAUTION_NOT_ACTIVE);
	o = caution_render(&s, id, now_us);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "status")), "Superseded");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "superseded_by_caution_id")),
	    "c2");
	json_object_put(o);
	caution_state_free(&s);

	fold(&s, "CautionRegistered", registered);
	fold(&s, "CautionRetired", "{\"reason\":\"Resolved\"}");
	ck_assert_int_eq(caution_can_change(&s), CAUTION_NOT_ACTIVE);
	ck_assert_str_eq(caution_status_name(s.status), "Retired");
	o = caution_render(&s, id, now_us);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "retired_reason")),
	    "Resolved");
	json_object_put(o);
	caution_state_free(&s);
}
END_TEST

START_TEST(test_fold_trusts_stored_events)
{
	struct caution_state s = { 0 };
	json_object *p, *o;

	/* A transition before any registration, an unknown type: skipped. */
	p = json_tokener_parse("{\"reason\":\"Resolved\"}");
	ck_assert_int_eq(caution_fold(&s, "CautionRetired", p), -1);
	ck_assert_int_eq(s.status, CAUTION_NONE);
	json_object_put(p);
	/* A foreign writer's registration: text past the limits, no
	 * expires_at, propagate_to_children nor parent_id, an unknown
	 * severity. It folds as it is. */
	fold(&s, "CautionRegistered", "{\"target\":{\"kind\":\"Asset\",\"id\":\"a\"},"
	    "\"category\":\"Wear\",\"severity\":\"Danger\",\"text\":\"   \",\"workaround\":\"w\","
	    "\"tags\":[],\"authored_by\":\"b\"}");
	p = json_tokener_parse("{}");
	ck_assert_int_eq(caution_fold(&s, "CautionRenamed", p), -1);
	json_object_put(p);
	ck_assert_int_eq(s.status, CAUTION_ACTIVE);
	o = caution_render(&s, id, now_us);
	ck_assert_str_eq(plain(o), "{\"id\":\"0190a000-0000-7000-8000-0000000000c1\","
	    "\"target\":{\"kind\":\"Asset\",\"id\":\"a\"},\"category\":\"Wear\","
	    "\"severity\":\"Danger\",\"text\":\"   \",\"workaround\":\"w\",\"authored_by\":\"b\","
	    "\"tags\":[],\"expires_at\":null,\"propagate_to_children\":false,\"status\":\"Active\","
	    "\"parent_id\":null,\"superseded_by_caution_id\":null,\"retired_reason\":null,"
	    "\"expired\":false}");
	json_object_put(o);
	caution_state_free(&s);
}
END_TEST

START_TEST(test_same_target)
{
	struct caution_state s = { 0 };
	json_object *same = json_tokener_parse("{\"target\":{\"kind\":\"Procedure\","
	    "\"id\":\"01900000-0000-7000-8000-0000000000a1\"}}");
	json_object *kind = json_tokener_parse("{\"target\":{\"kind\":\"Asset\","
	    "\"id\":\"01900000-0000-7000-8000-0000000000a1\"}}");
	json_object *other = json_tokener_parse("{\"target\":{\"kind\":\"Procedure\","
	    "\"id\":\"01900000-0000-7000-8000-0000000000a2\"}}");
	struct caution_fields f = { 0 };

	fold(&s, "CautionRegistered", registered);
	f.input = same;
	ck_assert_int_eq(caution_same_target(&s, &f), CAUTION_OK);
	f.input = kind;
	ck_assert_int_eq(caution_same_target(&s, &f), CAUTION_RETARGETED);
	f.input = other;
	ck_assert_int_eq(caution_same_target(&s, &f), CAUTION_RETARGETED);
	json_object_put(same);
	json_object_put(kind);
	json_object_put(other);
	caution_state_free(&s);
}
END_TEST

/* The hash's view of a body: the same command sent another way is equal.
 * As the key's row holds it (idem_command_json) when hashed is set. */
static char *
command_text(const char *params, const char *extra, bool hashed)
{
	json_object *in = body(extra), *p = json_tokener_parse(params), *cmd;
	char *out;

	json_object_object_del(in, "expires_at");
	json_object_object_del(in, "tags");
	if (extra[0] != '\0') {
		json_object *again = body(extra);

		json_object_object_foreach(again, k, v)
			json_object_object_add(in, k, json_object_get(v));
		json_object_put(again);
	}
	cmd = caution_command(p, in);
	out = hashed ? idem_command_json(cmd) : xstrdup(plain(cmd));
	json_object_put(cmd);
	json_object_put(p);
	json_object_put(in);
	return out;
}

static char *
command_of(const char *params, const char *extra)
{
	return command_text(params, extra, false);
}

START_TEST(test_command_for_the_key)
{
	char *a = command_of("{}", ", \"tags\": [\"b\", \"a\", \"b\"],"
	    " \"expires_at\": \"2030-01-01T00:00:00Z\"");
	char *b = command_of("{}", ", \"tags\": [\"a\", \"b\"],"
	    " \"expires_at\": \"2030-01-01T00:00:00.000+00:00\"");
	char *none = command_of("{}", "");
	char *nulls = command_of("{}", ", \"tags\": null, \"expires_at\": null");
	char *other = command_of("{}", ", \"tags\": [\" a\", \"b\"]");
	char *parent = command_of("{\"parent_id\": \"0190a000-0000-7000-8000-0000000000c1\"}", "");

	ck_assert_str_eq(a, b);
	ck_assert(strstr(a, "\"tags\":[\"a\",\"b\"]") != NULL);
	ck_assert(strstr(a, "\"expires_at\":\"2030-01-01T00:00:00+00:00\"") != NULL);
	ck_assert_str_eq(none, nulls);
	ck_assert(strstr(none, "\"tags\":[]") != NULL && strstr(none, "\"expires_at\":null") != NULL);
	/* Tags as sent: " a" is another tag than "a" for the key. */
	ck_assert_str_ne(other, b);
	ck_assert(strstr(parent, "\"parent_id\":\"0190a000-0000-7000-8000-0000000000c1\"") != NULL);
	free(a);
	free(b);
	free(none);
	free(nulls);
	free(other);
	free(parent);
}
END_TEST

/* The key's hash is the original's for the same command (SHA-256 of
 * Python's json.dumps(command, sort_keys=True)), the target as the
 * original's command holds it, so that a key either implementation claimed
 * replays on the other. */
static const struct {
	const char *params, *extra, *python, *sha256;
} original_commands[] = {
	{ "{}", "",
	  "{\"category\": \"Wear\", \"expires_at\": null, \"propagate_to_children\": false, "
	  "\"severity\": \"Caution\", \"tags\": [], \"target\": {\"asset_id\": "
	  "\"01900000-0000-7000-8000-0000000000a1\"}, \"text\": \" stalls below 0.5 mm/s \", "
	  "\"workaround\": \"jog\"}",
	  "e7a26a593ea11fd4d7d6e5e106e7ae59c0af9a9caf4bdca4c4d98acb7dddc61a" },
	{ "{\"parent_id\": \"0190a000-0000-7000-8000-0000000000c1\"}",
	  ", \"target\": {\"kind\": \"Procedure\", \"id\": \"01900000-0000-7000-8000-0000000000a1\"},"
	  " \"tags\": [\"b\", \"a\"], \"expires_at\": \"2030-01-01T00:00:00Z\"",
	  "{\"category\": \"Wear\", \"expires_at\": \"2030-01-01T00:00:00+00:00\", \"parent_id\": "
	  "\"0190a000-0000-7000-8000-0000000000c1\", \"propagate_to_children\": false, \"severity\": "
	  "\"Caution\", \"tags\": [\"a\", \"b\"], \"target\": {\"procedure_id\": "
	  "\"01900000-0000-7000-8000-0000000000a1\"}, \"text\": \" stalls below 0.5 mm/s \", "
	  "\"workaround\": \"jog\"}",
	  "27694631fe976eedad4e87b9b53d176e05365b192b961d24e076b5bbb9eef703" },
};

START_TEST(test_command_hash_is_the_originals)
{
	char *s = command_text(original_commands[_i].params, original_commands[_i].extra, true);
	char hex[65];

	ck_assert_str_eq(s, original_commands[_i].python);
	idem_sha256_hex(s, hex);
	ck_assert_str_eq(hex, original_commands[_i].sha256);
	free(s);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("caution");
	TCase *tc = tcase_create("decisions");

	tcase_add_test(tc, test_fields_trimmed_and_tags_set);
	tcase_add_loop_test(tc, test_command_hash_is_the_originals, 0,
	    sizeof(original_commands) / sizeof(original_commands[0]));
	tcase_add_test(tc, test_fields_refused_in_order);
	tcase_add_test(tc, test_text_bounds_after_trimming);
	tcase_add_test(tc, test_registered_payload);
	tcase_add_test(tc, test_transition_payloads);
	tcase_add_test(tc, test_fold_and_render);
	tcase_add_test(tc, test_fold_trusts_stored_events);
	tcase_add_test(tc, test_same_target);
	tcase_add_test(tc, test_command_for_the_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
