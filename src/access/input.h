/* input: the Access context's request bodies, validated the original's way. */
#ifndef CORAD_ACCESS_INPUT_H
#define CORAD_ACCESS_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "corad/reply.h"
#include "corad/schema.h"

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

/* The POST /actors body: name (1..200 code points as sent), kind (human,
 * service_account or agent; human when absent). */
extern const struct schema register_actor_body;

/*
 * The domain's checks of a body the schema accepted (`input`, as
 * schema_validate_body returns it), after authorization: the name trimmed
 * (Python's str.strip) must still be 1..200 code points and hold no NUL,
 * and kind agent is refused. CORA_OK with cmd filled (its name is the
 * caller's to free with register_cmd_free), or CORA_ERR_BAD_REQUEST with
 * the message in detail.
 */
enum cora_err	 register_check(json_object *input, struct register_cmd *cmd,
		    char *detail, size_t dlen);

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
 * Nothing is allocated in cmd unless CORA_OK; nothing in *errors unless
 * CORA_ERR_VALIDATION. body is only read.
 */
enum cora_err	 register_parse(const char *body, size_t len,
		    struct register_cmd *cmd, json_object **errors,
		    char *detail, size_t dlen);

#endif
