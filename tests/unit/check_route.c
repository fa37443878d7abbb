/* check_route: the route table made from the registered operations, and
 * path matching. */
#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "corad/context.h"
#include "corad/route.h"
#include "tap_main.h"

#define ACTOR		"/actors/{actor_id}"
#define DEACTIVATE	"/actors/{actor_id}/deactivate"
#define PROFILE		"/actors/{actor_id}/profile"

struct match_case {
	const char	*path;
	const char	*route;		/* its template */
	const char	*actor_id;	/* NULL: the route has no {actor_id} */
};

static const struct match_case matching[] = {
	{ "/health",			"/health",	NULL },
	{ "/ready",			"/ready",	NULL },
	{ "/metrics",			"/metrics",	NULL },
	{ "/status",			"/status",	NULL },
	{ "/actors",			"/actors",	NULL },
	{ "/mcp",			"/mcp",		NULL },
	{ "/openapi.json",		"/openapi.json", NULL },
	{ "/actors/abc",		ACTOR,		"abc" },
	{ "/actors/abc/deactivate",	DEACTIVATE,	"abc" },
	{ "/actors/abc/profile",	PROFILE,	"abc" },
	{ "/actors/0190a2b4-7c3e-7b1a-9f00-1234567890ab", ACTOR,
					"0190a2b4-7c3e-7b1a-9f00-1234567890ab" },
	/* the segment is passed on raw: validation reports what was sent */
	{ "/actors/a%20b/profile",	PROFILE,	"a%20b" },
	{ "/actors/deactivate",		ACTOR,		"deactivate" },
};

/* The route index of a template, -1 when there is none. */
static int
route_of(const char *template)
{
	for (int i = 0; i < (int)route_count(); i++)
		if (strcmp(route_template(i), template) == 0)
			return i;
	return -1;
}

static const char *const not_matching[] = {
	"/",
	"",
	"/healthz",
	"/health/",
	"//health",
	"/Health",
	"/HEALTH",
	"/ready/x",
	"/metricsx",
	"/mcp/",
	"/actors/",
	"/actors/abc/",
	"/actors//deactivate",
	"/actors//profile",
	"/actors/a/b",
	"/actors/abc/unknown",
	"/actors/abc/deactivate/",
	"/actors/abc/deactivate/x",
	"/actors/abc/Profile",
	"/actorsx",
	"/actors/abc/profilex",
	"health",
	"/actors/abc/deactivat",
};

START_TEST(test_match_known)
{
	const struct match_case	*c = &matching[_i];
	struct route_match	 m;

	memset(&m, 0x5a, sizeof m);
	ck_assert_msg(route_match(c->path, &m), "\"%s\" did not match", c->path);
	ck_assert_str_eq(route_template(m.route), c->route);
	if (c->actor_id != NULL) {
		ck_assert_uint_eq(m.nparams, 1);
		ck_assert_str_eq(m.params[0].name, "actor_id");
		ck_assert_uint_eq(m.params[0].len, strlen(c->actor_id));
		ck_assert(memcmp(m.params[0].value, c->actor_id, m.params[0].len) == 0);
	} else
		ck_assert_uint_eq(m.nparams, 0);
}
END_TEST

START_TEST(test_match_unknown)
{
	const char		*path = not_matching[_i];
	struct route_match	 m;

	memset(&m, 0, sizeof m);
	ck_assert_msg(!route_match(path, &m), "\"%s\" matched route %s",
	    path, route_template(m.route));
	ck_assert_int_eq(m.route, ROUTE_NONE);
}
END_TEST

/*
 * A segment of any length matches and is captured whole, pointing into the
 * path, with a suffix after it or not: validation judges it (an id that
 * long is a 422, not a 404).
 */
