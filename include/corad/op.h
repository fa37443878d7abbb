/*
 * op: the one description of an operation (doc/design.md, "Operations").
 * A context declares each of its commands and queries once, as a const
 * struct operation; the router, the dispatch, authorization's list of
 * names, the MCP tools and the OpenAPI document are all made from these.
 * The runtime's own routes (/health, /metrics, /mcp, ...) are operations
 * too, without a context.
 */
#ifndef CORAD_OP_H
#define CORAD_OP_H

#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "corad/reply.h"
#include "corad/schema.h"

struct request;

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

enum op_kind {
	OP_RUNTIME,	/* the runtime's own: health, ready, metrics, status, MCP, OpenAPI */
	OP_QUERY,	/* reads; allowed queries leave no verdict row */
	OP_COMMAND,	/* writes events; causation_id in its logs */
};

enum op_in {
	OP_IN_PATH,	/* a {name} segment of the path */
	OP_IN_QUERY,	/* ?name=value */
};

/* A path or query parameter. */
struct op_param {
	const char		*name;
	enum op_in		 in;
	const struct schema	*schema;
	bool			 required;	/* path parameters always are */
};

typedef enum cora_err (*op_handler)(struct request *r);

struct operation {
	const char		*context;	/* "access"; NULL: the runtime's own */
	const char		*name;		/* "RegisterActor": authorization, spans */
	const char		*verb;		/* "register_actor": log events <verb>.<what> */
	enum op_kind		 kind;
	enum http_method	 method;
	const char		*path;		/* "/actors/{actor_id}" */
	op_handler		 handler;
	/* Logs <verb>.start with the operation's own fields; NULL: the
	 * fields every start line has (dispatch.c). */
	void			(*log_start)(struct request *r);
	const char		*summary;	/* OpenAPI summary, MCP description */
	const struct op_param	*params;	/* path and query; ended by a NULL name */
	const struct schema	*body;		/* request body (an object), or NULL */
	bool			 idempotent;	/* takes an Idempotency-Key */
	/* The command as the key's hash sees it (a new object), when two
	 * inputs that differ as sent are the same command (a set given in
	 * another order); NULL: every validated input as it is. */
	json_object		*(*idem_command)(const struct request *r);
	/* The success body's key whose value alone the key's row keeps, as
	 * the original caches the command's result (a caution's id, a JSON
	 * string); a replay answers {idem_result: value}. NULL: the body. */
	const char		*idem_result;
	bool			 principal;	/* pipeline step 3 applies */
	const char		*tool;		/* MCP tool name; NULL: not a tool */
	const char		*tool_echo;	/* a tool answers a body-less success
						 * with {tool_echo: that parameter} */
	/* Other names a tool's caller may give a parameter: pairs of the
	 * parameter's name and the other, ended by a NULL. */
	const char *const	*tool_aliases;
	int			 status;	/* success: 200, 201, 204 */
	const char		*content_type;	/* success body; NULL: application/json */
	const struct schema	*result;	/* success body, NULL: none or not JSON */
	const int		*errors;	/* error statuses it answers, 0-ended
						 * (below 400: another success, no body) */
	bool			 internal;	/* for operators: kept out of OpenAPI */
	bool			 uncounted;	/* not in the metrics (/metrics itself) */
	bool			 status_socket;	/* also served on CORA_STATUS_LISTEN */
};

/* "RegisterActor" is a command or a query name: "command_name" or "query_name". */
static inline const char *
op_name_key(const struct operation *op)
{
	return op->kind == OP_COMMAND ? "command_name" : "query_name";
}

/* The other name a tool's caller may give the parameter p of op, or NULL. */
static inline const char *
op_param_alias(const struct operation *op, const struct op_param *p)
{
	for (const char *const *a = op->tool_aliases; a != NULL && a[0] != NULL; a += 2)
		if (strcmp(a[0], p->name) == 0)
			return a[1];
	return NULL;
}

#endif
