/* POST /actors/{actor_id}/deactivate: DeactivateActor; terminal. */
#include "config.h"

#include "access/access.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/store.h"

enum cora_err
handle_deactivate_actor(struct request *r)
{
	const char *id = request_text(r, "actor_id");
	char now[40];
	struct actor_state st;
	struct actor_event ev = { 0 };
	struct new_event ne;
	enum actor_refusal why;
	enum cora_err e;

	if ((e = access_load_actor(r, id, &st)) != CORA_OK)
		return e;
	store_now(now);
	if ((why = actor_decide_deactivate(&st, id, now, &ev)) != ACTOR_OK)
		return access_refuse(r, why, id);
	ne = (struct new_event){ "Actor", id, ev.type, ev.payload, r->op->name, now };
	if ((e = store_begin(r->store)) == CORA_OK &&
	    (e = store_append(r->store, r, &ne, st.version)) == CORA_OK &&
	    (e = store_verdict(r->store, r, r->op->name, true, r->verdict)) == CORA_OK)
		e = store_commit(r->store);
	if (e != CORA_OK)
		store_rollback(r->store);
	json_object_put(ev.payload);
	if (e != CORA_OK)
		return e;
	reply_send(r, 204, NULL, NULL, 0);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}