START_TEST(test_match_long_segments)
{
	static const char *const suffixes[] = { "", "/deactivate", "/profile" };
	static const char *const templates[] = { ACTOR, DEACTIVATE, PROFILE };
	static const size_t lengths[] = { 127, 128, 4096, 65536 };
	size_t n = lengths[_i];
	char *path = malloc(8 + n + 16);
	struct route_match m;

	ck_assert_ptr_nonnull(path);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		memcpy(path, "/actors/", 8);
		for (size_t j = 0; j < n; j++)
			path[8 + j] = (char)('a' + j % 26);
		strcpy(path + 8 + n, suffixes[i]);
		memset(&m, 0x5a, sizeof m);
		ck_assert_msg(route_match(path, &m), "a %zu-byte segment did not match (suffix \"%s\")",
		    n, suffixes[i]);
		ck_assert_str_eq(route_template(m.route), templates[i]);
		ck_assert_uint_eq(m.nparams, 1);
		ck_assert_ptr_eq(m.params[0].value, path + 8);
		ck_assert_uint_eq(m.params[0].len, n);
	}
	free(path);
}
END_TEST

struct allow_case {
	const char	*route;
	const char	*allow;
};

static const struct allow_case allows[] = {
	{ "/health",	"GET" },
	{ "/ready",	"GET" },
	{ "/metrics",	"GET" },
	{ "/status",	"GET" },
	{ "/actors",	"GET, POST" },
	{ ACTOR,	"GET" },
	{ DEACTIVATE,	"POST" },
	{ PROFILE,	"DELETE" },
	{ "/mcp",	"POST" },
};

START_TEST(test_allow)
{
	const struct allow_case	*c = &allows[_i];
	char			 buf[128];

	memset(buf, 'Z', sizeof buf);
	buf[sizeof buf - 1] = '\0';
	route_allow(route_of(c->route), buf, sizeof buf);
	ck_assert_msg(strcmp(buf, c->allow) == 0,
	    "route %s: Allow \"%s\", expected \"%s\"", c->route, buf, c->allow);
}
END_TEST

START_TEST(test_allow_small_buffer)
{
	struct {
		char	buf[4];
		char	guard[32];
	} s;
	size_t	i;

	memset(&s, 'Z', sizeof s);
	route_allow(route_of("/actors"), s.buf, sizeof s.buf);
	ck_assert_msg(memchr(s.buf, '\0', sizeof s.buf) != NULL,
	    "Allow not NUL-terminated within its buffer");
	for (i = 0; i < sizeof s.guard; i++)
		ck_assert_msg(s.guard[i] == 'Z', "route_allow wrote past len");
}
END_TEST

/* Each route and method leads to its operation, with its name. */
START_TEST(test_operations)
{
	ck_assert_str_eq(route_op(route_of("/actors"), METHOD_POST)->name, "RegisterActor");
	ck_assert_str_eq(route_op(route_of("/actors"), METHOD_GET)->name, "ListActors");
	ck_assert_ptr_null(route_op(route_of("/actors"), METHOD_PUT));
	ck_assert_str_eq(route_op(route_of(ACTOR), METHOD_GET)->name, "GetActor");
	ck_assert_str_eq(route_op(route_of(PROFILE), METHOD_DELETE)->name, "ForgetActor");
	ck_assert_ptr_null(route_op(ROUTE_NONE, METHOD_GET));
	ck_assert_str_eq(route_find("DeactivateActor")->path, DEACTIVATE);
	ck_assert_str_eq(route_find_tool("list_actors")->name, "ListActors");
	ck_assert_ptr_null(route_find("NoSuchThing"));
	ck_assert_ptr_null(route_find_tool("no_such_tool"));
}
END_TEST

/* Step 3 of the pipeline applies to the API, not to the runtime's probes. */
START_TEST(test_principal_flags)
{
	static const char *const without[] = { "Health", "Ready", "Metrics", "Status", "OpenApi" };

	for (size_t i = 0; i < sizeof without / sizeof without[0]; i++)
		ck_assert(!route_find(without[i])->principal);
	for (size_t i = 0; i < route_nops(); i++)
		if (route_op_at(i)->context != NULL)
			ck_assert_msg(route_op_at(i)->principal, "%s", route_op_at(i)->name);
	ck_assert(route_find("Mcp")->principal);
}
END_TEST

