/* dispatch: an operation run the same way for HTTP routes and MCP tools. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corad/alloc.h"
#include "corad/authz.h"
#include "corad/config.h"
#include "corad/deadline.h"
#include "corad/dispatch.h"
#include "corad/idempotency.h"
#include "corad/proc.h"
#include "corad/report.h"
#include "corad/request.h"
#include "corad/store.h"
#include "corad/strutil.h"

void
dispatch_log(struct request *r, enum log_level lvl, const char *what,
    const struct log_field *extra)
{
	const struct operation *op = r->op;
	struct log_field f[8 + ROUTE_PARAMS_MAX + 8];
	size_t n = 0;
	char event[64];

	/* .success, .denied or .failed ends an operation's lines, once
	 * (request_end_operation() clears it for the next). */
	if (strcmp(what, "start") != 0)
		r->end_logged = true;
	if (!log_enabled(lvl))
		return;
	snprintf(event, sizeof(event), "%s.%s", op->verb, what);
	f[n++] = LF_STR("correlation_id", r->correlation_id);
	/* causation_id is present (null) on command lines only. */
	if (op->kind == OP_COMMAND)
		f[n++] = LF_NULL("causation_id");
	f[n++] = LF_STR("principal_id", r->principal_id);
	f[n++] = LF_STR(op_name_key(op), op->name);
	for (const struct op_param *p = op->params; p != NULL && p->name != NULL; p++)
		if (p->in == OP_IN_PATH && request_text(r, p->name) != NULL)
			f[n++] = LF_STR(p->name, request_text(r, p->name));
	for (; extra != NULL && extra->type != LF_T_END && n < sizeof(f) / sizeof(f[0]) - 1; extra++)
		f[n++] = *extra;
	f[n].type = LF_T_END;
	log_emit(lvl, event, f);
}

enum cora_err
dispatch_authorize(struct request *r)
{
	struct authz_verdict v;
	enum cora_err e;

	authz_decide(r->policy, r->principal_id, r->op->name, &v);
	str_copy(r->verdict, sizeof(r->verdict), v.reason);
	if (v.allowed)
		return CORA_OK;
	dispatch_log(r, LOG_WARNING, "denied", LOG_FIELDS(LF_STR("reason", v.reason)));
	/* The denial is history too; it needs the database like the command. */
	if ((e = store_ready(r->store)) != CORA_OK ||
	    (e = store_verdict(r->store, r, r->op->name, false, v.reason)) != CORA_OK)
		return e;
	return request_fail(r, CORA_ERR_FORBIDDEN, "%s", v.reason);
}

enum cora_err
dispatch_create(struct request *r, enum cora_err invalid, const char *detail,
    char id[UUID_STR_LEN])
{
	uint8_t raw[16];
	enum cora_err e;

	if ((e = dispatch_authorize(r)) != CORA_OK)
		return e;
	if (invalid != CORA_OK)
		return request_fail(r, invalid, "%s", detail);
	if ((e = store_ready(r->store)) != CORA_OK)
		return e;
	uuid_make_v7(raw);
	uuid_format(raw, id);
	return CORA_OK;
}

/* --- inputs ---------------------------------------------------------------- */

static json_object *
loc2(const char *a, const char *b)
{
	json_object *l = json_object_new_array();

	json_object_array_add(l, json_object_new_string(a));
	json_object_array_add(l, json_object_new_string(b));
	return l;
}

/* The raw value of a query parameter as text: the last one of that name
 * (an array of all of them for a list parameter), or NULL. */
static json_object *
query_value(const char *qs, const struct op_param *p)
{
	char *copy = xstrdup(qs), *save = NULL;
	json_object *v = p->schema->type == SCHEMA_ARRAY ? json_object_new_array() : NULL;

	for (char *pair = strtok_r(copy, "&", &save); pair != NULL; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');

		if (eq != NULL)
			*eq++ = '\0';
		str_percent_decode(pair, 1);
		if (strcmp(pair, p->name) != 0)
			continue;
		if (eq == NULL)
			eq = pair + strlen(pair);
		str_percent_decode(eq, 1);
		if (p->schema->type == SCHEMA_ARRAY)
			json_object_array_add(v, json_object_new_string(eq));
		else {
			json_object_put(v);
			v = json_object_new_string(eq);
		}
	}
	free(copy);
	if (v != NULL && json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0) {
		json_object_put(v);
		v = NULL;
	}
	return v;
}

/* The path's segment for {name} as a JSON string, or NULL. */
static json_object *
path_value(const struct request *r, const char *name)
{
	for (size_t i = 0; i < r->match.nparams; i++)
		if (strcmp(r->match.params[i].name, name) == 0)
			return json_object_new_string_len(r->match.params[i].value,
			    (int)r->match.params[i].len);
	return NULL;
}

