/*
 * POST /mcp: the Model Context Protocol over Streamable HTTP, stateless
 * (doc/design.md, "MCP"). JSON-RPC 2.0: initialize, ping, tools/list and
 * tools/call, one message or a batch of them. The tools are the
 * operations that name one (op.h); a call runs the operation through
 * dispatch like its route, so validation, authorization, idempotency,
 * logs, spans and the event store behave as through HTTP; its reply
 * becomes the tool result, and a 4xx is a result with isError true.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "corad/alloc.h"
#include "corad/config.h"
#include "corad/dispatch.h"
#include "corad/handlers.h"
#include "corad/idempotency.h"
#include "corad/json.h"
#include "corad/proc.h"
#include "corad/request.h"
#include "corad/route.h"
#include "corad/strutil.h"

#define MCP_PROTOCOL	"2025-06-18"	/* the newest revision corad speaks */
#define MCP_BATCH_MAX	50		/* messages in one JSON-RPC batch */

/* JSON-RPC 2.0 error codes. */
enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
};

static const char *const protocols[] = { "2025-06-18", "2025-03-26", "2024-11-05" };

/* A JSON-RPC response: `result` or an error, taken over. */
static json_object *
rpc_response(json_object *id, json_object *result, int code, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", json_object_get(id));
	if (result != NULL)
		json_object_object_add(o, "result", result);
	else {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "code", json_object_new_int(code));
		json_object_object_add(e, "message", json_object_new_string(msg));
		json_object_object_add(o, "error", e);
	}
	return o;
}

