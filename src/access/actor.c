/* The actor aggregate: fold and decisions, pure (no I/O). */
#include "config.h"

#include <string.h>

#include "access/access.h"

int
actor_fold(struct actor_state *s, const char *event_type, json_object *payload)
{
	json_object *kind;

	if (strcmp(event_type, "ActorRegisteredV2") == 0) {
		s->exists = true;
		s->active = true;
		s->kind = ACTOR_KIND_HUMAN;
		if (json_object_object_get_ex(payload, "kind", &kind) &&
		    json_object_is_type(kind, json_type_string))
			(void)actor_kind_parse(json_object_get_string(kind), &s->kind);
	} else if (strcmp(event_type, "ActorRegistered") == 0) {
		/* Legacy: the name was in the event; the kind was always human. */
		s->exists = true;
		s->active = true;
		s->kind = ACTOR_KIND_HUMAN;
	} else if (strcmp(event_type, "ActorDeactivated") == 0)
		s->active = false;
	else if (strcmp(event_type, "ActorProfileForgotten") == 0)
		s->forgotten = true;
	else
		return -1;
	return 0;
}

static json_object *
base_payload(const char *actor_id, const char *now)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "actor_id", json_object_new_string(actor_id));
	json_object_object_add(p, "occurred_at", json_object_new_string(now));
	return p;
}

void
actor_decide_register(const char *actor_id, enum actor_kind kind, const char *now,
    struct actor_event *out)
{
	out->type = "ActorRegisteredV2";
	out->payload = base_payload(actor_id, now);
	json_object_object_add(out->payload, "kind", json_object_new_string(actor_kind_name(kind)));
}

enum actor_refusal
actor_decide_deactivate(const struct actor_state *s, const char *actor_id,
    const char *now, struct actor_event *out)
{
	out->payload = NULL;
	if (!s->exists)
		return ACTOR_NOT_FOUND;
	if (!s->active)
		return ACTOR_ALREADY_DEACTIVATED;
	out->type = "ActorDeactivated";
	out->payload = base_payload(actor_id, now);
	return ACTOR_OK;
}

enum actor_refusal
actor_decide_forget(const struct actor_state *s, const char *actor_id,
    const char *now, struct actor_event *out)
{
	out->payload = NULL;
	if (!s->exists)
		return ACTOR_NOT_FOUND;
	if (s->forgotten)
		return ACTOR_ALREADY_FORGOTTEN;
	out->type = "ActorProfileForgotten";
	out->payload = base_payload(actor_id, now);
	return ACTOR_OK;
}
