/* GET /actors/{actor_id}/events: GetActorHistory, the actor's event
 * history from its stream, oldest first. */
#include "config.h"

#include <stdlib.h>

#include "access/access.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/store.h"

enum cora_err
handle_get_actor_history(struct request *r)
{
	const char *id = request_text(r, "actor_id"), *p[] = { id };
	json_object *body, *items;
	PGresult *res;
	enum cora_err e;

	if ((e = dispatch_authorize(r)) != CORA_OK || (e = store_ready(r->store)) != CORA_OK)
		return e;
	if ((res = store_exec(r->store, "actor_history", 1, p, PGRES_TUPLES_OK, &e, NULL)) == NULL)
		return e;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return access_refuse(r, ACTOR_NOT_FOUND, id);
	}
	body = json_object_new_object();
	items = json_object_new_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *it = json_object_new_object();

		json_object_object_add(it, "type", json_object_new_string(PQgetvalue(res, i, 0)));
		json_object_object_add(it, "version", json_object_new_int(atoi(PQgetvalue(res, i, 1))));
		json_object_object_add(it, "occurred_at", json_object_new_string(PQgetvalue(res, i, 2)));
		json_object_object_add(it, "recorded_at", json_object_new_string(PQgetvalue(res, i, 3)));
		json_object_array_add(items, it);
	}
	PQclear(res);
	json_object_object_add(body, "items", items);
	reply_json(r, 200, body);
	json_object_put(body);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}
