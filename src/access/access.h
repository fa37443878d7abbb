/*
 * access: the Access bounded context (src/access/). The actor aggregate
 * (fold and pure decisions, no I/O), the steps its handlers share, and the
 * context's registration (context.c).
 */
#ifndef CORAD_ACCESS_H
#define CORAD_ACCESS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "access/input.h"
#include "corad/ids.h"
#include "corad/projection.h"
#include "corad/reply.h"

struct context;
struct request;

/* What src/contexts.c registers. */
extern const struct context access_context;

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

/* --- the handlers, one file each, and what they share (common.c) -------- */

enum cora_err	handle_register_actor(struct request *r);
enum cora_err	handle_get_actor(struct request *r);
enum cora_err	handle_get_actor_history(struct request *r);
enum cora_err	handle_list_actors(struct request *r);
enum cora_err	handle_deactivate_actor(struct request *r);
enum cora_err	handle_forget_actor(struct request *r);

/* The projection of the actor list (projection.c). */
extern const struct projection access_projections[];

/* Authorizes the request's operation (dispatch_authorize), then loads and
 * folds the actor's stream; 503 without a database. With `name`, the same
 * statement also reads the profile's name (a new string, NULL when there
 * is no profile row; the caller frees it). */
enum cora_err	access_load_actor(struct request *r, const char *actor_id,
		    struct actor_state *s, char **name);

/* Maps a refusal to the response error. */
enum cora_err	access_refuse(struct request *r, enum actor_refusal why, const char *actor_id);

#endif
