/*
 * The actor list projection, proj_access_actor_summary: one row an actor,
 * its name copied from actor_profile when projected and replaced by
 * "<deleted user>" once forgotten, so GET /actors reads this table alone.
 * Every statement is idempotent: a replayed event changes nothing.
 */
#include "config.h"

#include <string.h>

#include "access/access.h"

static const struct statement statements[] = {
	/* Batched: the registrations that follow each other in a batch are
	 * inserted by one statement, in the order of their events. */
	{ "access_registered",
	  "INSERT INTO proj_access_actor_summary"
	  " (actor_id, name, kind, status, created_at, updated_at, last_position)"
	  " SELECT e.actor_id, coalesce((SELECT name FROM actor_profile p"
	  "  WHERE p.actor_id = e.actor_id), e.name, '<deleted user>'), e.kind, 'active',"
	  "  e.at, e.at, e.position"
	  " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])"
	  "  WITH ORDINALITY AS e(actor_id, name, kind, at, position, n)"
	  " ORDER BY e.n"
	  " ON CONFLICT (actor_id) DO NOTHING" },
	{ "access_deactivated",
	  "UPDATE proj_access_actor_summary SET status = 'deactivated', updated_at = $2,"
	  " last_position = $3 WHERE actor_id = $1 AND last_position < $3" },
	{ "access_forgotten",
	  "UPDATE proj_access_actor_summary SET name = '<deleted user>', updated_at = $2,"
	  " last_position = $3 WHERE actor_id = $1 AND last_position < $3" },
	{ NULL, NULL },
};

static const char *
payload_text(json_object *payload, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(payload, key, &v) && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static bool
actor_summary_apply(struct projection_tx *tx, const struct projection_event *ev)
{
	if (strcmp(ev->event_type, "ActorRegisteredV2") == 0 ||
	    strcmp(ev->event_type, "ActorRegistered") == 0) {
		/* The legacy event carries the name and was always human. */
		const char *kind = payload_text(ev->payload, "kind");
		const char *params[] = { ev->stream_id, payload_text(ev->payload, "name"),
		    strcmp(ev->event_type, "ActorRegistered") == 0 || kind == NULL ? "human" : kind,
		    ev->occurred_at, ev->position };

		return projection_exec(tx, "access_registered", 5, params);
	} else {
		const char *params[] = { ev->stream_id, ev->occurred_at, ev->position };

		return projection_exec(tx, strcmp(ev->event_type, "ActorDeactivated") == 0 ?
		    "access_deactivated" : "access_forgotten", 3, params);
	}
}

const struct projection access_projections[] = {
	{ .name = "access_actor_summary",
	  .events = (const char *const[]){ "ActorRegisteredV2", "ActorRegistered",
	      "ActorDeactivated", "ActorProfileForgotten", NULL },
	  .statements = statements,
	  .apply = actor_summary_apply,
	  .batched = (const char *const[]){ "access_registered", NULL } },
	{ .name = NULL },
};
