/*
 * openapi: the OpenAPI 3.1 document of the registered operations. Nothing
 * in it is written by hand but the error shapes: every path, parameter,
 * body and response comes from the operations' declarations (op.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "corad/openapi.h"
#include "corad/reply.h"
#include "corad/route.h"

/* Statuses every operation can answer, besides its own (pipeline steps). */
struct status_use {
	int		 status;
	const char	*why;
};

static json_object *
ref(const char *name)
{
	char buf[96];
	json_object *o = json_object_new_object();

	snprintf(buf, sizeof(buf), "#/components/schemas/%s", name);
	json_object_object_add(o, "$ref", json_object_new_string(buf));
	return o;
}

static json_object *
media(json_object *schema, const char *type)
{
	json_object *c = json_object_new_object(), *m = json_object_new_object();

	json_object_object_add(m, "schema", schema);
	json_object_object_add(c, type, m);
	return c;
}

static json_object *
header_schema(const char *type, const char *description)
{
	json_object *h = json_object_new_object(), *s = json_object_new_object();

	json_object_object_add(s, "type", json_object_new_string(type));
	json_object_object_add(h, "schema", s);
	json_object_object_add(h, "description", json_object_new_string(description));
	return h;
}

/* A response: its description, body schema (NULL: none) and headers;
 * `retry` for a 409 that an Idempotency-Key still being processed gives. */
static json_object *
response(int status, const char *why, json_object *schema, const char *ctype, bool retry)
{
	json_object *r = json_object_new_object(), *h = json_object_new_object();

	json_object_object_add(r, "description", json_object_new_string(why));
	if (schema != NULL)
		json_object_object_add(r, "content", media(schema, ctype));
	json_object_object_add(h, "X-Correlation-Id", header_schema("string",
	    "The request's correlation id: its trace id as a UUID."));
	if (status == 405)
		json_object_object_add(h, "Allow", header_schema("string", "The methods the path takes."));
	if (status == 503 || (status == 409 && retry))
		json_object_object_add(h, "Retry-After", header_schema("integer",
		    status == 409 ? "With a 409 for an Idempotency-Key still being processed." :
		    "Seconds to wait before trying again."));
	json_object_object_add(r, "headers", h);
	return r;
}

static const char *
why_of(int status, bool idempotent)
{
	switch (status) {
	case 400: return "The request is malformed, or the domain refuses the command.";
	case 401: return "No principal, and this deployment requires one.";
	case 403: return "The authorization policy denies the operation.";
	case 404: return "Not found.";
	case 409: return idempotent ? "A conflict: the stream's version, the state, or an "
		      "Idempotency-Key still being processed." :
		      "A conflict: the stream's version or the state.";
	case 413: return "The request body exceeds MAX_REQUEST_BODY_SIZE_BYTES.";
	case 415: return "The body is not application/json.";
	case 422: return "The input fails validation.";
	case 500: return "An unexpected error.";
	case 503: return "The database is unavailable, or its schema is not current.";
	case 504: return "The request exceeded CORA_REQUEST_TIMEOUT_SECONDS.";
	default: return http_reason(status);
	}
}

/* An error response of the operation, unless it has one for that status. */
static void
add_error(json_object *responses, int status, const struct operation *op)
{
	char key[8];

	snprintf(key, sizeof(key), "%d", status);
	if (json_object_object_get_ex(responses, key, NULL))
		return;
	json_object_object_add(responses, key, response(status, why_of(status, op->idempotent),
	    ref(status == 422 ? "ErrorOrValidation" : "Error"), "application/json",
	    op->idempotent));
}

static json_object *
responses_of(const struct operation *op)
{
	json_object *res = json_object_new_object();
	char key[8];

	snprintf(key, sizeof(key), "%d", op->status);
	json_object_object_add(res, key, response(op->status, http_reason(op->status),
	    op->result != NULL ? schema_to_json(op->result) :
	    op->content_type != NULL ? json_object_new_object() : NULL,
	    op->content_type != NULL ? op->content_type : "application/json", false));
	for (const int *e = op->errors; e != NULL && *e != 0; e++) {
		if (*e < 400) {	/* another success, without a body (MCP's 202) */
			snprintf(key, sizeof(key), "%d", *e);
			json_object_object_add(res, key, response(*e, http_reason(*e), NULL, NULL, false));
		} else
			add_error(res, *e, op);
	}
	/* The pipeline's own answers (doc/design.md, "The request pipeline"). */
	add_error(res, 400, op);
	add_error(res, 413, op);
	add_error(res, 500, op);
	if (op->principal) {
		add_error(res, 401, op);
		add_error(res, 422, op);
	}
	if (op->context != NULL) {
		add_error(res, 403, op);
		add_error(res, 503, op);
		add_error(res, 504, op);
	}
	if (op->idempotent || op->params != NULL || op->body != NULL)
		add_error(res, 422, op);
	if (op->idempotent)
		add_error(res, 409, op);
	return res;
}

