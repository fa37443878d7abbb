/* GET /cautions: ListCautions, keyset pages of the caution projection. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caution/caution.h"
#include "corad/alloc.h"
#include "corad/cursor.h"
#include "corad/db.h"
#include "corad/dispatch.h"
#include "corad/json.h"
#include "corad/request.h"
#include "corad/rfc3339.h"
#include "corad/store.h"
#include "corad/utf8.h"

/* A list parameter, NULL when absent or empty: an empty list (an MCP
 * client can send one) is no filter. */
static json_object *
given_list(struct request *r, const char *name)
{
	json_object *v = request_value(r, name);

	return v != NULL && json_object_array_length(v) > 0 ? v : NULL;
}

/* Notice < Caution < Warning: min_severity=X is every value from X on. */
static const char *const ladder[] = { "Notice", "Caution", "Warning", NULL };

/* The values as a PostgreSQL text[] literal in *a. */
static void
to_array(json_object *values, struct db_array *a)
{
	for (size_t i = 0; i < json_object_array_length(values); i++)
		db_array_add(a, json_object_get_string(json_object_array_get_idx(values, i)));
}

/* The values comma-separated, for the log; NULL for none. */
static char *
joined(json_object *values)
{
	size_t n = values != NULL ? json_object_array_length(values) : 0, len = 1;
	char *out;

	if (values == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		len += (size_t)json_object_get_string_len(json_object_array_get_idx(values, i)) + 1;
	out = xmalloc(len);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, json_object_get_string(json_object_array_get_idx(values, i)));
	}
	return out;
}

/* The severities to match: severity=... as given, or min_severity's ladder. */
static json_object *
severities(struct request *r)
{
	json_object *exact = given_list(r, "severity"), *from;
	const char *min = request_text(r, "min_severity");

	if (exact != NULL)
		return json_object_get(exact);
	if (min == NULL)
		return NULL;
	from = json_object_new_array();
	for (size_t i = 0, on = 0; ladder[i] != NULL; i++)
		if (on || (on = strcmp(ladder[i], min) == 0))
			json_object_array_add(from, json_object_new_string(ladder[i]));
	return from;
}

/* The statuses to match: Active when none is given, none for "all". */
static json_object *
statuses(struct request *r)
{
	json_object *given = request_value(r, "status");

	if (given == NULL) {
		json_object *active = json_object_new_array();

		json_object_array_add(active, json_object_new_string("Active"));
		return active;
	}
	/* No filter: an empty list (an MCP client can send one), or all
	 * alone (the conflict check refused it with others). */
	if (json_object_array_length(given) == 0 ||
	    strcmp(json_object_get_string(json_object_array_get_idx(given, 0)), "all") == 0)
		return NULL;
	return json_object_get(given);
}

/* The two 422s the original checks before authorization. */
static enum cora_err
check_conflicts(struct request *r)
{
	json_object *st = request_value(r, "status");

	if (given_list(r, "severity") != NULL && request_value(r, "min_severity") != NULL)
		return request_fail(r, CORA_ERR_UNPROCESSABLE, "Pass either `severity` (one or more "
		    "exact values) or `min_severity` (Notice<Caution<Warning ladder), not both.");
	for (size_t i = 0; st != NULL && json_object_array_length(st) > 1 &&
	    i < json_object_array_length(st); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(st, i)), "all") == 0)
			return request_fail(r, CORA_ERR_UNPROCESSABLE, "Pass either `status=all` "
			    "(disable filter) or one or more explicit status values, not both.");
	return CORA_OK;
}

/* The columns of the list statement (context.c), in the items' key order. */
enum { C_ID, C_KIND, C_TARGET, C_CATEGORY, C_SEVERITY, C_TEXT, C_WORKAROUND, C_AUTHOR,
	C_TAGS, C_EXPIRES, C_PROPAGATE, C_STATUS, C_PARENT, C_SUPERSEDED_BY, C_REASON,
	C_REGISTERED, C_CHANGED, C_EXPIRED };

