/* json: JSON input read the way the original's Python decoder reads it. */
#ifndef CORAD_JSON_H
#define CORAD_JSON_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
