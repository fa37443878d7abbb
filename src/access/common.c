/* The steps the actor handlers share: load the stream, refuse. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "corad/alloc.h"
#include "corad/dispatch.h"
#include "corad/json.h"
#include "corad/log.h"
#include "corad/request.h"
#include "corad/store.h"

enum cora_err
access_load_actor(struct request *r, const char *actor_id, struct actor_state *s, char **name)
{
	const char *p[] = { "Actor", actor_id };
	enum cora_err e = CORA_OK;
	PGresult *res;

	memset(s, 0, sizeof(*s));
	if ((e = dispatch_authorize(r)) != CORA_OK || (e = store_ready(r->store)) != CORA_OK)
		return e;
	res = name != NULL ? store_exec(r->store, "actor_get", 1, p + 1, PGRES_TUPLES_OK, &e, NULL) :
	    store_exec(r->store, "load_stream", 2, p, PGRES_TUPLES_OK, &e, NULL);
	if (res == NULL)
		return e;
	if (name != NULL)
		*name = PQntuples(res) > 0 && !PQgetisnull(res, 0, 3) ?
		    xstrdup(PQgetvalue(res, 0, 3)) : NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *payload = json_parse_stored(PQgetvalue(res, i, 2));
		const char *type = PQgetvalue(res, i, 1);

		if (actor_fold(s, type, payload) != 0)
			log_warning("access.unknown_event", LF_STR("event_type", type),
			    LF_STR("actor_id", actor_id));
		/* A legacy actor without a profile row: its name is in the event,
		 * as the list's projection takes it. */
		if (name != NULL && *name == NULL && strcmp(type, "ActorRegistered") == 0) {
			json_object *n;

			if (json_object_object_get_ex(payload, "name", &n) &&
			    json_object_is_type(n, json_type_string))
				*name = xstrdup(json_object_get_string(n));
		}
		s->version = atoi(PQgetvalue(res, i, 0));
		json_object_put(payload);
	}
	PQclear(res);
	return CORA_OK;
}

enum cora_err
access_refuse(struct request *r, enum actor_refusal why, const char *actor_id)
{
	switch (why) {
	case ACTOR_NOT_FOUND:
		return request_fail(r, CORA_ERR_NOT_FOUND, "Actor %s not found", actor_id);
	case ACTOR_ALREADY_DEACTIVATED:
		return request_fail(r, CORA_ERR_CONFLICT, "Actor %s is already deactivated", actor_id);
	case ACTOR_ALREADY_FORGOTTEN:
		return request_fail(r, CORA_ERR_CONFLICT, "Actor %s profile is already forgotten",
		    actor_id);
	case ACTOR_OK:
		break;
	}
	return CORA_OK;
}
