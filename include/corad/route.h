/* route: the HTTP route table (SPEC section 6) and path matching. */
#ifndef CORAD_ROUTE_H
#define CORAD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

enum route_id {
	ROUTE_HEALTH,		/* /health */
	ROUTE_READY,		/* /ready */
	ROUTE_METRICS,		/* /metrics */
	ROUTE_STATUS,		/* /status */
	ROUTE_ACTORS,		/* /actors */
	ROUTE_ACTOR,		/* /actors/{actor_id} */
	ROUTE_ACTOR_DEACTIVATE,	/* /actors/{actor_id}/deactivate */
	ROUTE_ACTOR_PROFILE,	/* /actors/{actor_id}/profile */
	ROUTE_MCP,		/* /mcp */
	ROUTE__MAX,
	ROUTE_NONE = ROUTE__MAX	/* unmatched: metrics label "none" */
};

enum http_method {
	METHOD_GET	= 1 << 0,
	METHOD_POST	= 1 << 1,
	METHOD_DELETE	= 1 << 2,
	METHOD_PUT	= 1 << 3,
	METHOD_PATCH	= 1 << 4,
	METHOD_HEAD	= 1 << 5,
	METHOD_OPTIONS	= 1 << 6,
	METHOD_OTHER	= 1 << 7,
};

struct route {
	const char	*template;	/* "/actors/{actor_id}": metrics label */
	unsigned	 methods;	/* bit set of enum http_method */
	bool		 principal;	/* step 3 of the pipeline applies */
};

extern const struct route routes[ROUTE__MAX];

#define ROUTE_PARAM_MAX	128

struct route_match {
	enum route_id	id;
	char		actor_id[ROUTE_PARAM_MAX];	/* raw {actor_id} segment */
};

enum http_method	 http_method_parse(const char *s);
const char		*http_method_name(enum http_method m);

/* Matches a path (no query string). Returns false when no route matches. */
bool	route_match(const char *path, struct route_match *m);

/* "GET, POST" for the Allow header of a route. */
void	route_allow(enum route_id id, char *buf, size_t len);

/* Template of a route, "none" for ROUTE_NONE. */
const char	*route_template(enum route_id id);

#endif