/*
 * A tool's argument for the parameter p: whether there is one, in *raw
 * (JSON null is NULL), and the name its caller gave it in *name: the
 * parameter's own or its alias. JSON null is no argument where the
 * parameter is optional, as the original's tools take such arguments.
 * Both names at once is an error in errs: false.
 */
static bool
tool_arg(const struct operation *op, const struct op_param *p, json_object *args,
    json_object *errs, json_object **raw, const char **name, bool *present)
{
	const char *alias = op_param_alias(op, p);
	json_object *other = NULL;

	*present = json_object_object_get_ex(args, p->name, raw);
	if (alias != NULL && json_object_object_get_ex(args, alias, &other)) {
		if (*present) {
			char *msg = xasprintf("Value error, pass either %s or %s, not both",
			    p->name, alias);

			validation_add(errs, "value_error", "query", alias, msg, json_object_get(other));
			free(msg);
			return false;
		}
		*present = true;
		*raw = other;
		*name = alias;
	}
	if (*raw == NULL && !p->required && p->in != OP_IN_PATH)
		*present = false;
	return true;
}

/*
 * A tool's idempotency_key: a string of 1..255 characters without a NUL
 * (which a C string would cut, making "a\u0000b" and "a\u0000c" one key),
 * or none; errors at ["idempotency_key"]. The text lives as long as args.
 */
static const char *
tool_idem_key(struct schema_check *c, json_object *args)
{
	json_object *v = NULL, *loc, *val = NULL;
	bool present = json_object_object_get_ex(args, "idempotency_key", &v);
	const char *key = NULL;

	if (!present || v == NULL)
		return NULL;
	loc = json_object_new_array();
	json_object_array_add(loc, json_object_new_string("idempotency_key"));
	if (schema_validate(c, &idem_key_schema, false, true, v, loc, args, &val)) {
		key = json_object_get_string(v);
		if (strlen(key) != (size_t)json_object_get_string_len(v)) {
			validation_add_loc(c->errs, "string_pattern_mismatch", json_object_get(loc),
			    "String should not contain a NUL character", json_object_get(v));
			key = NULL;
		}
	}
	json_object_put(val);
	json_object_put(loc);
	return key;
}

/*
 * Step 4: the operation's parameters (from the path and the query string,
 * or from an MCP tool's arguments when `args` is set) and its body.
 * CORA_ERR_VALIDATION with every error in declaration order: path and
 * query first, then the body.
 */
static enum cora_err
dispatch_validate(struct request *r, json_object *args)
{
	const struct operation *op = r->op;
	struct schema_check c = { .errs = json_object_new_array() };

	json_object_put(r->params);
	json_object_put(r->input);
	r->input = NULL;
	r->params = json_object_new_object();
	for (const struct op_param *p = op->params; p != NULL && p->name != NULL; p++) {
		json_object *raw = NULL, *val = NULL, *loc;
		const char *name = p->name;
		bool present;

		if (args != NULL) {
			if (!tool_arg(op, p, args, c.errs, &raw, &name, &present))
				continue;
			raw = json_object_get(raw);
		} else if (p->in == OP_IN_PATH) {
			raw = path_value(r, p->name);
			present = raw != NULL;
		} else {
			raw = query_value(r->query, p);
			present = raw != NULL;
		}
		loc = loc2(p->in == OP_IN_PATH ? "path" : "query", name);
		if (schema_validate(&c, p->schema, p->required, present, raw, loc, NULL, &val) &&
		    val != NULL)
			json_object_object_add(r->params, p->name, val);
		json_object_put(loc);
		json_object_put(raw);
	}
	if (args != NULL && op->idempotent)
		r->idem_key = tool_idem_key(&c, args);
	if (op->body != NULL && args == NULL && r->body_len > 0 && !request_body_is_json(r))
		/* Bytes, as the original takes a body of another type: no
		 * model reads them. */
		validation_add(c.errs, "model_attributes_type", "body", NULL,
		    "Input should be a valid dictionary or object to extract fields from",
		    json_object_new_string_len(r->body, (int)r->body_len));
	else if (op->body != NULL && args == NULL)
		r->input = schema_validate_body(op->body, r->body, r->body_len, c.errs);
	else if (op->body != NULL) {
		/* A tool's body fields are its other arguments. */
		json_object *body = json_object_new_object(), *loc = json_object_new_array();

		json_object_object_foreach(args, k, v)
			json_object_object_add(body, k, json_object_get(v));
		json_object_array_add(loc, json_object_new_string("body"));
		c.json = true;
		if (!schema_validate(&c, op->body, true, true, body, loc, NULL, &r->input) &&
		    c.undecodable)
			validation_add_at(c.errs, "json_invalid", "body", 0, "JSON decode error",
			    json_object_new_object());
		json_object_put(loc);
		json_object_put(body);
	}
	if (json_object_array_length(c.errs) == 0) {
		json_object_put(c.errs);
		return CORA_OK;
	}
	r->error_validation = c.errs;
	return CORA_ERR_VALIDATION;
}

