/* DELETE /actors/{actor_id}/profile: ForgetActor. The name is blanked and
 * its row deleted in the transaction that appends the event, so no
 * committed state has the event without the erasure or the reverse. */
#include "config.h"

#include "access/access.h"
#include "corad/dispatch.h"
#include "corad/idempotency.h"
#include "corad/request.h"
#include "corad/store.h"

static enum cora_err
forget_persist(struct request *r, const char *id, const struct new_event *ne, int expected)
{
	const char *p[] = { id };

	store_tx_begin(r->store, r);
	/* Blank, then delete, as the original does: anything that records
	 * row changes (an audit trigger, logical decoding) sees the name go. */
	store_tx_exec(r->store, "profile_blank", 1, p);
	store_tx_exec(r->store, "profile_delete", 1, p);
	store_tx_append(r->store, r, ne, expected);
	store_tx_verdict(r->store, r);
	idem_complete(r, 204, NULL);
	return store_tx_commit(r->store, r);
}

enum cora_err
handle_forget_actor(struct request *r)
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
	if ((why = actor_decide_forget(&st, id, now, &ev)) != ACTOR_OK)
		return access_refuse(r, why, id);
	ne = (struct new_event){ "Actor", id, ev.type, ev.payload, r->op->name, now };
	e = forget_persist(r, id, &ne, st.version);
	json_object_put(ev.payload);
	if (e != CORA_OK)
		return e;
	reply_send(r, 204, NULL, NULL, 0);
	dispatch_log(r, LOG_INFO, "success", NULL);
	return CORA_OK;
}
