/*
 * The caution list projection, proj_caution_summary: one row a caution,
 * so that GET /cautions reads this table alone. Every statement is
 * idempotent (a replayed event changes nothing), and an event this version
 * cannot read is logged and passed over, never retried forever: the
 * projector must not stall behind one bad event (doc/design.md, "The
 * Caution context").
 */
#include "config.h"

#include <string.h>

#include "caution/caution.h"
#include "corad/ids.h"
#include "corad/log.h"
#include "corad/rfc3339.h"

static const struct statement statements[] = {
	/* Batched: the registrations that follow each other in a batch are
	 * inserted by one statement, in the order of their events. */
	{ "caution_registered",
	  "INSERT INTO proj_caution_summary (caution_id, target_kind, target_id, category, severity,"
	  " text, workaround, authored_by, tags, expires_at, propagate_to_children, status,"
	  " parent_id, registered_at, updated_at)"
	  " SELECT e.id, e.kind, e.target, e.category, e.severity, e.text, e.workaround, e.author,"
	  "  ARRAY(SELECT DISTINCT t COLLATE \"C\" FROM jsonb_array_elements_text(e.tags) AS t"
	  "   ORDER BY 1), e.expires, e.propagate, 'Active',"
	  "  e.parent, e.at, now()"
	  " FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],"
	  "  $7::text[], $8::uuid[], $9::jsonb[], $10::timestamptz[], $11::boolean[], $12::uuid[],"
	  "  $13::timestamptz[])"
	  "  WITH ORDINALITY AS e(id, kind, target, category, severity, text, workaround, author,"
	  "  tags, expires, propagate, parent, at, n)"
	  " ORDER BY e.n"
	  " ON CONFLICT (caution_id) DO NOTHING" },
	{ "caution_superseded",
	  "UPDATE proj_caution_summary SET status = 'Superseded', superseded_by_caution_id = $2,"
	  " last_status_changed_at = $3, updated_at = now() WHERE caution_id = $1" },
	{ "caution_retired",
	  "UPDATE proj_caution_summary SET status = 'Retired', retired_reason = $2,"
	  " last_status_changed_at = $3, updated_at = now() WHERE caution_id = $1" },
	{ NULL, NULL },
};

/* payload[key] when it is a string, else NULL. */
static const char *
text(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

/* payload[key] as a canonical UUID into out; false when it is not one
 * (absent or null is fine when `optional`, out is then ""). */
static bool
uuid_at(json_object *o, const char *key, bool optional, char out[UUID_STR_LEN])
{
	const char *v = text(o, key);
	struct uuid_error ue;
	uint8_t id[16];

	out[0] = '\0';
	if (v == NULL) {
		json_object *raw = NULL;

		return optional && (!json_object_object_get_ex(o, key, &raw) || raw == NULL);
	}
	if (!uuid_parse_text(v, id, &ue))
		return false;
	uuid_format(id, out);
	return true;
}

/* payload[key], a date-time, in UTC into out ("" when absent or null and
 * `optional`); a naive one counts as UTC. */
static bool
time_at(json_object *o, const char *key, bool optional, char out[40])
{
	const char *v = text(o, key);
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN];

	out[0] = '\0';
	if (v == NULL) {
		json_object *raw = NULL;

		return optional && (!json_object_object_get_ex(o, key, &raw) || raw == NULL);
	}
	if (!rfc3339_parse(v, strlen(v), &t, why))
		return false;
	rfc3339_utc(t.unix_us, out);
	return true;
}

static const char *
or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static bool
skip(const struct projection_event *ev, const char *why)
{
	log_warning("projection.event_skipped", LF_STR("projection", "proj_caution_summary"),
	    LF_STR("event_type", ev->event_type), LF_STR("position", ev->position),
	    LF_STR("caution_id", ev->stream_id), LF_STR("reason", why));
	return true;
}

static bool
registered(struct projection_tx *tx, const struct projection_event *ev)
{
	json_object *p = ev->payload, *target = NULL, *tags = NULL, *prop = NULL;
	char id[UUID_STR_LEN], target_id[UUID_STR_LEN], author[UUID_STR_LEN], parent[UUID_STR_LEN];
	char expires[40], at[40];
	const char *params[13];

	json_object_object_get_ex(p, "target", &target);
	json_object_object_get_ex(p, "tags", &tags);
	json_object_object_get_ex(p, "propagate_to_children", &prop);
	if (!uuid_at(p, "caution_id", false, id) || strcmp(id, ev->stream_id) != 0)
		return skip(ev, "caution_id is not the stream's id");
	if (text(target, "kind") == NULL || !uuid_at(target, "id", false, target_id))
		return skip(ev, "target is not {kind, id}");
	if (text(p, "category") == NULL || text(p, "severity") == NULL ||
	    text(p, "text") == NULL || text(p, "workaround") == NULL)
		return skip(ev, "category, severity, text or workaround is not a string");
	if (!uuid_at(p, "authored_by", false, author) || !uuid_at(p, "parent_id", true, parent))
		return skip(ev, "authored_by or parent_id is not a UUID");
	if (tags != NULL && !json_object_is_type(tags, json_type_array))
		return skip(ev, "tags is not a list");
	for (size_t i = 0; tags != NULL && i < json_object_array_length(tags); i++)
		if (!json_object_is_type(json_object_array_get_idx(tags, i), json_type_string))
			return skip(ev, "a tag is not a string");
	if (!time_at(p, "expires_at", true, expires))
		return skip(ev, "expires_at is not a date-time");
	/* registered_at is when it occurred, as the payload says. */
	if (!time_at(p, "occurred_at", false, at))
		snprintf(at, sizeof(at), "%s", ev->occurred_at);
	params[0] = id;
	params[1] = text(target, "kind");
	params[2] = target_id;
	params[3] = text(p, "category");
	params[4] = text(p, "severity");
	params[5] = text(p, "text");
	params[6] = text(p, "workaround");
	params[7] = author;
	params[8] = tags != NULL ? json_object_to_json_string_ext(tags, JSON_C_TO_STRING_PLAIN) : "[]";
	params[9] = or_null(expires);
	params[10] = json_object_get_boolean(prop) ? "true" : "false";
	params[11] = or_null(parent);
	params[12] = at;
	return projection_exec(tx, "caution_registered", 13, params);
}

static bool
caution_summary_apply(struct projection_tx *tx, const struct projection_event *ev)
{
	const char *reason = text(ev->payload, "reason");
	char other[UUID_STR_LEN], at[40];
	const char *params[3];
	bool superseded = strcmp(ev->event_type, "CautionSuperseded") == 0;

	if (strcmp(ev->event_type, "CautionRegistered") == 0)
		return registered(tx, ev);
	if (superseded && !uuid_at(ev->payload, "superseded_by_caution_id", false, other))
		return skip(ev, "superseded_by_caution_id is not a UUID");
	if (!superseded && reason == NULL)
		return skip(ev, "reason is not a string");
	if (!time_at(ev->payload, "occurred_at", false, at))
		snprintf(at, sizeof(at), "%s", ev->occurred_at);
	params[0] = ev->stream_id;
	params[1] = superseded ? other : reason;
	params[2] = at;
	return projection_exec(tx, superseded ? "caution_superseded" : "caution_retired", 3, params);
}

const struct projection caution_projections[] = {
	{ .name = "proj_caution_summary",
	  .events = (const char *const[]){ "CautionRegistered", "CautionSuperseded",
	      "CautionRetired", NULL },
	  .statements = statements,
	  .apply = caution_summary_apply,
	  .batched = (const char *const[]){ "caution_registered", NULL } },
	{ .name = NULL },
};
