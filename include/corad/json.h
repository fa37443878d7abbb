/* json: JSON input read the way the original's Python decoder reads it. */
#ifndef CORAD_JSON_H
#define CORAD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <json-c/json.h>

/*
 * Decodes body[0..len) (NUL bytes allowed, need not be terminated) as
 * Python's json.loads would: strict RFC 8259 (no NaN, "1.", single quotes,
 * raw control characters in strings or trailing data), strict UTF-8, and a
 * leading byte order mark. True with the value in *out (NULL for JSON
 * null; the caller puts it); false with the byte offset of the first error
 * in *error_offset.
 */
bool	json_read(const char *body, size_t len, json_object **out, size_t *error_offset);

/*
 * Parses JSON that corad wrote itself and reads back (an event's payload, a
 * stored reply, an array PostgreSQL built): json_tokener_parse with one
 * tokener kept for the process instead of one allocated per call, whose
 * 1.5 kB made glibc consolidate its free lists every time. NULL when the
 * text is not JSON.
 */
json_object	*json_parse_stored(const char *text);

/* Whether v is a string without a NUL (escaped as \u0000) inside: one C
 * string functions see whole. */
static inline bool
json_str_plain(json_object *v)
{
	return json_object_is_type(v, json_type_string) &&
	    strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
}

/* Whether v is the string lit, all of it: "ping\u0000x" is not "ping". */
static inline bool
json_str_is(json_object *v, const char *lit)
{
	return json_str_plain(v) && strcmp(json_object_get_string(v), lit) == 0;
}

/*
 * json_object_object_add for a key that is a string constant o does not
 * hold yet: json-c neither copies the key nor looks for an earlier one (a
 * list item's keys, twenty items a page).
 */
static inline void
json_add_new(json_object *o, const char *constant_key, json_object *v)
{
	json_object_object_add_ex(o, constant_key, v,
	    JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

#endif
