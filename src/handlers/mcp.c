/*
 * POST /mcp: the Model Context Protocol over Streamable HTTP, stateless
 * (SPEC section 13). JSON-RPC 2.0: initialize, ping, tools/list and
 * tools/call. Every tool runs the handler of its route (worker_call), so
 * authorization, idempotency, logs, spans and the event store behave as
 * through HTTP; the handler's reply becomes the tool result, and a 4xx is a
 * result with isError true.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "corad/alloc.h"
#include "corad/handlers.h"
#include "corad/idempotency.h"
#include "corad/json.h"
#include "corad/request.h"
#include "corad/route.h"
#include "corad/utf8.h"
#include "corad/worker.h"

#define MCP_PROTOCOL	"2025-06-18"	/* the newest revision corad speaks */

/* JSON-RPC 2.0 error codes. */
enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
};

static const char *const protocols[] = { "2025-06-18", "2025-03-26", "2024-11-05" };

static const struct tool {
	const char		*name;
	const char		*description;
	enum route_id		 route;
	enum http_method	 method;
	const char		*schema;	/* inputSchema, JSON */
} tools[] = {
	{ "register_actor", "Register a new actor (RegisterActor). Returns its actor_id.",
	  ROUTE_ACTORS, METHOD_POST,
	  "{\"type\":\"object\",\"properties\":{"
	  "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"
	  "\"kind\":{\"type\":\"string\",\"enum\":[\"human\",\"service_account\"],\"default\":\"human\"},"
	  "\"idempotency_key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255}},"
	  "\"required\":[\"name\"]}" },
	{ "deactivate_actor", "Deactivate an actor (DeactivateActor); terminal.",
	  ROUTE_ACTOR_DEACTIVATE, METHOD_POST,
	  "{\"type\":\"object\",\"properties\":{\"actor_id\":{\"type\":\"string\",\"format\":\"uuid\"}},"
	  "\"required\":[\"actor_id\"]}" },
	{ "forget_actor", "Erase an actor's profile (ForgetActor); its name becomes \"<deleted user>\".",
	  ROUTE_ACTOR_PROFILE, METHOD_DELETE,
	  "{\"type\":\"object\",\"properties\":{\"actor_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
	  "\"idempotency_key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":255}},"
	  "\"required\":[\"actor_id\"]}" },
	{ "get_actor", "Read one actor from its event stream (GetActor).",
	  ROUTE_ACTOR, METHOD_GET,
	  "{\"type\":\"object\",\"properties\":{\"actor_id\":{\"type\":\"string\",\"format\":\"uuid\"}},"
	  "\"required\":[\"actor_id\"]}" },
	{ "list_actors", "List actors, oldest first, a page at a time (ListActors).",
	  ROUTE_ACTORS, METHOD_GET,
	  "{\"type\":\"object\",\"properties\":{"
	  "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"default\":50},"
	  "\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"deactivated\"]},"
	  "\"cursor\":{\"type\":\"string\"}}}" },
};

/* Sends a JSON-RPC response: `result` or an error, taken over. */
static enum cora_err
rpc_reply(struct request *r, json_object *id, json_object *result, int code, const char *msg)
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
	reply_json(r, 200, o);
	json_object_put(o);
	return CORA_OK;
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
			if (strcmp(json_object_get_string(v), protocols[i]) == 0)
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

static json_object *
mcp_tools_list(void)
{
	json_object *res = json_object_new_object(), *list = json_object_new_array();

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		json_object *t = json_object_new_object();

		json_object_object_add(t, "name", json_object_new_string(tools[i].name));
		json_object_object_add(t, "description", json_object_new_string(tools[i].description));
		json_object_object_add(t, "inputSchema", json_tokener_parse(tools[i].schema));
		json_object_array_add(list, t);
	}
	json_object_object_add(res, "tools", list);
	return res;
}

