/* route: the route table made from the operations, and path matching. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "corad/route.h"

#define OPS_MAX		(ROUTES_MAX * 4)

struct route {
	const char		*template;
	const struct operation	*ops[8];	/* by the bit of enum http_method */
};

static struct route			 routes[ROUTES_MAX];
static size_t				 nroutes;
static const struct operation		*ops[OPS_MAX];
static size_t				 nops;

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

static int
method_bit(enum http_method m)
{
	for (int i = 0; i < 8; i++)
		if ((unsigned)m == 1u << i)
			return i;
	return 7;
}

void
route_reset(void)
{
	memset(routes, 0, sizeof(routes));
	nroutes = nops = 0;
}

int
route_register(const struct operation *add, char *err, size_t errlen)
{
	for (const struct operation *op = add; op->name != NULL; op++) {
		struct route *r = NULL;
		int bit = method_bit(op->method);

		if (route_find(op->name) != NULL ||
		    (op->tool != NULL && route_find_tool(op->tool) != NULL)) {
			snprintf(err, errlen, "operation %s: its name or tool name is taken", op->name);
			return -1;
		}
		for (size_t i = 0; i < nroutes && r == NULL; i++)
			if (strcmp(routes[i].template, op->path) == 0)
				r = &routes[i];
		if (r == NULL) {
			if (nroutes == ROUTES_MAX || nops == OPS_MAX) {
				snprintf(err, errlen, "more than %d routes", ROUTES_MAX);
				return -1;
			}
			r = &routes[nroutes++];
			r->template = op->path;
		}
		if (r->ops[bit] != NULL) {
			snprintf(err, errlen, "%s %s is both %s and %s", http_method_name(op->method),
			    op->path, r->ops[bit]->name, op->name);
			return -1;
		}
		r->ops[bit] = op;
		ops[nops++] = op;
	}
	return 0;
}

size_t
route_nops(void)
{
	return nops;
}

const struct operation *
route_op_at(size_t i)
{
	return i < nops ? ops[i] : NULL;
}

const struct operation *
route_find(const char *name)
{
	for (size_t i = 0; i < nops; i++)
		if (strcmp(ops[i]->name, name) == 0)
			return ops[i];
	return NULL;
}

const struct operation *
route_find_tool(const char *tool)
{
	for (size_t i = 0; i < nops; i++)
		if (ops[i]->tool != NULL && strcmp(ops[i]->tool, tool) == 0)
			return ops[i];
	return NULL;
}

/*
 * Compares one template against a path segment by segment; a "{name}"
 * segment takes any non-empty segment.
 */
static bool
match_template(const char *tpl, const char *path, struct route_match *m)
{
	m->nparams = 0;
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
		if (tl > 2 && tpl[0] == '{' && tpl[tl - 1] == '}') {
			if (pl == 0 || m->nparams == ROUTE_PARAMS_MAX ||
			    tl - 2 >= sizeof(m->params[0].name))
				return false;
			memcpy(m->params[m->nparams].name, tpl + 1, tl - 2);
			m->params[m->nparams].name[tl - 2] = '\0';
			m->params[m->nparams].value = path;
			m->params[m->nparams].len = pl;
			m->nparams++;
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
	for (size_t i = 0; i < nroutes; i++)
		if (match_template(routes[i].template, path, m)) {
			m->route = (int)i;
			return true;
		}
	m->route = ROUTE_NONE;
	m->nparams = 0;
	return false;
}

const struct operation *
route_op(int route, enum http_method method)
{
	if (route < 0 || (size_t)route >= nroutes)
		return NULL;
	return routes[route].ops[method_bit(method)];
}

bool
route_status_socket(int route)
{
	if (route < 0 || (size_t)route >= nroutes)
		return false;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const struct operation *op = routes[route].ops[method_bit(methods[i].m)];

		if (op != NULL && op->status_socket)
			return true;
	}
	return false;
}

void
route_allow(int route, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (route < 0 || (size_t)route >= nroutes)
		return;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (routes[route].ops[method_bit(methods[i].m)] != NULL) {
			int n = snprintf(buf + off, len - off, "%s%s",
			    off == 0 ? "" : ", ", methods[i].name);

			if (n < 0 || (size_t)n >= len - off)
				break;
			off += (size_t)n;
		}
}

const char *
route_template(int route)
{
	return route >= 0 && (size_t)route < nroutes ? routes[route].template : "none";
}

size_t
route_count(void)
{
	return nroutes;
}
