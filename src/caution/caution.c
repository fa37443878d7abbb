/*
 * The caution aggregate: its fold, its rendering and its decisions, with no
 * I/O, so that unit tests drive them without a database.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "caution/caution.h"
#include "corad/alloc.h"
#include "corad/rfc3339.h"
#include "corad/utf8.h"

static const char *const status_names[] = {
	[CAUTION_NONE] = NULL,
	[CAUTION_ACTIVE] = "Active",
	[CAUTION_SUPERSEDED] = "Superseded",
	[CAUTION_RETIRED] = "Retired",
};

const char *
caution_status_name(enum caution_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : NULL;
}

/* payload[key] as a new reference, or NULL when absent. */
static json_object *
field(json_object *payload, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(payload, key, &v);
	return json_object_get(v);
}

static void
replace(json_object **slot, json_object *v)
{
	json_object_put(*slot);
	*slot = v;
}

int
caution_fold(struct caution_state *s, const char *event_type, json_object *payload)
{
	if (strcmp(event_type, "CautionRegistered") == 0) {
		replace(&s->registered, json_object_get(payload));
		s->status = CAUTION_ACTIVE;
		return 0;
	}
	if (s->status == CAUTION_NONE)
		return -1;	/* a transition of a caution that was never registered */
	if (strcmp(event_type, "CautionSuperseded") == 0) {
		replace(&s->superseded_by, field(payload, "superseded_by_caution_id"));
		s->status = CAUTION_SUPERSEDED;
		return 0;
	}
	if (strcmp(event_type, "CautionRetired") == 0) {
		replace(&s->retired_reason, field(payload, "reason"));
		s->status = CAUTION_RETIRED;
		return 0;
	}
	return -1;
}

void
caution_state_free(struct caution_state *s)
{
	json_object_put(s->registered);
	json_object_put(s->superseded_by);
	json_object_put(s->retired_reason);
	memset(s, 0, sizeof(*s));
}

/* A stored expires_at in UTC, and whether it has passed. A value this
 * version cannot read is shown as stored and never counts as expired. */
static json_object *
render_expiry(json_object *stored, int64_t now_us, bool *expired)
{
	const char *v = json_object_get_string(stored);
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN], utc[40];

	*expired = false;
	if (!json_object_is_type(stored, json_type_string))
		return NULL;
	if (!rfc3339_parse(v, strlen(v), &t, why))
		return json_object_get(stored);
	rfc3339_utc(t.unix_us, utc);	/* a naive stored value counts as UTC */
	*expired = t.unix_us <= now_us;
	return json_object_new_string(utc);
}

static int
by_codepoint(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	size_t lx = (size_t)json_object_get_string_len(x), ly = (size_t)json_object_get_string_len(y);
	int c = memcmp(json_object_get_string(x), json_object_get_string(y), lx < ly ? lx : ly);

	/* UTF-8 bytes compare in code-point order. */
	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* The strings of `arr` (an array, or NULL for none) sorted in code-point
 * order without repeats: a new array. */
static json_object *
sorted_set(json_object *arr)
{
	size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	json_object **v = xmalloc((n > 0 ? n : 1) * sizeof(*v)), *out = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		v[i] = json_object_array_get_idx(arr, i);
	qsort(v, n, sizeof(*v), by_codepoint);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || by_codepoint(&v[i - 1], &v[i]) != 0)
			json_object_array_add(out, json_object_get(v[i]));
	free(v);
	return out;
}

/* The stored tags as every read shows them: a set in code-point order,
 * whatever order a foreign writer kept; anything but a list of strings as
 * stored (the fold trusts stored events). */
static json_object *
render_tags(json_object *stored)
{
	size_t n = json_object_is_type(stored, json_type_array) ? json_object_array_length(stored) : 0;

	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(stored, i), json_type_string))
			return json_object_get(stored);
	return n > 0 ? sorted_set(stored) : json_object_get(stored);
}