static json_object *
mcp_initialize(json_object *params)
{
	json_object *res = json_object_new_object(), *caps = json_object_new_object(), *t, *info, *v;
	const char *version = MCP_PROTOCOL;

	/* The client's revision when corad speaks it, else corad's newest. */
	if (json_object_object_get_ex(params, "protocolVersion", &v) &&
	    json_object_is_type(v, json_type_string))
		for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
			if (json_str_is(v, protocols[i]))
				version = protocols[i];
	json_object_object_add(res, "protocolVersion", json_object_new_string(version));
	t = json_object_new_object();
	json_object_object_add(t, "listChanged", json_object_new_boolean(false));
	json_object_object_add(caps, "tools", t);
	json_object_object_add(res, "capabilities", caps);
	info = json_object_new_object();
	json_object_object_add(info, "name", json_object_new_string("corad"));
	json_object_object_add(info, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(res, "serverInfo", info);
	return res;
}

/* A tool's arguments: its operation's parameters and body fields, and an
 * idempotency_key where the operation takes one. */
static json_object *
mcp_input_schema(const struct operation *op)
{
	json_object *s = json_object_new_object(), *props = json_object_new_object();
	json_object *req = json_object_new_array();

	json_object_object_add(s, "type", json_object_new_string("object"));
	for (const struct op_param *p = op->params; p != NULL && p->name != NULL; p++) {
		json_object_object_add(props, p->name, schema_to_json(p->schema));
		if (p->required || p->in == OP_IN_PATH)
			json_object_array_add(req, json_object_new_string(p->name));
	}
	for (const struct schema_prop *p = op->body != NULL ? op->body->props : NULL;
	    p != NULL && p->name != NULL; p++) {
		json_object_object_add(props, p->name, schema_to_json(p->schema));
		if (p->required)
			json_object_array_add(req, json_object_new_string(p->name));
	}
	if (op->idempotent)
		json_object_object_add(props, "idempotency_key", schema_to_json(&idem_key_schema));
	json_object_object_add(s, "properties", props);
	if (json_object_array_length(req) > 0)
		json_object_object_add(s, "required", req);
	else
		json_object_put(req);
	return s;
}

static json_object *
mcp_tools_list(void)
{
	json_object *res = json_object_new_object(), *list = json_object_new_array();

	for (size_t i = 0; i < route_nops(); i++) {
		const struct operation *op = route_op_at(i);
		json_object *t;

		if (op->tool == NULL)
			continue;
		t = json_object_new_object();
		json_object_object_add(t, "name", json_object_new_string(op->tool));
		json_object_object_add(t, "description", json_object_new_string(op->summary));
		json_object_object_add(t, "inputSchema", mcp_input_schema(op));
		json_object_array_add(list, t);
	}
	json_object_object_add(res, "tools", list);
	return res;
}

static json_object *
mcp_tools_call(struct request *r, json_object *id, json_object *params)
{
	json_object *name, *args = NULL, *res, *content, *text, *structured;
	const struct operation *op;
	int status;

	if (!json_object_object_get_ex(params, "name", &name) ||
	    !json_object_is_type(name, json_type_string))
		return rpc_response(id, NULL, RPC_INVALID_PARAMS, "params.name must be a tool name");
	if (!json_str_plain(name) || (op = route_find_tool(json_object_get_string(name))) == NULL)
		return rpc_response(id, NULL, RPC_INVALID_PARAMS, "Unknown tool");
	if (json_object_object_get_ex(params, "arguments", &args) && args != NULL &&
	    !json_object_is_type(args, json_type_object))
		return rpc_response(id, NULL, RPC_INVALID_PARAMS, "params.arguments must be an object");
	args = args != NULL ? json_object_get(args) : json_object_new_object();

	r->idem_surface = IDEM_SURFACE_MCP;
	(void)dispatch_tool(r, op, args);
	status = r->status;

	if (status >= 500) {
		/* Whole: a 504's text says the command may have been applied and
		 * names the correlation id to look it up by. */
		char *msg = xasprintf("The tool failed with status %d: %s", status,
		    r->captured_body != NULL ? r->captured_body : "");
		json_object *o;

		dispatch_done(r);
		json_object_put(args);
		o = rpc_response(id, NULL, RPC_INTERNAL_ERROR, msg);
		free(msg);
		return o;
	}
	structured = r->captured_body != NULL ? json_parse_stored(r->captured_body) : NULL;
	if (structured == NULL) {	/* 204: no body */
		structured = json_object_new_object();
		if (op->tool_echo != NULL && status < 400)
			json_object_object_add(structured, op->tool_echo,
			    json_object_get(request_value(r, op->tool_echo)));
	}
	res = json_object_new_object();
	content = json_object_new_array();
	text = json_object_new_object();
	json_object_object_add(text, "type", json_object_new_string("text"));
	json_object_object_add(text, "text", json_object_new_string(
	    json_object_to_json_string_ext(structured, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)));
	json_object_array_add(content, text);
	json_object_object_add(res, "content", content);
	json_object_object_add(res, "structuredContent", structured);
	json_object_object_add(res, "isError", json_object_new_boolean(status >= 400));
	dispatch_done(r);
	json_object_put(args);
	return rpc_response(id, res, 0, NULL);
}

/*
 * Whether an id can be answered with: a string, or an integer json-c
 * holds exactly. It keeps 64 bits, and puts any integer beyond them at
 * UINT64_MAX or INT64_MIN: an id there may not be the one sent.
 */
static bool
rpc_id_valid(json_object *id)
{
	if (json_object_is_type(id, json_type_string))
		return true;
	return json_object_is_type(id, json_type_int) &&
	    json_object_get_int64(id) != INT64_MIN && json_object_get_uint64(id) != UINT64_MAX;
}

/*
 * One JSON-RPC message: its response, or NULL when it gets none (a
 * notification, or the client's answer to a request of ours).
 */
static json_object *
mcp_message(struct request *r, json_object *msg)
{
	json_object *id = NULL, *v, *method, *params = NULL;
	bool has_id, has_method;

	if (!json_object_is_type(msg, json_type_object))
		return rpc_response(NULL, NULL, RPC_INVALID_REQUEST, "Invalid Request");
	/* An id is a string or an integer (MCP: never null); one that is not
	 * cannot be answered with, so the error carries null. */
	has_id = json_object_object_get_ex(msg, "id", &id);
	if (has_id && !rpc_id_valid(id))
		return rpc_response(NULL, NULL, RPC_INVALID_REQUEST, "Invalid Request");
	if (!json_object_object_get_ex(msg, "jsonrpc", &v) || !json_str_is(v, "2.0"))
		return rpc_response(id, NULL, RPC_INVALID_REQUEST, "Invalid Request");
	has_method = json_object_object_get_ex(msg, "method", &method) &&
	    json_object_is_type(method, json_type_string);
	if ((has_method && !has_id) || (!has_method && has_id &&
	    (json_object_object_get_ex(msg, "result", NULL) ||
	    json_object_object_get_ex(msg, "error", NULL))))
		return NULL;
	if (!has_method)
		return rpc_response(id, NULL, RPC_INVALID_REQUEST, "Invalid Request");
	json_object_object_get_ex(msg, "params", &params);
	if (json_str_is(method, "initialize"))
		return rpc_response(id, mcp_initialize(params), 0, NULL);
	if (json_str_is(method, "ping"))
		return rpc_response(id, json_object_new_object(), 0, NULL);
	if (json_str_is(method, "tools/list"))
		return rpc_response(id, mcp_tools_list(), 0, NULL);
	if (json_str_is(method, "tools/call"))
		return mcp_tools_call(r, id, params);
	return rpc_response(id, NULL, RPC_METHOD_NOT_FOUND, "Method not found");
}

/* Sends what a message or a batch answers: JSON, or 202 without a body
 * when there is nothing to answer. Takes `out` over. */
static enum cora_err
mcp_send(struct request *r, json_object *out)
{
	if (out == NULL)
		reply_send(r, 202, NULL, NULL, 0);
	else
		reply_json(r, 200, out);
	json_object_put(out);
	return CORA_OK;
}

/* An HTTP error before JSON-RPC: {"detail": why}. */
static enum cora_err
mcp_refuse(struct request *r, int status, const char *why)
{
	json_object *b = json_object_new_object();

	json_object_object_add(b, "detail", json_object_new_string(why));
	reply_json(r, status, b);
	json_object_put(b);
	return CORA_OK;
}

enum cora_err
handle_mcp(struct request *r)
{
	const char *origin = FCGX_GetParam("HTTP_ORIGIN", r->fcgi->envp);
	json_object *msg = NULL, *out;
	enum cora_err e;
	size_t bad, n;

	/* A browser's page may only call the tools from an origin the
	 * operator listed: a page that rebinds its own name to this server's
	 * address is of its origin to the browser (doc/design.md, "MCP"). */
	if (origin != NULL && !config_origin_allowed(r->rt->cfg, origin))
		return mcp_refuse(r, 403, "Origin not allowed: list it in CORA_MCP_ALLOWED_ORIGINS");
	/* JSON-RPC comes as JSON: a page of another site may post a form or
	 * text/plain without asking first. */
	if (!request_body_is_json(r))
		return mcp_refuse(r, 415, "Unsupported Media Type: Content-Type must be application/json");
	if (!json_read(r->body, r->body_len, &msg, &bad) || msg == NULL)
		return mcp_send(r, rpc_response(NULL, NULL, RPC_PARSE_ERROR, "Parse error"));
	n = json_object_is_type(msg, json_type_array) ? json_object_array_length(msg) : 0;
	if (n == 0)		/* one message (an empty batch is an invalid one) */
		e = mcp_send(r, mcp_message(r, msg));
	else if (n > MCP_BATCH_MAX)
		e = mcp_send(r, rpc_response(NULL, NULL, RPC_INVALID_REQUEST,
		    "Invalid Request: a batch holds at most " STR(MCP_BATCH_MAX) " messages"));
	else {
		/* A batch (revisions 2025-03-26 and 2024-11-05): the responses
		 * in an array, in the order of their messages. */
		out = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *res = mcp_message(r, json_object_array_get_idx(msg, i));

			if (res != NULL)
				json_object_array_add(out, res);
		}
		if (json_object_array_length(out) == 0) {
			json_object_put(out);
			out = NULL;
		}
		e = mcp_send(r, out);
	}
	json_object_put(msg);
	return e;
}
