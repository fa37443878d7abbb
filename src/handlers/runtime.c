/*
 * The runtime's own operations: liveness and readiness, the operators'
 * /metrics and /status, MCP, and the OpenAPI document. They belong to no
 * context: no handler span, no authorization, no <verb> log lines.
 */
#include "config.h"

#include "corad/handlers.h"
#include "corad/openapi.h"
#include "corad/request.h"

static const struct schema str = { .type = SCHEMA_STRING };

static const struct schema health_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "status", &(const struct schema){ .type = SCHEMA_STRING,
		    .enums = (const char *const[]){ "ok", NULL } }, true },
		{ "version", &str, true },
		{ NULL, NULL, false } } };

static const struct schema ready_result = { .type = SCHEMA_OBJECT,
	.props = (const struct schema_prop[]){
		{ "status", &(const struct schema){ .type = SCHEMA_STRING,
		    .enums = (const char *const[]){ "ready", NULL } }, true },
		{ NULL, NULL, false } } };

/* A JSON-RPC 2.0 response: a result or an error, always with status 200. */
static const struct schema rpc_response = { .type = SCHEMA_OBJECT,
	.description = "A JSON-RPC 2.0 response (jsonrpc, id, and result or error).",
	.props = (const struct schema_prop[]){
		{ "jsonrpc", &(const struct schema){ .type = SCHEMA_STRING,
		    .enums = (const char *const[]){ "2.0", NULL } }, true },
		{ NULL, NULL, false } } };
static const struct schema rpc_result = {
	.description = "A response, or for a batch their array.",
	.one_of = (const struct schema *const[]){ &rpc_response,
	    &(const struct schema){ .type = SCHEMA_ARRAY, .items = &rpc_response }, NULL } };

enum cora_err
handle_openapi(struct request *r)
{
	json_object *doc = openapi_document();

	reply_json(r, 200, doc);
	json_object_put(doc);
	return CORA_OK;
}

const struct operation runtime_operations[] = {
	{ .name = "Health", .kind = OP_RUNTIME, .method = METHOD_GET, .path = "/health",
	  .handler = handle_health, .summary = "Liveness: the server answers (no database).",
	  .status = 200, .result = &health_result },
	{ .name = "Ready", .kind = OP_RUNTIME, .method = METHOD_GET, .path = "/ready",
	  .handler = handle_ready,
	  .summary = "Readiness: the database answers and its schema is current.",
	  .status = 200, .result = &ready_result, .errors = (const int[]){ 503, 0 } },
	{ .name = "Metrics", .kind = OP_RUNTIME, .method = METHOD_GET, .path = "/metrics",
	  .handler = handle_metrics, .summary = "Prometheus metrics of every worker.",
	  .status = 200, .content_type = "text/plain; version=0.0.4; charset=utf-8",
	  .errors = (const int[]){ 503, 0 }, .internal = true, .uncounted = true,
	  .status_socket = true },
	{ .name = "Status", .kind = OP_RUNTIME, .method = METHOD_GET, .path = "/status",
	  .handler = handle_status, .summary = "The pool and what every worker is doing.",
	  .status = 200, .errors = (const int[]){ 503, 0 }, .internal = true,
	  .status_socket = true },
	{ .name = "OpenApi", .kind = OP_RUNTIME, .method = METHOD_GET, .path = "/openapi.json",
	  .handler = handle_openapi, .summary = "This document.", .status = 200,
	  .internal = true },
	{ .name = "Mcp", .kind = OP_RUNTIME, .method = METHOD_POST, .path = "/mcp",
	  .handler = handle_mcp, .principal = true,
	  .summary = "MCP (Model Context Protocol) over Streamable HTTP, stateless: "
	      "initialize, ping, tools/list and tools/call, as JSON-RPC 2.0.",
	  .status = 200, .result = &rpc_result, .errors = (const int[]){ 202, 403, 415, 0 } },
	{ .name = NULL },
};