json_object *
caution_render(const struct caution_state *s, const char *id, int64_t now_us)
{
	json_object *o = json_object_new_object(), *p = s->registered, *target, *tags = NULL;
	bool expired;

	json_object_object_add(o, "id", json_object_new_string(id));
	target = json_object_new_object();
	{
		json_object *t = NULL;

		json_object_object_get_ex(p, "target", &t);
		json_object_object_add(target, "kind", field(t, "kind"));
		json_object_object_add(target, "id", field(t, "id"));
	}
	json_object_object_add(o, "target", target);
	json_object_object_add(o, "category", field(p, "category"));
	json_object_object_add(o, "severity", field(p, "severity"));
	json_object_object_add(o, "text", field(p, "text"));
	json_object_object_add(o, "workaround", field(p, "workaround"));
	json_object_object_add(o, "authored_by", field(p, "authored_by"));
	json_object_object_get_ex(p, "tags", &tags);
	tags = render_tags(tags);
	json_object_object_add(o, "tags", tags != NULL ? tags : json_object_new_array());
	{
		json_object *stored = NULL;

		json_object_object_get_ex(p, "expires_at", &stored);
		json_object_object_add(o, "expires_at", render_expiry(stored, now_us, &expired));
	}
	{
		json_object *prop = field(p, "propagate_to_children");

		json_object_object_add(o, "propagate_to_children",
		    prop != NULL ? prop : json_object_new_boolean(false));
	}
	json_object_object_add(o, "status", json_object_new_string(caution_status_name(s->status)));
	json_object_object_add(o, "parent_id", field(p, "parent_id"));
	json_object_object_add(o, "superseded_by_caution_id", json_object_get(s->superseded_by));
	json_object_object_add(o, "retired_reason", json_object_get(s->retired_reason));
	json_object_object_add(o, "expired", json_object_new_boolean(expired));
	return o;
}

/* --- the domain's checks ---------------------------------------------------- */

/* One text field trimmed: 1..max code points without NUL, or the detail. */
static char *
trimmed(const char *what, json_object *v, size_t max, char **detail)
{
	const char *raw = json_object_get_string(v), *t;
	size_t len = (size_t)json_object_get_string_len(v), tlen, cps;
	char *repr;

	t = utf8_strip_py(raw, len, &tlen);
	cps = utf8_codepoints(t, tlen);
	if (cps < 1 || cps > max) {
		repr = utf8_py_repr(raw, len);
		*detail = xasprintf("Caution %s must be 1-%zu chars after trimming (got: %s)",
		    what, max, repr);
		free(repr);
		return NULL;
	}
	if (memchr(t, '\0', tlen) != NULL) {
		*detail = xasprintf("Caution %s must not contain NUL characters", what);
		return NULL;
	}
	return xstrndup(t, tlen);
}

/* The tags trimmed, checked in code-point order of the values as sent (the
 * first bad one is reported, the same one every time), then as a set:
 * trimming can reorder ("b" < " a" as sent) and make repeats. */
static json_object *
tag_set(json_object *raw, char **detail)
{
	json_object *sent = sorted_set(raw), *trimmed_tags = json_object_new_array(), *set;

	for (size_t i = 0; i < json_object_array_length(sent); i++) {
		char *t = trimmed("tag", json_object_array_get_idx(sent, i), CAUTION_TAG_MAX, detail);

		if (t == NULL) {
			json_object_put(sent);
			json_object_put(trimmed_tags);
			return NULL;
		}
		json_object_array_add(trimmed_tags, json_object_new_string(t));
		free(t);
	}
	set = sorted_set(trimmed_tags);
	json_object_put(sent);
	json_object_put(trimmed_tags);
	return set;
}

/* expires_at as the event would keep it (isoformat in the caller's
 * offset), or NULL for none or a value the schema would refuse. */
static json_object *
expiry_as_kept(json_object *v)
{
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN], iso[40];

	if (!json_object_is_type(v, json_type_string) ||
	    !rfc3339_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &t,
	    why) || !t.has_offset)
		return NULL;
	rfc3339_isoformat(&t, iso);
	return json_object_new_string(iso);
}

/* The target as the original's command holds it: {"asset_id": id} or
 * {"procedure_id": id}. */
static json_object *
target_as_held(json_object *target)
{
	json_object *kind = NULL, *id = NULL, *o = json_object_new_object();
	const char *k;

	json_object_object_get_ex(target, "kind", &kind);
	json_object_object_get_ex(target, "id", &id);
	k = json_object_get_string(kind);
	json_object_object_add(o, k != NULL && strcmp(k, "Procedure") == 0 ? "procedure_id" :
	    "asset_id", json_object_get(id));
	return o;
}

json_object *
caution_command(json_object *params, json_object *input)
{
	json_object *cmd = json_object_new_object(), *v = NULL;

	json_object_object_foreach(params, k, pv)
		json_object_object_add(cmd, k, json_object_get(pv));
	json_object_object_foreach(input, k2, iv) {
		if (strcmp(k2, "target") == 0)
			json_object_object_add(cmd, k2, target_as_held(iv));
		else if (strcmp(k2, "tags") != 0 && strcmp(k2, "expires_at") != 0)
			json_object_object_add(cmd, k2, json_object_get(iv));
	}
	json_object_object_get_ex(input, "tags", &v);
	json_object_object_add(cmd, "tags", sorted_set(v));
	v = NULL;
	json_object_object_get_ex(input, "expires_at", &v);
	json_object_object_add(cmd, "expires_at", expiry_as_kept(v));
	return cmd;
}

