/* GET /actors: ListActors, keyset pages of the actor projection. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "corad/cursor.h"
#include "corad/dispatch.h"
#include "corad/json.h"
#include "corad/request.h"
#include "corad/store.h"

static json_object *
list_page(PGresult *res, long limit)
{
	json_object *body = json_object_new_object(), *items = json_object_new_array();
	int n = PQntuples(res), shown = n > limit ? (int)limit : n;

	for (int i = 0; i < shown; i++) {
		static const char *const keys[] = { "actor_id", "name", "kind", "status", "created_at" };
		json_object *it = json_object_new_object();

		for (int c = 0; c < 5; c++)
			json_add_new(it, keys[c],
			    json_object_new_string_len(PQgetvalue(res, i, c), PQgetlength(res, i, c)));
		json_object_array_add(items, it);
	}
	json_object_object_add(body, "items", items);
	/* One row more than asked for means there is a next page. */
	cursor_next(body, n > limit, shown > 0 ? PQgetvalue(res, shown - 1, 4) : NULL,
	    shown > 0 ? PQgetvalue(res, shown - 1, 0) : NULL);
	return body;
}

enum cora_err
handle_list_actors(struct request *r)
{
	long limit = (long)json_object_get_int64(request_value(r, "limit"));
	const char *status = request_text(r, "status");
	char after_ts[40], after_id[UUID_STR_LEN], lim[24];
	const char *p[4] = { lim };
	json_object *body;
	PGresult *res;
	enum cora_err e;
	int n = 1;

	/* Authorized before the cursor is read, as the Caution list is: a
	 * denied principal gets its 403, recorded, whatever cursor it sent. */
	if ((e = dispatch_authorize(r)) != CORA_OK ||
	    (e = cursor_param(r, "created_at", "actor_id", after_ts, after_id, NULL)) != CORA_OK ||
	    (e = store_ready(r->store)) != CORA_OK)
		return e;
	snprintf(lim, sizeof(lim), "%ld", limit + 1);	/* one more: is there a next page? */
	if (status != NULL)
		p[n++] = status;
	p[n++] = after_ts;	/* the first page: the cursor before everything */
	p[n++] = after_id;
	res = store_exec(r->store, status != NULL ? "list_actors_status" : "list_actors", n, p,
	    PGRES_TUPLES_OK, &e, NULL);
	if (res == NULL)
		return e;
	body = list_page(res, limit);
	PQclear(res);
	reply_json(r, 200, body);
	json_object_put(body);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}
