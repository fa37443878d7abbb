/* access_input: pure validation of the Access context's HTTP inputs (SPEC section 6). */
#ifndef CORAD_ACCESS_INPUT_H
#define CORAD_ACCESS_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "corad/reply.h"

enum actor_kind {
	ACTOR_KIND_HUMAN,
	ACTOR_KIND_SERVICE_ACCOUNT,
	ACTOR_KIND_AGENT,
};

/*
 * Wire name of a kind: "human", "service_account" or "agent" (a static
 * string, not to be freed); NULL for a value outside the enum.
 */
const char	*actor_kind_name(enum actor_kind k);

/*
 * Parses an exact wire name (case-sensitive) into *out. Returns 0, or -1
 * (and leaves *out alone) for anything else, NULL included.
 */
int		 actor_kind_parse(const char *s, enum actor_kind *out);

/* The validated command of POST /actors. */
struct register_cmd {
	char		*name;	/* trimmed, NUL-terminated UTF-8, owned */
	enum actor_kind	 kind;
};

/*
 * Frees what cmd owns (its name) and sets name to NULL; does not free cmd
 * itself. NULL-safe, and safe on a cmd that register_parse() did not fill.
 */
void		 register_cmd_free(struct register_cmd *cmd);

/*
 * Parses and validates the POST /actors body (body may contain NUL bytes and
 * need not be NUL-terminated; len is authoritative; body may be NULL when
 * len is 0). On entry cmd->name and *errors are set to NULL and detail (when
 * dlen > 0) to "".
 * CORA_OK: cmd filled; cmd->name is a new string owned by the caller (free it
 *   with register_cmd_free()).
 * CORA_ERR_VALIDATION: *errors is a new json-c array of validation entries
 *   (validation_add / validation_add_at shape), owned by the caller
 *   (json_object_put() it).
 * CORA_ERR_BAD_REQUEST: detail holds the message (truncated to dlen).
 * CORA_ERR_INTERNAL: out of memory.
 * Nothing is allocated in cmd unless CORA_OK; nothing in *errors unless
 * CORA_ERR_VALIDATION. body is only read.
 */
enum cora_err	 register_parse(const char *body, size_t len,
		    struct register_cmd *cmd, json_object **errors,
		    char *detail, size_t dlen);

/*
 * True when s[0..len) is strict UTF-8: shortest forms only, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. NUL bytes
 * are valid (U+0000). Only reads s.
 */
bool		 utf8_valid(const char *s, size_t len);

/* Number of code points of s[0..len), which must be valid UTF-8. */
size_t		 utf8_codepoints(const char *s, size_t len);

/*
 * Python's str.strip() with no argument: skips the leading and trailing code
 * points for which str.isspace() is true (U+0009..U+000D, U+001C..U+001F,
 * U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000; not U+200B nor U+FEFF). s should be valid UTF-8 (stripping
 * stops at an invalid sequence). Returns a pointer into s (nothing is
 * allocated) and stores the trimmed byte length in *out_len.
 */
const char	*utf8_strip_py(const char *s, size_t len, size_t *out_len);

#endif