enum cora_err
caution_check_fields(json_object *input, int64_t now_us, struct caution_fields *f, char **detail)
{
	json_object *v = NULL;
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN];

	memset(f, 0, sizeof(*f));
	*detail = NULL;
	f->input = input;
	json_object_object_get_ex(input, "text", &v);
	if ((f->text = trimmed("text", v, CAUTION_TEXT_MAX, detail)) == NULL)
		goto refused;
	json_object_object_get_ex(input, "workaround", &v);
	if ((f->workaround = trimmed("workaround", v, CAUTION_TEXT_MAX, detail)) == NULL)
		goto refused;
	v = NULL;
	json_object_object_get_ex(input, "tags", &v);
	if ((f->tags = tag_set(v, detail)) == NULL)
		goto refused;
	v = NULL;
	json_object_object_get_ex(input, "expires_at", &v);
	if (json_object_is_type(v, json_type_string)) {
		/* The schema accepted it: an RFC 3339 date-time with an offset. */
		if (!rfc3339_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v),
		    &t, why) || t.unix_us <= now_us) {
			*detail = xasprintf("expires_at must be in the future");
			goto refused;
		}
		rfc3339_isoformat(&t, f->expires_at);
	}
	return CORA_OK;
refused:
	caution_fields_free(f);
	return CORA_ERR_BAD_REQUEST;
}

void
caution_fields_free(struct caution_fields *f)
{
	free(f->text);
	free(f->workaround);
	json_object_put(f->tags);
	memset(f, 0, sizeof(*f));
}

/* --- decisions ----------------------------------------------------------- */

enum caution_refusal
caution_can_change(const struct caution_state *s)
{
	if (s->status == CAUTION_NONE)
		return CAUTION_NOT_FOUND;
	return s->status == CAUTION_ACTIVE ? CAUTION_OK : CAUTION_NOT_ACTIVE;
}

static const char *
target_part(json_object *obj, const char *key)
{
	json_object *t = NULL, *v = NULL;

	json_object_object_get_ex(obj, "target", &t);
	json_object_object_get_ex(t, key, &v);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

enum caution_refusal
caution_same_target(const struct caution_state *parent, const struct caution_fields *f)
{
	/* Both ids are canonical: ours from the schema, the parent's as we
	 * wrote it (a foreign writer's in another spelling counts as another
	 * target). */
	return strcmp(target_part(parent->registered, "kind"), target_part(f->input, "kind")) == 0 &&
	    strcmp(target_part(parent->registered, "id"), target_part(f->input, "id")) == 0 ?
	    CAUTION_OK : CAUTION_RETARGETED;
}

json_object *
caution_registered(const struct caution_fields *f, const char *id, const char *author,
    const char *parent_id, const char *now)
{
	json_object *p = json_object_new_object(), *in = f->input, *target, *v = NULL;

	json_object_object_add(p, "caution_id", json_object_new_string(id));
	target = json_object_new_object();
	json_object_object_add(target, "kind", json_object_new_string(target_part(in, "kind")));
	json_object_object_add(target, "id", json_object_new_string(target_part(in, "id")));
	json_object_object_add(p, "target", target);
	json_object_object_add(p, "category", field(in, "category"));
	json_object_object_add(p, "severity", field(in, "severity"));
	json_object_object_add(p, "text", json_object_new_string(f->text));
	json_object_object_add(p, "workaround", json_object_new_string(f->workaround));
	json_object_object_add(p, "tags", json_object_get(f->tags));
	json_object_object_add(p, "authored_by", json_object_new_string(author));
	json_object_object_add(p, "expires_at",
	    f->expires_at[0] != '\0' ? json_object_new_string(f->expires_at) : NULL);
	json_object_object_get_ex(in, "propagate_to_children", &v);
	json_object_object_add(p, "propagate_to_children",
	    json_object_new_boolean(json_object_get_boolean(v)));
	json_object_object_add(p, "parent_id",
	    parent_id != NULL ? json_object_new_string(parent_id) : NULL);
	json_object_object_add(p, "occurred_at", json_object_new_string(now));
	return p;
}

json_object *
caution_superseded(const char *parent_id, const char *child_id, const char *now)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "caution_id", json_object_new_string(parent_id));
	json_object_object_add(p, "superseded_by_caution_id", json_object_new_string(child_id));
	json_object_object_add(p, "occurred_at", json_object_new_string(now));
	return p;
}

json_object *
caution_retired(const char *id, const char *reason, const char *now)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "caution_id", json_object_new_string(id));
	json_object_object_add(p, "reason", json_object_new_string(reason));
	json_object_object_add(p, "occurred_at", json_object_new_string(now));
	return p;
}
