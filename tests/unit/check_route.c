/* check_route: the route table of SPEC section 6 and path matching. */
#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "corad/route.h"
#include "tap_main.h"

struct match_case {
	const char	*path;
	enum route_id	 id;
	const char	*actor_id;	/* NULL: the route has no {actor_id} */
};

static const struct match_case matching[] = {
	{ "/health",			ROUTE_HEALTH,		NULL },
	{ "/ready",			ROUTE_READY,		NULL },
	{ "/metrics",			ROUTE_METRICS,		NULL },
	{ "/status",			ROUTE_STATUS,		NULL },
	{ "/actors",			ROUTE_ACTORS,		NULL },
	{ "/mcp",			ROUTE_MCP,		NULL },
	{ "/actors/abc",		ROUTE_ACTOR,		"abc" },
	{ "/actors/abc/deactivate",	ROUTE_ACTOR_DEACTIVATE,	"abc" },
	{ "/actors/abc/profile",	ROUTE_ACTOR_PROFILE,	"abc" },
	{ "/actors/0190a2b4-7c3e-7b1a-9f00-1234567890ab",
					ROUTE_ACTOR,
					"0190a2b4-7c3e-7b1a-9f00-1234567890ab" },
	/* the segment is passed on raw: validation reports what was sent */
	{ "/actors/a%20b/profile",	ROUTE_ACTOR_PROFILE,	"a%20b" },
	{ "/actors/deactivate",		ROUTE_ACTOR,		"deactivate" },
};

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
	ck_assert_msg(m.id == c->id, "\"%s\": route %d, expected %d",
	    c->path, (int)m.id, (int)c->id);
	if (c->actor_id != NULL)
		ck_assert_str_eq(m.actor_id, c->actor_id);
}
END_TEST

START_TEST(test_match_unknown)
{
	const char		*path = not_matching[_i];
	struct route_match	 m;

	memset(&m, 0, sizeof m);
	ck_assert_msg(!route_match(path, &m), "\"%s\" matched route %d",
	    path, (int)m.id);
}
END_TEST

/* Fills buf with `n` characters 'a'..'z' repeated and a NUL. */
static void
make_segment(char *buf, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		buf[i] = (char)('a' + i % 26);
	buf[n] = '\0';
}

START_TEST(test_match_longest_segment)
{
	char			 seg[ROUTE_PARAM_MAX];
	char			 path[ROUTE_PARAM_MAX + 64];
	struct route_match	 m;

	make_segment(seg, ROUTE_PARAM_MAX - 1);

	strcpy(path, "/actors/");
	strcat(path, seg);
	ck_assert(route_match(path, &m));
	ck_assert_int_eq(m.id, ROUTE_ACTOR);
	ck_assert_str_eq(m.actor_id, seg);

	strcat(path, "/deactivate");
	ck_assert(route_match(path, &m));
	ck_assert_int_eq(m.id, ROUTE_ACTOR_DEACTIVATE);
	ck_assert_str_eq(m.actor_id, seg);
}
END_TEST

START_TEST(test_match_overlong_segment)
{
	static const char *const suffixes[] = { "", "/deactivate", "/profile" };
	char			 seg[ROUTE_PARAM_MAX + 1];
	char			 path[ROUTE_PARAM_MAX + 64];
	struct {
		struct route_match	m;
		unsigned char		guard[64];
	} s;
	size_t			 i, j;

	make_segment(seg, ROUTE_PARAM_MAX);
	for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		strcpy(path, "/actors/");
		strcat(path, seg);
		strcat(path, suffixes[i]);
		memset(&s, 0xa5, sizeof s);
		ck_assert_msg(!route_match(path, &s.m),
		    "a %d-character segment matched (suffix \"%s\")",
		    ROUTE_PARAM_MAX, suffixes[i]);
		for (j = 0; j < sizeof s.guard; j++)
			ck_assert_msg(s.guard[j] == 0xa5,
			    "route_match wrote past struct route_match");
	}
}
END_TEST

START_TEST(test_match_huge_path)
{
	static char		 path[65536];
	struct route_match	 m;

	memcpy(path, "/actors/", 8);
	memset(path + 8, 'x', sizeof path - 9);
	path[sizeof path - 1] = '\0';
	ck_assert(!route_match(path, &m));
}
END_TEST

struct allow_case {
	enum route_id	 id;
	const char	*allow;
};