/* The command as the Idempotency-Key's hash sees it: every validated input
 * (the body's fields as sent, with their defaults, and the parameters). */
static json_object *
dispatch_command(const struct request *r)
{
	json_object *cmd = json_object_new_object();

	json_object_object_foreach(r->params, k, v)
		json_object_object_add(cmd, k, json_object_get(v));
	if (r->input != NULL) {
		json_object_object_foreach(r->input, k2, v2)
			json_object_object_add(cmd, k2, json_object_get(v2));
	}
	return cmd;
}

/* --- running --------------------------------------------------------------- */

enum cora_err
dispatch_timeout(struct request *r)
{
	/* A write whose commit was sent when the session had to be cut (the
	 * server did not act on the cancel) may have been applied: the answer
	 * must not say it was not. */
	bool unknown = r->store != NULL && r->store->tx_unknown;

	log_error("worker.deadline", LF_STR("correlation_id", r->correlation_id),
	    LF_STR("method", r->method_name), LF_STR("path", r->path),
	    LF_DBL("timeout_seconds", r->rt->cfg->request_timeout),
	    LF_STR("outcome", unknown ? "unknown" : "cancelled"));
	if (unknown)
		return request_fail(r, CORA_ERR_TIMEOUT,
		    "Request exceeded %g s; the database did not confirm the cancel, so the "
		    "command may have been applied (correlation id %s)",
		    r->rt->cfg->request_timeout, r->correlation_id);
	return request_fail(r, CORA_ERR_TIMEOUT,
	    "Request exceeded %g s and was cancelled (correlation id %s)",
	    r->rt->cfg->request_timeout, r->correlation_id);
}

/* An error, settled with the Idempotency-Key before the client hears it: a
 * claimed key keeps a 4xx for replays and is released after a 5xx. */
static enum cora_err
dispatch_fail(struct request *r, enum cora_err e)
{
	char extra[128];
	json_object *body;
	int status;

	if (deadline_expired() && e != CORA_ERR_VALIDATION)
		e = dispatch_timeout(r);
	status = reply_error_render(r, e, extra, &body);
	if (r->op->context != NULL && !r->end_logged)
		dispatch_log(r, status >= 500 ? LOG_ERROR : LOG_INFO, "failed",
		    LOG_FIELDS(LF_INT("status", status)));
	idem_settle(r, status, reply_body_string(body, NULL));
	reply_json_headers(r, status, extra, body);
	json_object_put(body);
	return e;
}

static enum cora_err
dispatch_run(struct request *r, json_object *args)
{
	const struct operation *op = r->op;
	enum cora_err e;
	uint8_t id[8];
	uint64_t start;
	bool replayed = false;

	if ((e = dispatch_validate(r, args)) != CORA_OK)
		return dispatch_fail(r, e);
	if (op->context == NULL)
		return (e = op->handler(r)) == CORA_OK || r->status != 0 ? e : dispatch_fail(r, e);
	if (op->log_start != NULL)
		op->log_start(r);
	else
		dispatch_log(r, LOG_INFO, "start", NULL);
	if (op->idempotent) {
		json_object *cmd = op->idem_command != NULL ? op->idem_command(r) :
		    dispatch_command(r);

		e = idem_claim(r, op->name, cmd, &replayed);
		json_object_put(cmd);
		if (e != CORA_OK)
			return dispatch_fail(r, e);
		if (replayed)
			return CORA_OK;
	}
	trace_new_span_id(id);
	start = r->export_spans ? trace_now_ns() : 0;
	trace_log_span(&r->trace, id);
	e = op->handler(r);
	trace_log_span(&r->trace, r->server_span);
	report_span_operation(r, id, start, e);
	if (e == CORA_OK)
		return CORA_OK;
	return dispatch_fail(r, e);
}

enum cora_err
dispatch_http(struct request *r)
{
	return dispatch_run(r, NULL);
}

void
dispatch_release(struct request *r)
{
	store_rollback(r->store);
	r->store->tx_unknown = false;
	idem_release(r);
}

void
dispatch_done(struct request *r)
{
	dispatch_release(r);
	request_end_operation(r);
}

enum cora_err
dispatch_tool(struct request *r, const struct operation *op, json_object *args)
{
	const struct operation *outer = r->op;
	enum cora_err e;

	r->op = op;
	r->capture = true;
	e = dispatch_run(r, args);
	r->capture = false;
	r->op = outer;
	return e;
}
