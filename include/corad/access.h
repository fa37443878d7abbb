/*
 * access: the Access bounded context. The actor aggregate (fold and pure
 * decisions, no I/O) and the steps every actor handler shares.
 */
#ifndef CORAD_ACCESS_H
#define CORAD_ACCESS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "corad/access_input.h"
#include "corad/ids.h"
#include "corad/log.h"
#include "corad/reply.h"

struct request;

/* The actor as its event stream tells it. */
struct actor_state {
	bool		 exists;
	enum actor_kind	 kind;
	bool		 active;
	bool		 forgotten;
	int		 version;	/* last event's version, 0 for none */
};

/* Applies one event; unknown event types are skipped (forward
 * compatibility) and return -1 so the caller may log them. */
int	actor_fold(struct actor_state *s, const char *event_type, json_object *payload);

/* An event a decision produced; payload owned (json_object_put). */
struct actor_event {
	const char	*type;
	json_object	*payload;
};

enum actor_refusal {
	ACTOR_OK,
	ACTOR_NOT_FOUND,		/* 404 Actor <id> not found */
	ACTOR_ALREADY_DEACTIVATED,	/* 409 */
	ACTOR_ALREADY_FORGOTTEN,	/* 409 */
};

/* Decisions: state + command -> one event, or why not. `now` is the
 * occurred_at of the event (RFC 3339). */
void			actor_decide_register(const char *actor_id, enum actor_kind kind,
			    const char *now, struct actor_event *out);
enum actor_refusal	actor_decide_deactivate(const struct actor_state *s,
			    const char *actor_id, const char *now, struct actor_event *out);
enum actor_refusal	actor_decide_forget(const struct actor_state *s,
			    const char *actor_id, const char *now, struct actor_event *out);

/* --- shared handler steps (src/access/common.c) -------------------------- */

/* What a handler is, for authorization, logs and (later) spans. */
struct access_op {
	const char	*verb;		/* log prefix: "register_actor" */
	const char	*name;		/* "RegisterActor" */
	bool		 command;	/* command (causation_id, verdicts) or query */
};

/* <verb>.<what> with the fields of SPEC section 12. */
void	access_log(struct request *r, enum log_level lvl, const struct access_op *op,
	    const char *what, const char *actor_id, const char *reason);

/* The {actor_id} path segment as a canonical UUID, or 422 uuid_parsing with
 * loc ["path","actor_id"]. */
enum cora_err	access_path_actor_id(struct request *r, char out[UUID_STR_LEN]);

/*
 * Step 5: authorization. A deny is logged (<verb>.denied), written to
 * entries_access_verdicts and returned as 403 with the reason. On allow,
 * *reason receives the verdict's reason for the command's own transaction.
 */
enum cora_err	access_authorize(struct request *r, const struct access_op *op,
		    const char *actor_id, char reason[256]);

/* Authorizes `op` on the actor (access_authorize), then loads and folds its
 * stream; 503 without a database. */
enum cora_err	access_load_actor(struct request *r, const struct access_op *op,
		    const char *actor_id, char reason[256], struct actor_state *s);

/* The list's cursor: unpadded base64url of "<created_at>|<actor_id>".
 * decode returns NULL, or the reason the cursor is invalid. */
int		list_cursor_encode(const char *created_at, const char *actor_id,
		    char *out, size_t len);
const char	*list_cursor_decode(const char *raw, char created_at[40],
		    char actor_id[UUID_STR_LEN]);

/* Maps a refusal to the response error. */
enum cora_err	access_refuse(struct request *r, enum actor_refusal why, const char *actor_id);

#endif