static json_object *
parameters_of(const struct operation *op)
{
	json_object *list = json_object_new_array();

	for (const struct op_param *p = op->params; p != NULL && p->name != NULL; p++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(p->name));
		json_object_object_add(o, "in", json_object_new_string(
		    p->in == OP_IN_PATH ? "path" : "query"));
		json_object_object_add(o, "required",
		    json_object_new_boolean(p->required || p->in == OP_IN_PATH));
		if (p->schema->type == SCHEMA_ARRAY) {
			json_object_object_add(o, "style", json_object_new_string("form"));
			json_object_object_add(o, "explode", json_object_new_boolean(true));
		}
		json_object_object_add(o, "schema", schema_to_json(p->schema));
		json_object_array_add(list, o);
	}
	if (op->idempotent) {
		json_object *o = json_object_new_object(), *s = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string("Idempotency-Key"));
		json_object_object_add(o, "in", json_object_new_string("header"));
		json_object_object_add(o, "required", json_object_new_boolean(false));
		json_object_object_add(o, "description", json_object_new_string(
		    "Makes a retry safe: the first request's result is replayed (1 to 255 characters)."));
		json_object_object_add(s, "type", json_object_new_string("string"));
		json_object_object_add(s, "minLength", json_object_new_int(1));
		json_object_object_add(s, "maxLength", json_object_new_int(255));
		json_object_object_add(o, "schema", s);
		json_object_array_add(list, o);
	}
	return list;
}

static json_object *
operation_of(const struct operation *op)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "operationId", json_object_new_string(op->name));
	json_object_object_add(o, "summary", json_object_new_string(op->summary));
	if (op->context != NULL) {
		json_object *tags = json_object_new_array();

		json_object_array_add(tags, json_object_new_string(op->context));
		json_object_object_add(o, "tags", tags);
	}
	if (op->params != NULL || op->idempotent)
		json_object_object_add(o, "parameters", parameters_of(op));
	if (op->body != NULL) {
		json_object *b = json_object_new_object();

		json_object_object_add(b, "required", json_object_new_boolean(true));
		json_object_object_add(b, "content", media(schema_to_json(op->body), "application/json"));
		json_object_object_add(o, "requestBody", b);
	}
	json_object_object_add(o, "responses", responses_of(op));
	return o;
}

/* {"detail": "..."} and the validation list: the two error shapes. */
static json_object *
components(void)
{
	json_object *c = json_object_new_object(), *s = json_object_new_object();

	json_object_object_add(s, "Error", json_tokener_parse(
	    "{\"type\":\"object\",\"required\":[\"detail\"],"
	    "\"properties\":{\"detail\":{\"type\":\"string\"}}}"));
	json_object_object_add(s, "ValidationError", json_tokener_parse(
	    "{\"type\":\"object\",\"required\":[\"type\",\"loc\",\"msg\",\"input\"],"
	    "\"properties\":{\"type\":{\"type\":\"string\"},"
	    "\"loc\":{\"type\":\"array\",\"items\":{\"type\":[\"string\",\"integer\"]}},"
	    "\"msg\":{\"type\":\"string\"},\"input\":{}}}"));
	json_object_object_add(s, "ErrorOrValidation", json_tokener_parse(
	    "{\"type\":\"object\",\"required\":[\"detail\"],\"properties\":{\"detail\":{\"oneOf\":["
	    "{\"type\":\"string\"},"
	    "{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/ValidationError\"}}]}}}"));
	json_object_object_add(c, "schemas", s);
	return c;
}

/* "get", "post", ...: a path item's keys. */
static const char *
method_key(enum http_method m)
{
	switch (m) {
	case METHOD_GET: return "get";
	case METHOD_POST: return "post";
	case METHOD_DELETE: return "delete";
	case METHOD_PUT: return "put";
	case METHOD_PATCH: return "patch";
	case METHOD_HEAD: return "head";
	case METHOD_OPTIONS: return "options";
	default: return "trace";
	}
}

json_object *
openapi_document(void)
{
	json_object *doc = json_object_new_object(), *info = json_object_new_object();
	json_object *paths = json_object_new_object(), *lic = json_object_new_object();

	json_object_object_add(doc, "openapi", json_object_new_string("3.1.0"));
	json_object_object_add(info, "title", json_object_new_string("corad"));
	json_object_object_add(info, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(info, "description", json_object_new_string(
	    "CORA's API as served by corad. Every response carries X-Correlation-Id; "
	    "errors are {\"detail\": text} or, for validation, a list. A method a path "
	    "does not take is answered 405, with Allow listing the methods it takes."));
	json_object_object_add(lic, "name", json_object_new_string("ISC"));
	json_object_object_add(lic, "identifier", json_object_new_string("ISC"));
	json_object_object_add(info, "license", lic);
	json_object_object_add(doc, "info", info);
	for (size_t i = 0; i < route_nops(); i++) {
		const struct operation *op = route_op_at(i);
		json_object *item;

		if (op->internal)
			continue;
		if (!json_object_object_get_ex(paths, op->path, &item)) {
			item = json_object_new_object();
			json_object_object_add(paths, op->path, item);
		}
		json_object_object_add(item, method_key(op->method), operation_of(op));
	}
	json_object_object_add(doc, "paths", paths);
	json_object_object_add(doc, "components", components());
	return doc;
}
