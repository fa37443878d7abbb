/* GET /actors/{actor_id}: GetActor, from the event stream (SPEC section 6). */
#include "config.h"

#include "corad/access.h"
#include "corad/handlers.h"
#include "corad/request.h"
#include "corad/store.h"

static const struct access_op op = { "get_actor", "GetActor", false };

static const char deleted_name[] = "<deleted user>";

enum cora_err
handle_get_actor(struct request *r)
{
	char id[UUID_STR_LEN], reason[256];
	struct actor_state st;
	json_object *body;
	PGresult *res;
	enum cora_err e;

	if ((e = access_path_actor_id(r, id)) != CORA_OK)
		return e;
	access_log(r, LOG_INFO, &op, "start", id, NULL);
	if ((e = access_load_actor(r, &op, id, reason, &st)) != CORA_OK)
		return e;
	if (!st.exists)
		return access_refuse(r, ACTOR_NOT_FOUND, id);
	{
		const char *p[] = { id };

		res = store_exec(r->store, "profile_get", 1, p, PGRES_TUPLES_OK, &e, NULL);
		if (res == NULL)
			return e;
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(id));
	json_object_object_add(body, "name", json_object_new_string(
	    !st.forgotten && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : deleted_name));
	json_object_object_add(body, "kind", json_object_new_string(actor_kind_name(st.kind)));
	json_object_object_add(body, "active", json_object_new_boolean(st.active));
	PQclear(res);
	reply_json(r, 200, body);
	json_object_put(body);
	access_log(r, LOG_INFO, &op, "success", id, NULL);
	return CORA_OK;
}
