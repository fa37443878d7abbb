/* check_actor: the actor fold and the pure decisions, no database. */
#include <check.h>
#include <string.h>

#include <json-c/json.h>

#include "access/access.h"
#include "tap_main.h"

static const char id[] = "0190a000-0000-7000-8000-000000000001";
static const char now[] = "2026-11-26T12:00:00.000001Z";

static void
fold(struct actor_state *s, const char *type, const char *payload)
{
	json_object *p = json_tokener_parse(payload);

	ck_assert_int_eq(actor_fold(s, type, p), 0);
	s->version++;
	json_object_put(p);
}

static const char *
payload_str(const struct actor_event *ev)
{
	return json_object_to_json_string_ext(ev->payload, JSON_C_TO_STRING_PLAIN);
}

START_TEST(test_register_event)
{
	struct actor_event ev;

	actor_decide_register(id, ACTOR_KIND_SERVICE_ACCOUNT, now, &ev);
	ck_assert_str_eq(ev.type, "ActorRegisteredV2");
	ck_assert_str_eq(payload_str(&ev), "{\"actor_id\":\"0190a000-0000-7000-8000-000000000001\","
	    "\"occurred_at\":\"2026-11-26T12:00:00.000001Z\",\"kind\":\"service_account\"}");
	json_object_put(ev.payload);
}
END_TEST

START_TEST(test_fold_v2_kind)
{
	struct actor_state s = { 0 };

	fold(&s, "ActorRegisteredV2", "{\"actor_id\":\"x\",\"kind\":\"service_account\"}");
	ck_assert(s.exists);
	ck_assert(s.active);
	ck_assert(!s.forgotten);
	ck_assert_int_eq(s.kind, ACTOR_KIND_SERVICE_ACCOUNT);
}
END_TEST

START_TEST(test_fold_legacy)
{
	struct actor_state s = { 0 };

	fold(&s, "ActorRegistered", "{\"actor_id\":\"x\",\"name\":\"Old\",\"occurred_at\":\"t\"}");
	ck_assert(s.exists);
	ck_assert(s.active);
	ck_assert_int_eq(s.kind, ACTOR_KIND_HUMAN);
}
END_TEST

START_TEST(test_fold_unknown_event)
{
	struct actor_state s = { 0 };
	json_object *p = json_tokener_parse("{}");

	ck_assert_int_eq(actor_fold(&s, "ActorRenamed", p), -1);
	ck_assert(!s.exists);
	json_object_put(p);
}
END_TEST

START_TEST(test_deactivate)
{
	struct actor_state s = { 0 };
	struct actor_event ev;

	ck_assert_int_eq(actor_decide_deactivate(&s, id, now, &ev), ACTOR_NOT_FOUND);
	ck_assert_ptr_null(ev.payload);
	fold(&s, "ActorRegisteredV2", "{\"kind\":\"human\"}");
	ck_assert_int_eq(actor_decide_deactivate(&s, id, now, &ev), ACTOR_OK);
	ck_assert_str_eq(ev.type, "ActorDeactivated");
	ck_assert_str_eq(payload_str(&ev), "{\"actor_id\":\"0190a000-0000-7000-8000-000000000001\","
	    "\"occurred_at\":\"2026-11-26T12:00:00.000001Z\"}");
	json_object_put(ev.payload);
	fold(&s, "ActorDeactivated", "{}");
	ck_assert(!s.active);
	ck_assert_int_eq(actor_decide_deactivate(&s, id, now, &ev), ACTOR_ALREADY_DEACTIVATED);
	ck_assert_ptr_null(ev.payload);
}
END_TEST

START_TEST(test_forget)
{
	struct actor_state s = { 0 };
	struct actor_event ev;

	ck_assert_int_eq(actor_decide_forget(&s, id, now, &ev), ACTOR_NOT_FOUND);
	fold(&s, "ActorRegisteredV2", "{\"kind\":\"human\"}");
	fold(&s, "ActorDeactivated", "{}");
	/* Forgetting is allowed on a deactivated actor. */
	ck_assert_int_eq(actor_decide_forget(&s, id, now, &ev), ACTOR_OK);
	ck_assert_str_eq(ev.type, "ActorProfileForgotten");
	json_object_put(ev.payload);
	fold(&s, "ActorProfileForgotten", "{}");
	ck_assert(s.forgotten);
	ck_assert_int_eq(s.version, 3);
	ck_assert_int_eq(actor_decide_forget(&s, id, now, &ev), ACTOR_ALREADY_FORGOTTEN);
	/* A forgotten actor keeps its activity state. */
	ck_assert(!s.active);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("actor");
	TCase *tc = tcase_create("decisions");

	tcase_add_test(tc, test_register_event);
	tcase_add_test(tc, test_fold_v2_kind);
	tcase_add_test(tc, test_fold_legacy);
	tcase_add_test(tc, test_fold_unknown_event);
	tcase_add_test(tc, test_deactivate);
	tcase_add_test(tc, test_forget);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
