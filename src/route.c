/* route: the HTTP route table (SPEC section 6) and path matching. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "corad/route.h"

const struct route routes[ROUTE__MAX] = {
	[ROUTE_HEALTH] = { "/health", METHOD_GET, false },
	[ROUTE_READY] = { "/ready", METHOD_GET, false },
	[ROUTE_METRICS] = { "/metrics", METHOD_GET, false },
	[ROUTE_STATUS] = { "/status", METHOD_GET, false },
	[ROUTE_ACTORS] = { "/actors", METHOD_GET | METHOD_POST, true },
	[ROUTE_ACTOR] = { "/actors/{actor_id}", METHOD_GET, true },
	[ROUTE_ACTOR_DEACTIVATE] = { "/actors/{actor_id}/deactivate", METHOD_POST, true },
	[ROUTE_ACTOR_PROFILE] = { "/actors/{actor_id}/profile", METHOD_DELETE, true },
	[ROUTE_MCP] = { "/mcp", METHOD_POST, true },
};

static const struct {
	enum http_method	 m;
	const char		*name;
} methods[] = {
	{ METHOD_GET, "GET" },
	{ METHOD_POST, "POST" },
	{ METHOD_DELETE, "DELETE" },
	{ METHOD_PUT, "PUT" },
	{ METHOD_PATCH, "PATCH" },
	{ METHOD_HEAD, "HEAD" },
	{ METHOD_OPTIONS, "OPTIONS" },
};

enum http_method
http_method_parse(const char *s)
{
	if (s != NULL)
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
			if (strcmp(s, methods[i].name) == 0)
				return methods[i].m;
	return METHOD_OTHER;
}

const char *
http_method_name(enum http_method m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "OTHER";
}

/*
 * Compares one template against a path segment by segment; "{actor_id}"
 * takes any non-empty segment that fits the capture buffer.
 */
static bool
match_template(const char *tpl, const char *path, struct route_match *m)
{
	while (*tpl != '\0' && *path != '\0') {
		const char *te, *pe;
		size_t tl, pl;

		if (*tpl != '/' || *path != '/')
			return false;
		tpl++;
		path++;
		te = strchrnul(tpl, '/');
		pe = strchrnul(path, '/');
		tl = (size_t)(te - tpl);
		pl = (size_t)(pe - path);
		if (tl > 0 && tpl[0] == '{') {
			if (pl == 0 || pl >= sizeof(m->actor_id))
				return false;
			memcpy(m->actor_id, path, pl);
			m->actor_id[pl] = '\0';
		} else if (tl != pl || memcmp(tpl, path, tl) != 0)
			return false;
		tpl = te;
		path = pe;
	}
	return *tpl == '\0' && *path == '\0';
}

bool
route_match(const char *path, struct route_match *m)
{
	m->actor_id[0] = '\0';
	for (int i = 0; i < ROUTE__MAX; i++) {
		if (match_template(routes[i].template, path, m)) {
			m->id = (enum route_id)i;
			return true;
		}
	}
	m->id = ROUTE_NONE;
	return false;
}

void
route_allow(enum route_id id, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if ((unsigned)id >= ROUTE__MAX)
		return;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (routes[id].methods & methods[i].m) {
			int n = snprintf(buf + off, len - off, "%s%s",
			    off == 0 ? "" : ", ", methods[i].name);

			if (n < 0 || (size_t)n >= len - off)
				break;
			off += (size_t)n;
		}
}

const char *
route_template(enum route_id id)
{
	return (unsigned)id < ROUTE__MAX ? routes[id].template : "none";
}
