/*
 * idempotency: Idempotency-Key on commands (doc/design.md, "Idempotency"),
 * Stripe-style
 * two-phase: claim the key (a committed in_progress row), run, then store
 * the result in the command's own transaction (or its 4xx error alone).
 */
#ifndef CORAD_IDEMPOTENCY_H
#define CORAD_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "corad/reply.h"
#include "corad/request.h"
#include "corad/schema.h"

#define IDEM_SURFACE_HTTP	"00000000-0000-0000-0000-000000000020"
#define IDEM_SURFACE_MCP	"00000000-0000-0000-0000-000000000022"
#define IDEM_KEY_MAX		255	/* characters */

/*
 * The command as Python's json.dumps(cmd, sort_keys=True) writes it:
 * separators ", " and ": ", non-ASCII as \uXXXX (surrogate pairs above
 * U+FFFF). Returns a malloc'd string.
 */
char	*idem_command_json(json_object *cmd);
/* An Idempotency-Key corad accepts: 1..IDEM_KEY_MAX code points of UTF-8. */
bool	 idem_key_valid(const char *key);

/* The Idempotency-Key header as the original reads it: each byte one
 * character (Latin-1, as Starlette decodes headers), written as UTF-8 for
 * the database; the caller frees it. NULL unless 1..IDEM_KEY_MAX bytes. */
char	*idem_header_key(const char *raw);

/* A tool's idempotency_key argument (a string of that length). */
extern const struct schema idem_key_schema;
/* SHA-256 hex of a string. */
void	 idem_sha256_hex(const char *s, char out[65]);

/*
 * Reads the Idempotency-Key parameter. No key: CORA_OK with the claim
 * inactive. Otherwise validates it (400), hashes `cmd`, and claims it:
 * CORA_OK with the claim active; CORA_OK with *replayed set when a stored
 * result was sent; 422 for another body; 409 + Retry-After while another
 * request holds it; 503 without a database.
 */
enum cora_err	idem_claim(struct request *r, const char *command, json_object *cmd,
		    bool *replayed);

/* Queues the success in the command's transaction (store_tx_fence): the
 * commit answers CORA_ERR_CONFLICT, and writes nothing, when the claim was
 * taken over meanwhile. */
void		idem_complete(struct request *r, int status, const char *body);

/* After the handler: stores a 4xx error, drops the claim after a 5xx. */
void		idem_settle(struct request *r, int status, const char *body);

/* Once the request is answered: lets go of the key's advisory lock. */
void		idem_release(struct request *r);

#endif