static const struct allow_case allows[] = {
	{ ROUTE_HEALTH,			"GET" },
	{ ROUTE_READY,			"GET" },
	{ ROUTE_METRICS,		"GET" },
	{ ROUTE_STATUS,			"GET" },
	{ ROUTE_ACTORS,			"GET, POST" },
	{ ROUTE_ACTOR,			"GET" },
	{ ROUTE_ACTOR_DEACTIVATE,	"POST" },
	{ ROUTE_ACTOR_PROFILE,		"DELETE" },
	{ ROUTE_MCP,			"POST" },
};

START_TEST(test_allow)
{
	const struct allow_case	*c = &allows[_i];
	char			 buf[128];

	memset(buf, 'Z', sizeof buf);
	buf[sizeof buf - 1] = '\0';
	route_allow(c->id, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, c->allow) == 0,
	    "route %d: Allow \"%s\", expected \"%s\"", (int)c->id, buf, c->allow);
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
	route_allow(ROUTE_ACTORS, s.buf, sizeof s.buf);
	ck_assert_msg(memchr(s.buf, '\0', sizeof s.buf) != NULL,
	    "Allow not NUL-terminated within its buffer");
	for (i = 0; i < sizeof s.guard; i++)
		ck_assert_msg(s.guard[i] == 'Z', "route_allow wrote past len");
}
END_TEST

START_TEST(test_allow_methods_bits)
{
	ck_assert_uint_eq(routes[ROUTE_HEALTH].methods, METHOD_GET);
	ck_assert_uint_eq(routes[ROUTE_ACTORS].methods, METHOD_GET | METHOD_POST);
	ck_assert_uint_eq(routes[ROUTE_ACTOR].methods, METHOD_GET);
	ck_assert_uint_eq(routes[ROUTE_ACTOR_DEACTIVATE].methods, METHOD_POST);
	ck_assert_uint_eq(routes[ROUTE_ACTOR_PROFILE].methods, METHOD_DELETE);
	ck_assert_uint_eq(routes[ROUTE_MCP].methods, METHOD_POST);
}
END_TEST

START_TEST(test_principal_flags)
{
	ck_assert(!routes[ROUTE_HEALTH].principal);
	ck_assert(!routes[ROUTE_READY].principal);
	ck_assert(!routes[ROUTE_METRICS].principal);
	ck_assert(!routes[ROUTE_STATUS].principal);
	ck_assert(routes[ROUTE_ACTORS].principal);
	ck_assert(routes[ROUTE_ACTOR].principal);
	ck_assert(routes[ROUTE_ACTOR_DEACTIVATE].principal);
	ck_assert(routes[ROUTE_ACTOR_PROFILE].principal);
	ck_assert(routes[ROUTE_MCP].principal);
}
END_TEST

START_TEST(test_templates)
{
	ck_assert_str_eq(route_template(ROUTE_HEALTH), "/health");
	ck_assert_str_eq(route_template(ROUTE_READY), "/ready");
	ck_assert_str_eq(route_template(ROUTE_METRICS), "/metrics");
	ck_assert_str_eq(route_template(ROUTE_STATUS), "/status");
	ck_assert_str_eq(route_template(ROUTE_ACTORS), "/actors");
	ck_assert_str_eq(route_template(ROUTE_ACTOR), "/actors/{actor_id}");
	ck_assert_str_eq(route_template(ROUTE_ACTOR_DEACTIVATE),
	    "/actors/{actor_id}/deactivate");
	ck_assert_str_eq(route_template(ROUTE_ACTOR_PROFILE),
	    "/actors/{actor_id}/profile");
	ck_assert_str_eq(route_template(ROUTE_MCP), "/mcp");
	ck_assert_str_eq(route_template(ROUTE_NONE), "none");
	ck_assert_str_eq(routes[ROUTE_ACTOR].template, "/actors/{actor_id}");
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
	tcase_add_test(tc, test_match_longest_segment);
	tcase_add_test(tc, test_match_overlong_segment);
	tcase_add_test(tc, test_match_huge_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_allow, 0,
	    (int)(sizeof allows / sizeof allows[0]));
	tcase_add_test(tc, test_allow_small_buffer);
	tcase_add_test(tc, test_allow_methods_bits);
	tcase_add_test(tc, test_principal_flags);
	tcase_add_test(tc, test_templates);
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
	return run_suite(make_suite());
}