static json_object *
column(PGresult *res, int i, int c)
{
	if (PQgetisnull(res, i, c))
		return NULL;
	if (c == C_PROPAGATE || c == C_EXPIRED)
		return json_object_new_boolean(PQgetvalue(res, i, c)[0] == 't');
	if (c == C_TAGS)
		return json_parse_stored(PQgetvalue(res, i, c));
	return json_object_new_string_len(PQgetvalue(res, i, c), PQgetlength(res, i, c));
}

static json_object *
list_item(PGresult *res, int i)
{
	static const char *const keys[] = { "caution_id", NULL, NULL, "category", "severity",
	    "text", "workaround", "authored_by", "tags", "expires_at", "propagate_to_children",
	    "status", "parent_id", "superseded_by_caution_id", "retired_reason", "registered_at",
	    "last_status_changed_at", "expired" };
	json_object *it = json_object_new_object(), *target = json_object_new_object();

	json_add_new(it, "caution_id", column(res, i, C_ID));
	json_add_new(target, "kind", column(res, i, C_KIND));
	json_add_new(target, "id", column(res, i, C_TARGET));
	json_add_new(it, "target", target);
	for (int c = C_CATEGORY; c <= C_EXPIRED; c++)
		json_add_new(it, keys[c], column(res, i, c));
	return it;
}

/* A page's cursor time as the original writes it, so that either can page
 * on from the other's cursor: registered_at's isoformat() in UTC
 * (2026-01-01T00:00:00+00:00, with .ffffff when not zero). */
static const char *
cursor_time(PGresult *res, int row, char out[40])
{
	const char *at = PQgetvalue(res, row, C_REGISTERED);
	struct rfc3339 t;
	char why[RFC3339_WHY_LEN];

	if (!rfc3339_parse(at, strlen(at), &t, why))
		return at;
	t.offset_min = 0;
	rfc3339_isoformat(&t, out);
	return out;
}

/* The page of res's rows (NULL: none, the empty page). */
static json_object *
list_page(PGresult *res, long limit)
{
	json_object *body = json_object_new_object(), *items = json_object_new_array();
	int n = PQntuples(res), shown = n > limit ? (int)limit : n;
	char at[40];

	for (int i = 0; i < shown; i++)
		json_object_array_add(items, list_item(res, i));
	json_object_object_add(body, "items", items);
	/* One row more than asked for means there is a next page. */
	cursor_next(body, n > limit, shown > 0 ? cursor_time(res, shown - 1, at) : NULL,
	    shown > 0 ? PQgetvalue(res, shown - 1, C_ID) : NULL);
	return body;
}

/* The tag to match, as stored: trimmed; bytes that are not UTF-8 are read
 * as U+FFFD, as the original's framework decodes a query. NULL: none. A
 * NUL (an MCP argument's \u0000) is in no stored tag: such a tag matches
 * nothing (*unmatched, unless NULL), and is shown with U+FFFD for it, not
 * cut there. */
static char *
list_tag(struct request *r, bool *unmatched)
{
	json_object *v = request_value(r, "tag");
	const char *raw, *t;
	size_t len, tlen, slen;
	char *clean, *tag, *whole = NULL;

	if (unmatched != NULL)
		*unmatched = false;
	if (v == NULL)
		return NULL;
	raw = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if ((whole = utf8_nul_replaced(raw, len, &len)) != NULL) {
		if (unmatched != NULL)
			*unmatched = true;
		raw = whole;
	}
	clean = utf8_sanitize(raw, len, &slen);
	t = utf8_strip_py(clean != NULL ? clean : raw, clean != NULL ? slen : len, &tlen);
	tag = xstrndup(t, tlen);
	free(clean);
	free(whole);
	return tag;
}

/* list_cautions.start carries the filters as the client gave them, as the
 * Caution context's log events define it (target_kind null when only a
 * target_id came, though the statement then matches both kinds). */
