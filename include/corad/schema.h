/*
 * schema: the shape of an operation's inputs and outputs, declared once
 * (doc/design.md, "Operations"). The same declaration validates a request
 * (errors in the original's 422 shape, pydantic's types and texts), and
 * becomes the JSON Schema of the OpenAPI document and of the MCP tools.
 */
#ifndef CORAD_SCHEMA_H
#define CORAD_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

enum schema_type {
	SCHEMA_STRING,
	SCHEMA_INTEGER,
	SCHEMA_BOOLEAN,
	SCHEMA_OBJECT,
	SCHEMA_ARRAY,
};

enum schema_format {
	SCHEMA_FORMAT_NONE,
	SCHEMA_FORMAT_UUID,		/* a UUID, made canonical (lowercase, hyphens) */
	SCHEMA_FORMAT_DATE_TIME,	/* RFC 3339 with an offset */
};

struct schema_prop;

struct schema {
	enum schema_type		 type;
	enum schema_format		 format;
	const char *const		*enums;		/* allowed strings, NULL-ended */
	size_t				 min_length;	/* strings, in code points; 0: none */
	size_t				 max_length;	/* 0: none */
	bool				 bounded;	/* integers: minimum..maximum */
	long				 minimum, maximum;
	size_t				 max_items;	/* arrays; 0: none */
	bool				 nullable;	/* JSON null is a value */
	const char			*default_json;	/* used when absent (JSON text) */
	const char			*description;
	const struct schema_prop	*props;		/* objects: ended by a NULL name */
	const struct schema		*items;		/* arrays */
	/* A response that is one of these (NULL-ended), for the OpenAPI
	 * document only: the other fields are then not used. */
	const struct schema *const	*one_of;
};

struct schema_prop {
	const char		*name;
	const struct schema	*schema;
	bool			 required;
};

/*
 * Where validation errors go. Values may arrive as JSON (bodies, MCP
 * arguments) or as text (path and query parameters): an integer or a
 * boolean given as a string is parsed, as pydantic's lax mode does.
 */
struct schema_check {
	json_object	*errs;		/* the 422 list (a JSON array) */
	bool		 json;		/* the values were decoded from JSON text */
	bool		 undecodable;	/* and one of its strings was not UTF-8 */
};

/*
 * Validates one value against `s`. `in` is the value when `present` (JSON
 * null is NULL); `loc` its location (a JSON array, copied for nested
 * errors); `parent` the object it came from (the `input` of a missing
 * field). True when valid, with the value to use in *out (defaults filled
 * in, UUIDs canonical, unknown object keys dropped; a new reference, NULL
 * for JSON null or absent without default). False with errors added.
 */
bool		schema_validate(struct schema_check *c, const struct schema *s, bool required,
		    bool present, json_object *in, json_object *loc, json_object *parent,
		    json_object **out);

/*
 * Validates a request body (body[0..len), as the client sent it) against
 * an object schema: `missing` for no body, json_invalid with the byte
 * offset for one that does not decode, model_attributes_type for one that
 * is not an object, then every property in declaration order. Returns the
 * validated object, or NULL with errors added to errs.
 */
json_object	*schema_validate_body(const struct schema *s, const char *body, size_t len,
		    json_object *errs);

/* The JSON Schema (draft 2020-12, as OpenAPI 3.1 and MCP use it) of `s`. */
json_object	*schema_to_json(const struct schema *s);

#endif