START_TEST(test_templates)
{
	ck_assert_int_ge(route_of("/actors"), 0);
	ck_assert_int_ge(route_of(ACTOR), 0);
	ck_assert_str_eq(route_template(ROUTE_NONE), "none");
	ck_assert_str_eq(route_template(-1), "none");
}
END_TEST

/* A second operation on one method and path, or one name, is refused. */
START_TEST(test_register_conflicts)
{
	static const struct operation dup_route[] = {
		{ .name = "Other", .method = METHOD_GET, .path = "/health" }, { .name = NULL } };
	static const struct operation dup_name[] = {
		{ .name = "GetActor", .method = METHOD_PUT, .path = "/x" }, { .name = NULL } };
	static const struct operation dup_tool[] = {
		{ .name = "X", .method = METHOD_PUT, .path = "/y", .tool = "get_actor" },
		{ .name = NULL } };
	char err[160];

	ck_assert_int_eq(route_register(dup_route, err, sizeof err), -1);
	ck_assert_str_eq(err, "GET /health is both Health and Other");
	ck_assert_int_eq(route_register(dup_name, err, sizeof err), -1);
	ck_assert_int_eq(route_register(dup_tool, err, sizeof err), -1);
}
END_TEST

struct method_case {
	const char		*name;
	enum http_method	 method;
};

static const struct method_case methods[] = {
	{ "GET",	METHOD_GET },
	{ "POST",	METHOD_POST },
	{ "DELETE",	METHOD_DELETE },
	{ "PUT",	METHOD_PUT },
	{ "PATCH",	METHOD_PATCH },
	{ "HEAD",	METHOD_HEAD },
	{ "OPTIONS",	METHOD_OPTIONS },
};

START_TEST(test_method_parse)
{
	size_t	i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		ck_assert_msg(http_method_parse(methods[i].name) ==
		    methods[i].method, "\"%s\" parsed as %d", methods[i].name,
		    (int)http_method_parse(methods[i].name));
	ck_assert_int_eq(http_method_parse("BREW"), METHOD_OTHER);
	ck_assert_int_eq(http_method_parse(NULL), METHOD_OTHER);
	ck_assert_int_eq(http_method_parse(""), METHOD_OTHER);
	ck_assert_int_eq(http_method_parse("GE"), METHOD_OTHER);
	ck_assert_int_eq(http_method_parse("GETX"), METHOD_OTHER);
	ck_assert_int_eq(http_method_parse("POSTED"), METHOD_OTHER);
}
END_TEST

START_TEST(test_method_name)
{
	size_t	i;

	ck_assert_str_eq(http_method_name(METHOD_POST), "POST");
	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		ck_assert_str_eq(http_method_name(methods[i].method),
		    methods[i].name);
}
END_TEST

static Suite *
make_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("route");

	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match_known, 0,
	    (int)(sizeof matching / sizeof matching[0]));
	tcase_add_loop_test(tc, test_match_unknown, 0,
	    (int)(sizeof not_matching / sizeof not_matching[0]));
	tcase_add_loop_test(tc, test_match_long_segments, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_allow, 0,
	    (int)(sizeof allows / sizeof allows[0]));
	tcase_add_test(tc, test_allow_small_buffer);
	tcase_add_test(tc, test_operations);
	tcase_add_test(tc, test_principal_flags);
	tcase_add_test(tc, test_templates);
	tcase_add_test(tc, test_register_conflicts);
	suite_add_tcase(s, tc);

	tc = tcase_create("method");
	tcase_add_test(tc, test_method_parse);
	tcase_add_test(tc, test_method_name);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	char err[160];

	/* Every test runs on the table the daemon builds. */
	if (contexts_register(err, sizeof err) != 0)
		return 99;
	return run_suite(make_suite());
}