/* A scalar argument as text ("" when absent); strings as they are. */
static const char *
arg_text(json_object *args, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(args, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/* Appends key=value to the request's query string (r->query_buf, grown as
 * needed), percent-encoding the value. */
static void
query_add(struct request *r, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t off, need;
	char *q;

	if (value == NULL)
		return;
	off = r->query_buf != NULL ? strlen(r->query_buf) : 0;
	/* "&" key "=" and at most three bytes per byte of the value. */
	need = off + 1 + strlen(key) + 1 + 3 * strlen(value) + 1;
	q = r->query_buf = xrealloc(r->query_buf, need);
	if (off > 0)
		q[off++] = '&';
	memcpy(q + off, key, strlen(key));
	off += strlen(key);
	q[off++] = '=';
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (isalnum(*p) || strchr("-_.~", *p) != NULL)
			q[off++] = (char)*p;
		else {
			q[off++] = '%';
			q[off++] = hex[*p >> 4];
			q[off++] = hex[*p & 15];
		}
	}
	q[off] = '\0';
}

/* Puts the tool's arguments where the route's handler reads them. */
static void
mcp_prepare(struct request *r, const struct tool *t, json_object *args)
{
	const char *id = arg_text(args, "actor_id");

	r->idem_surface = IDEM_SURFACE_MCP;
	r->idem_key = arg_text(args, "idempotency_key");
	utf8_copy(r->match.actor_id, sizeof(r->match.actor_id), id != NULL ? id : "");
	if (t->route == ROUTE_ACTORS && t->method == METHOD_POST) {
		json_object *body = json_object_new_object();

		json_object_object_foreach(args, k, v)
			if (strcmp(k, "idempotency_key") != 0)
				json_object_object_add(body, k, json_object_get(v));
		free(r->body);
		r->body = xstrdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
		r->body_len = strlen(r->body);
		json_object_put(body);
	}
	query_add(r, "cursor", arg_text(args, "cursor"));
	query_add(r, "limit", arg_text(args, "limit"));
	query_add(r, "status", arg_text(args, "status"));
	r->query = r->query_buf != NULL ? r->query_buf : "";
}

static enum cora_err
mcp_tools_call(struct request *r, json_object *id, json_object *params)
{
	json_object *name, *args = NULL, *res, *content, *text, *structured;
	const struct tool *t = NULL;
	enum cora_err e;
	int status;

	if (!json_object_object_get_ex(params, "name", &name) ||
	    !json_object_is_type(name, json_type_string))
		return rpc_reply(r, id, NULL, RPC_INVALID_PARAMS, "params.name must be a tool name");
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(json_object_get_string(name), tools[i].name) == 0)
			t = &tools[i];
	if (t == NULL)
		return rpc_reply(r, id, NULL, RPC_INVALID_PARAMS, "Unknown tool");
	if (json_object_object_get_ex(params, "arguments", &args) && args != NULL &&
	    !json_object_is_type(args, json_type_object))
		return rpc_reply(r, id, NULL, RPC_INVALID_PARAMS, "params.arguments must be an object");
	args = args != NULL ? json_object_get(args) : json_object_new_object();

	mcp_prepare(r, t, args);
	r->capture = true;
	if ((e = worker_call(r, t->route, t->method)) != CORA_OK)
		reply_error(r, e);
	r->capture = false;
	status = r->status;
	r->status = 0;
	r->retry_after = 0;
	json_object_put(args);

	if (status >= 500) {
		char msg[200];

		snprintf(msg, sizeof(msg), "The tool failed with status %d: %s", status,
		    r->captured_body != NULL ? r->captured_body : "");
		return rpc_reply(r, id, NULL, RPC_INTERNAL_ERROR, msg);
	}
	structured = r->captured_body != NULL ? json_tokener_parse(r->captured_body) : NULL;
	if (structured == NULL)
		structured = json_object_new_object();	/* 204: no body */
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
	return rpc_reply(r, id, res, 0, NULL);
}

enum cora_err
handle_mcp(struct request *r)
{
	json_object *msg = NULL, *id = NULL, *v, *method, *params = NULL;
	enum cora_err e;
	const char *m;
	size_t bad;

	if (!json_read(r->body, r->body_len, &msg, &bad) || msg == NULL)
		return rpc_reply(r, NULL, NULL, RPC_PARSE_ERROR, "Parse error");
	if (json_object_is_type(msg, json_type_object))
		json_object_object_get_ex(msg, "id", &id);
	if (!json_object_is_type(msg, json_type_object) ||
	    !json_object_object_get_ex(msg, "jsonrpc", &v) || v == NULL ||
	    strcmp(json_object_get_string(v), "2.0") != 0 ||
	    !json_object_object_get_ex(msg, "method", &method) ||
	    !json_object_is_type(method, json_type_string)) {
		e = rpc_reply(r, id, NULL, RPC_INVALID_REQUEST, "Invalid Request");
		goto out;
	}
	if (!json_object_object_get_ex(msg, "id", NULL)) {
		/* A notification: nothing to answer. */
		reply_send(r, 202, NULL, NULL, 0);
		e = CORA_OK;
		goto out;
	}
	json_object_object_get_ex(msg, "params", &params);
	m = json_object_get_string(method);
	if (strcmp(m, "initialize") == 0)
		e = rpc_reply(r, id, mcp_initialize(params), 0, NULL);
	else if (strcmp(m, "ping") == 0)
		e = rpc_reply(r, id, json_object_new_object(), 0, NULL);
	else if (strcmp(m, "tools/list") == 0)
		e = rpc_reply(r, id, mcp_tools_list(), 0, NULL);
	else if (strcmp(m, "tools/call") == 0)
		e = mcp_tools_call(r, id, params);
	else
		e = rpc_reply(r, id, NULL, RPC_METHOD_NOT_FOUND, "Method not found");
out:
	json_object_put(msg);
	return e;
}
