/* GET /actors/{actor_id}: GetActor, from the event stream (no projection lag),
 * in one statement with the profile. */
#include "config.h"

#include <stdlib.h>

#include "access/access.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/store.h"

static const char deleted_name[] = "<deleted user>";

enum cora_err
handle_get_actor(struct request *r)
{
	const char *id = request_text(r, "actor_id");
	struct actor_state st;
	json_object *body;
	char *name = NULL;
	enum cora_err e;

	if ((e = access_load_actor(r, id, &st, &name)) != CORA_OK)
		return e;
	if (!st.exists) {
		free(name);
		return access_refuse(r, ACTOR_NOT_FOUND, id);
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(id));
	json_object_object_add(body, "name", json_object_new_string(
	    !st.forgotten && name != NULL ? name : deleted_name));
	json_object_object_add(body, "kind", json_object_new_string(actor_kind_name(st.kind)));
	json_object_object_add(body, "active", json_object_new_boolean(st.active));
	free(name);
	reply_json(r, 200, body);
	json_object_put(body);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}
