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

	if ((e = access_load_actor(r, id, &st, NULL)) != CORA_OK)
		return e;
	store_now(now);
	if ((why = actor_decide_deactivate(&st, id, now, &ev)) != ACTOR_OK)
		return access_refuse(r, why, id);
	ne = (struct new_event){ "Actor", id, ev.type, ev.payload, r->op->name, now };
	store_tx_begin(r->store, r);
	store_tx_append(r->store, r, &ne, st.version);
	store_tx_verdict(r->store, r);
	e = store_tx_commit(r->store, r);
	json_object_put(ev.payload);
	if (e != CORA_OK)
		return e;
	reply_send(r, 204, NULL, NULL, 0);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}
