/* check_authz: policy loading, validation and first-match decisions. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corad/authz.h"
#include "corad/context.h"
#include "tap_main.h"

static const char p1[] = "11111111-1111-1111-1111-111111111111";
static const char p2[] = "22222222-2222-2222-2222-222222222222";

static char path[64];

static struct authz_policy *
load(const char *json, char *err, size_t errlen)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_authz.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, json, strlen(json)), (int)strlen(json));
	close(fd);
	{
		struct authz_policy *p = authz_load(path, err, errlen);

		unlink(path);
		return p;
	}
}

START_TEST(test_no_policy_allows)
{
	struct authz_verdict v;

	authz_decide(NULL, p1, "ForgetActor", &v);
	ck_assert(v.allowed);
	ck_assert_str_eq(v.reason, "no authorization policy configured");
}
END_TEST

START_TEST(test_first_match_wins)
{
	char err[256];
	struct authz_verdict v;
	struct authz_policy *p = load("{\"default\":\"deny\",\"rules\":["
	    "{\"principals\":[\"11111111-1111-1111-1111-111111111111\"],\"commands\":[\"ForgetActor\"],\"effect\":\"deny\"},"
	    "{\"principals\":[\"11111111111111111111111111111111\"],\"commands\":[\"*\"],\"effect\":\"allow\"},"
	    "{\"principals\":[\"*\"],\"commands\":[\"GetActor\",\"ListActors\"],\"effect\":\"allow\"}]}",
	    err, sizeof(err));

	ck_assert_msg(p != NULL, "%s", err);
	authz_decide(p, p1, "ForgetActor", &v);
	ck_assert(!v.allowed);
	ck_assert_str_eq(v.reason, "ForgetActor denied by policy rule 1");
	/* Rule 2's principal was written without hyphens: canonicalised. */
	authz_decide(p, p1, "RegisterActor", &v);
	ck_assert(v.allowed);
	ck_assert_str_eq(v.reason, "RegisterActor allowed by policy rule 2");
	authz_decide(p, p2, "GetActor", &v);
	ck_assert(v.allowed);
	ck_assert_str_eq(v.reason, "GetActor allowed by policy rule 3");
	authz_decide(p, p2, "RegisterActor", &v);
	ck_assert(!v.allowed);
	ck_assert_str_eq(v.reason, "RegisterActor denied by the policy default (no rule matched)");
	authz_free(p);
}
END_TEST

START_TEST(test_default_allow_without_rules)
{
	char err[256];
	struct authz_verdict v;
	struct authz_policy *p = load("{\"default\":\"allow\"}", err, sizeof(err));

	ck_assert_msg(p != NULL, "%s", err);
	authz_decide(p, p2, "DeactivateActor", &v);
	ck_assert(v.allowed);
	authz_free(p);
}
END_TEST

static const struct {
	const char *json;
	const char *reason;	/* part of the error */
} invalid[] = {
	{ "not json", "line 1 column 2: null expected" },
	{ "{\"default\": \"deny\",\n  \"rules\": [}\n", "line 2 column 13: " },
	{ "{\"default\": \"deny\"", "line 1 column 19: the file ends before the JSON does" },
	{ "{\"default\": \"deny\"}\n{}", "line 2 column 1: unexpected text after the JSON value" },
	{ "[]", "top level must be an object" },
	{ "{\"rules\":[]}", "\"default\" must be" },
	{ "{\"default\":\"maybe\"}", "\"default\" must be" },
	{ "{\"default\":\"deny\",\"rules\":{}}", "\"rules\" must be an array" },
	{ "{\"default\":\"deny\",\"rules\":[5]}", "rule 1 is not an object" },
	{ "{\"default\":\"deny\",\"rules\":[{\"commands\":[\"*\"],\"effect\":\"allow\"}]}",
	  "rule 1 \"principals\": missing" },
	{ "{\"default\":\"deny\",\"rules\":[{\"principals\":[\"bob\"],\"commands\":[\"*\"],\"effect\":\"allow\"}]}",
	  "'bob' is not a UUID" },
	{ "{\"default\":\"deny\",\"rules\":[{\"principals\":[],\"commands\":[\"*\"],\"effect\":\"allow\"}]}",
	  "non-empty array" },
	{ "{\"default\":\"deny\",\"rules\":[{\"principals\":[\"*\"],\"commands\":[\"Foo\"],\"effect\":\"allow\"}]}",
	  "'Foo' is not a command or query name" },
	{ "{\"default\":\"deny\",\"rules\":[{\"principals\":[\"*\"],\"commands\":[\"*\"],\"effect\":\"maybe\"}]}",
	  "rule 1 \"effect\" must be" },
};

START_TEST(test_invalid)
{
	char err[512] = "";
	struct authz_policy *p = load(invalid[_i].json, err, sizeof(err));

	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, invalid[_i].reason) != NULL, "'%s' lacks '%s'", err,
	    invalid[_i].reason);
	ck_assert_msg(strstr(err, "AUTHZ_POLICY_FILE") != NULL, "%s", err);
}
END_TEST

START_TEST(test_missing_file)
{
	char err[512] = "";

	ck_assert_ptr_null(authz_load("/nonexistent/policy.json", err, sizeof(err)));
	ck_assert_str_eq(err, "AUTHZ_POLICY_FILE: cannot open /nonexistent/policy.json: "
	    "No such file or directory");
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("authz");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_no_policy_allows);
	tcase_add_test(tc, test_first_match_wins);
	tcase_add_test(tc, test_default_allow_without_rules);
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	char err[160];

	/* The names a policy may use are those of the registered operations. */
	if (contexts_register(err, sizeof err) != 0)
		return 99;
	return run_suite(make_suite());
}
