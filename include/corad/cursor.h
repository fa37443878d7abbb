/*
 * cursor: the keyset cursor every list shares (doc/design.md, "Lists"):
 * unpadded base64url of "<timestamp>|<uuid>", the sort key of the last
 * item of a page. A context names the two parts (created_at|actor_id) for
 * its error texts.
 */
#ifndef CORAD_CURSOR_H
#define CORAD_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "corad/ids.h"
#include "corad/reply.h"

struct request;

#define CURSOR_WHY_LEN	96

/* Encodes the pair into out (len bytes); -1 when it does not fit. */
int		cursor_encode(const char *at, const char *id, char *out, size_t len);

/*
 * Decodes raw into at (in UTC: YYYY-MM-DDTHH:MM:SS.ffffffZ) and id (a
 * canonical UUID); false with the reason in why otherwise. The timestamp
 * may be any RFC 3339 date-time with an offset.
 */
bool		cursor_decode(const char *raw, const char *at_name, const char *id_name,
		    char at[40], char id[UUID_STR_LEN], char why[CURSOR_WHY_LEN]);

/*
 * The request's validated "cursor" parameter, decoded: CORA_OK with *given
 * (when not NULL) telling whether there was one (without one, at and id are the cursor
 * before everything, -infinity and the nil UUID, so that every page is read
 * from an index at its cursor: doc/design.md, "Lists"), or
 * CORA_ERR_UNPROCESSABLE with the text
 * every list answers: "Invalid cursor '<raw>': <reason>. Cursors must come
 * from a previous response's next_cursor field."
 */
enum cora_err	cursor_param(struct request *r, const char *at_name, const char *id_name,
		    char at[40], char id[UUID_STR_LEN], bool *given);

/* Adds next_cursor to a page: the cursor of (at, id) when there are more
 * items, null on the last page. */
void		cursor_next(json_object *page, bool more, const char *at, const char *id);

#endif
