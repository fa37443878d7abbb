/* reply: the JSON bodies every response carries and the error envelope. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "corad/reply.h"
#include "corad/utf8.h"

static const struct {
	int		 status;
	const char	*name;
} errs[CORA_ERR__MAX] = {
	[CORA_OK] = { 200, "ok" },
	[CORA_ERR_BAD_REQUEST] = { 400, "bad_request" },
	[CORA_ERR_UNAUTHENTICATED] = { 401, "unauthenticated" },
	[CORA_ERR_FORBIDDEN] = { 403, "forbidden" },
	[CORA_ERR_NOT_FOUND] = { 404, "not_found" },
	[CORA_ERR_METHOD] = { 405, "method_not_allowed" },
	[CORA_ERR_CONFLICT] = { 409, "conflict" },
	[CORA_ERR_TOO_LARGE] = { 413, "body_too_large" },
	[CORA_ERR_VALIDATION] = { 422, "validation" },
	[CORA_ERR_UNPROCESSABLE] = { 422, "unprocessable" },
	[CORA_ERR_INTERNAL] = { 500, "internal" },
	[CORA_ERR_NOT_IMPLEMENTED] = { 501, "not_implemented" },
	[CORA_ERR_UNAVAILABLE] = { 503, "unavailable" },
	[CORA_ERR_TIMEOUT] = { 504, "timeout" },
};

int
cora_err_status(enum cora_err e)
{
	return (unsigned)e < CORA_ERR__MAX ? errs[e].status : 500;
}

const char *
cora_err_name(enum cora_err e)
{
	return (unsigned)e < CORA_ERR__MAX ? errs[e].name : "internal";
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

json_object *
reply_detail_new(const char *detail)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "detail", json_object_new_string(detail));
	return o;
}

static void
validation_append(json_object *list, const char *type, json_object *loc,
    const char *msg, json_object *input)
{
	json_object *e = json_object_new_object();

	json_object_object_add(e, "type", json_object_new_string(type));
	json_object_object_add(e, "loc", loc);
	json_object_object_add(e, "msg", json_object_new_string(msg));
	json_object_object_add(e, "input", input);
	json_object_array_add(list, e);
}

void
validation_add_loc(json_object *list, const char *type, json_object *loc, const char *msg,
    json_object *input)
{
	validation_append(list, type, loc, msg, input);
}

void
validation_add(json_object *list, const char *type, const char *loc0,
    const char *loc1, const char *msg, json_object *input)
{
	json_object *loc = json_object_new_array();

	json_object_array_add(loc, json_object_new_string(loc0));
	if (loc1 != NULL)
		json_object_array_add(loc, json_object_new_string(loc1));
	validation_append(list, type, loc, msg, input);
}

void
validation_add_at(json_object *list, const char *type, const char *loc0, int pos,
    const char *msg, json_object *input)
{
	json_object *loc = json_object_new_array();

	json_object_array_add(loc, json_object_new_string(loc0));
	json_object_array_add(loc, json_object_new_int(pos));
	validation_append(list, type, loc, msg, input);
}

json_object *
reply_validation_new(json_object *list)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "detail", list);
	return o;
}

/*
 * json-c writes the bytes of a string as they are: input echoed in an error
 * (a path, a query value) that is not UTF-8 would make the body invalid
 * JSON. Such bytes become U+FFFD here, in the serialised text (outside
 * strings there are none). The repaired text lives until the next call.
 */
const char *
reply_body_string(json_object *body, size_t *len)
{
	static char *fixed;
	size_t n, flen;
	const char *s = json_object_to_json_string_length(body,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	char *f = utf8_sanitize(s, n, &flen);

	free(fixed);
	fixed = f;
	if (f != NULL) {
		s = f;
		n = flen;
	}
	if (len != NULL)
		*len = n;
	return s;
}
