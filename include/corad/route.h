/*
 * route: the routes, made from the registered operations (op.h), and
 * matching a request path against them. Operations are registered once,
 * in the master before it forks, so every process sees the same table and
 * a route's index means the same everywhere (metrics, /status).
 */
#ifndef CORAD_ROUTE_H
#define CORAD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "corad/op.h"

#define ROUTES_MAX		64		/* distinct path templates */
#define ROUTE_NONE		ROUTES_MAX	/* unmatched: metrics label "none" */
#define ROUTE_PARAMS_MAX	4		/* {name} segments in one path */

/* A match's segments point into the path it was given, which must outlive
 * it; a segment of any length matches, for validation to judge. */
struct route_match {
	int		 route;		/* ROUTE_NONE when nothing matched */
	size_t		 nparams;
	struct {
		char		 name[32];
		const char	*value;		/* the raw segment, not terminated */
		size_t		 len;
	}		 params[ROUTE_PARAMS_MAX];
};

/*
 * Adds operations (an array ended by a NULL name) to the table. -1 with a
 * message for a table that would be inconsistent: two operations on one
 * method and path, two with one name or tool name, too many routes.
 */
int		 route_register(const struct operation *ops, char *err, size_t errlen);
/* Forgets every operation (for tests). */
void		 route_reset(void);

/* Every registered operation, in the order of registration. */
size_t			 route_nops(void);
const struct operation	*route_op_at(size_t i);
/* The operation of that command or query name, or MCP tool name. */
const struct operation	*route_find(const char *name);
const struct operation	*route_find_tool(const char *tool);

/* Matches a path (no query string): false when no route does. */
bool		 route_match(const char *path, struct route_match *m);
/* The operation of a matched route for a method, or NULL (405). */
const struct operation	*route_op(int route, enum http_method method);
/* Whether the status child serves the route (an operation on it says so). */
bool		 route_status_socket(int route);
/* "GET, POST" for the Allow header of a route. */
void		 route_allow(int route, char *buf, size_t len);
/* "/actors/{actor_id}", or "none" for ROUTE_NONE. */
const char	*route_template(int route);
size_t		 route_count(void);

enum http_method	 http_method_parse(const char *s);
const char		*http_method_name(enum http_method m);

#endif