void
log_start_list_cautions(struct request *r)
{
	json_object *sev = severities(r), *sta = statuses(r);
	char *sev_log = joined(sev), *sta_log = joined(sta), *tag = list_tag(r, NULL);

	dispatch_log(r, LOG_INFO, "start", LOG_FIELDS(
	    LF_INT("limit", json_object_get_int64(request_value(r, "limit"))),
	    LF_STR("target_kind", request_text(r, "target_kind")),
	    LF_STR("target_id", request_text(r, "target_id")),
	    LF_STR("category", request_text(r, "category")),
	    LF_STR("severities", sev_log), LF_STR("statuses", sta_log), LF_STR("tag", tag),
	    LF_STR("authored_by", request_text(r, "authored_by")),
	    LF_BOOL("has_cursor", request_text(r, "cursor") != NULL)));
	json_object_put(sev);
	json_object_put(sta);
	free(sev_log);
	free(sta_log);
	free(tag);
}

enum cora_err
handle_list_cautions(struct request *r)
{
	long limit = (long)json_object_get_int64(request_value(r, "limit"));
	json_object *sev = NULL, *sta = NULL, *body;
	char after_ts[40], after_id[UUID_STR_LEN], lim[24];
	char *tag = NULL;
	const char *p[11], *kind;
	struct db_array kinds = { 0 }, sevs = { 0 }, stas = { 0 };
	PGresult *res = NULL;
	enum cora_err e;
	bool filtered, unmatched;

	if ((e = check_conflicts(r)) != CORA_OK || (e = dispatch_authorize(r)) != CORA_OK ||
	    (e = cursor_param(r, "registered_at", "caution_id", after_ts, after_id, NULL)) != CORA_OK)
		return e;
	sev = severities(r);
	sta = statuses(r);
	if (sev != NULL)
		to_array(sev, &sevs);
	if (sta != NULL)
		to_array(sta, &stas);
	tag = list_tag(r, &unmatched);
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	/* The kinds to match, as an array: a target id alone names both, so
	 * that the target index, whose first column is the kind, finds it in a
	 * descent for each instead of reading the whole index. */
	if ((kind = request_text(r, "target_kind")) != NULL)
		db_array_add(&kinds, kind);
	else if (request_text(r, "target_id") != NULL)
		for (size_t i = 0; caution_target_kinds[i] != NULL; i++)
			db_array_add(&kinds, caution_target_kinds[i]);
	p[0] = kinds.n > 0 ? db_array_text(&kinds) : NULL;
	p[1] = request_text(r, "target_id");
	p[2] = request_text(r, "category");
	p[3] = sev != NULL ? db_array_text(&sevs) : NULL;
	p[4] = sta != NULL ? db_array_text(&stas) : NULL;
	p[5] = request_text(r, "authored_by");
	p[6] = json_object_get_boolean(request_value(r, "include_expired")) ? "true" : "false";
	p[7] = after_ts;	/* the first page: the cursor before everything */
	p[8] = after_id;
	p[9] = lim;
	p[10] = tag;
	/* A filtered page is planned for its filters. A cached generic plan
	 * cannot tell which are given: it walks the keyset index and filters
	 * each row, which reads the whole table for a target with few
	 * cautions. The default status (Active) alone is what that walk is for. */
	filtered = p[0] != NULL || p[1] != NULL || p[2] != NULL || p[3] != NULL ||
	    p[5] != NULL || tag != NULL || request_value(r, "status") != NULL;
	/* A tag no stored tag can be: the empty page, no query (res NULL). */
	if (!unmatched && ((e = store_ready(r->store)) != CORA_OK ||
	    (res = (filtered ? store_exec_planned : store_exec)(r->store,
	    tag != NULL ? "list_cautions_tag" : "list_cautions", tag != NULL ? 11 : 10, p,
	    PGRES_TUPLES_OK, &e, NULL)) == NULL))
		goto out;
	body = list_page(res, limit);
	reply_json(r, 200, body);
	json_object_put(body);
	dispatch_log(r, LOG_INFO, "success", LOG_FIELDS(
	    LF_INT("returned", PQntuples(res) > limit ? limit : PQntuples(res)),
	    LF_BOOL("has_next_page", PQntuples(res) > limit)));
out:
	PQclear(res);
	json_object_put(sev);
	json_object_put(sta);
	db_array_free(&sevs);
	db_array_free(&stas);
	free(tag);
	db_array_free(&kinds);
	return e;
}
