/* reply: the JSON bodies every response carries and the error envelope. */
#ifndef CORAD_REPLY_H
#define CORAD_REPLY_H

#include <stddef.h>
#include <json-c/json.h>

/*
 * Outcome of a pipeline step or a handler. Handlers return one of these and
 * never print a response by hand; reply_error() turns it into a status and a
 * JSON body.
 */
enum cora_err {
	CORA_OK = 0,		/* success: the handler has replied itself */
	CORA_ERR_BAD_REQUEST,	/* 400 {"detail": message} */
	CORA_ERR_UNAUTHENTICATED,/* 401 principal required and absent */
	CORA_ERR_FORBIDDEN,	/* 403 {"detail": reason} */
	CORA_ERR_NOT_FOUND,	/* 404 {"detail": message or "Not Found"} */
	CORA_ERR_METHOD,	/* 405 {"detail":"Method Not Allowed"} + Allow */
	CORA_ERR_CONFLICT,	/* 409 {"detail": message} */
	CORA_ERR_TOO_LARGE,	/* 413 body over MAX_REQUEST_BODY_SIZE_BYTES */
	CORA_ERR_VALIDATION,	/* 422 {"detail":[validation errors]} */
	CORA_ERR_UNPROCESSABLE,	/* 422 {"detail": message}: bad cursor, reused key */
	CORA_ERR_INTERNAL,	/* 500 {"detail":"Internal Server Error"} */
	CORA_ERR_NOT_IMPLEMENTED,/* 501 the route exists, its handler does not yet */
	CORA_ERR_UNAVAILABLE,	/* 503 {"detail":"Database unavailable"} + Retry-After */
	CORA_ERR_TIMEOUT,	/* 504 past CORA_REQUEST_TIMEOUT_SECONDS */
	CORA_ERR__MAX
};

/* HTTP status of an error code (200 for CORA_OK). */
int		 cora_err_status(enum cora_err e);
/* Short name of an error code, for logs ("not_found"). */
const char	*cora_err_name(enum cora_err e);
/* Reason phrase for an HTTP status ("Not Found"), "Unknown" otherwise. */
const char	*http_reason(int status);

/* {"detail": "<text>"} as a new json-c object. */
json_object	*reply_detail_new(const char *detail);

/*
 * Appends one validation error in the original's shape to `list` (a JSON
 * array): {"type","loc":[loc0, loc1],"msg","input"}. `input` is taken over
 * (NULL writes JSON null); loc1 may be NULL for a one-element loc.
 */
void		 validation_add(json_object *list, const char *type,
		    const char *loc0, const char *loc1, const char *msg,
		    json_object *input);
/* The same with a loc of any depth (taken over): ["body","target","kind"]. */
void		 validation_add_loc(json_object *list, const char *type, json_object *loc,
		    const char *msg, json_object *input);
/* The same with an integer second loc element (["body", 12] for JSON
 * errors: the byte offset where decoding failed). */
void		 validation_add_at(json_object *list, const char *type,
		    const char *loc0, int pos, const char *msg, json_object *input);
/* {"detail": list}; takes over list. */
json_object	*reply_validation_new(json_object *list);

/* Serialises a body the way every response does (compact, no "\/",
 * valid UTF-8); the text lives until the body changes or the next call. */
const char	*reply_body_string(json_object *body, size_t *len);

#endif
