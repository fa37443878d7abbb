/* DELETE /actors/{actor_id}/profile: ForgetActor (SPEC section 6). The name
 * is blanked and its row deleted in the transaction that appends the event,
 * so no committed state has the event without the erasure or the reverse. */
#include "config.h"

#include "corad/access.h"
#include "corad/handlers.h"
#include "corad/request.h"
#include "corad/store.h"

static const struct access_op op = { "forget_actor", "ForgetActor", true };

static enum cora_err
forget_persist(struct request *r, const char *id, const struct new_event *ne,
    int expected, const char *reason)
{
	const char *p[] = { id };
	enum cora_err e;
	PGresult *res;

	if ((e = store_begin(r->store)) != CORA_OK)
		return e;
	/* Blank, then delete, as the original does: anything that records
	 * row changes (an audit trigger, logical decoding) sees the name go. */
	if ((res = store_exec(r->store, "profile_blank", 1, p, PGRES_COMMAND_OK, &e, NULL)) == NULL)
		goto fail;
	PQclear(res);
	if ((res = store_exec(r->store, "profile_delete", 1, p, PGRES_COMMAND_OK, &e, NULL)) == NULL)
		goto fail;
	PQclear(res);
	if ((e = store_append(r->store, r, ne, expected)) != CORA_OK ||
	    (e = store_verdict(r->store, r, op.name, true, reason)) != CORA_OK ||
	    (e = idem_complete(r, 204, NULL)) != CORA_OK ||
	    (e = store_commit(r->store)) != CORA_OK)
		goto fail;
	return CORA_OK;
fail:
	store_rollback(r->store);
	return e;
}

enum cora_err
handle_forget_actor(struct request *r)
{
	char id[UUID_STR_LEN], reason[256], now[40];
	struct actor_state st;
	struct actor_event ev = { 0 };
	struct new_event ne;
	enum actor_refusal why;
	enum cora_err e;
	json_object *command;
	bool replayed;

	if ((e = access_path_actor_id(r, id)) != CORA_OK)
		return e;
	access_log(r, LOG_INFO, &op, "start", id, NULL);
	command = json_object_new_object();
	json_object_object_add(command, "actor_id", json_object_new_string(id));
	e = idem_claim(r, op.name, command, &replayed);
	json_object_put(command);
	if (e != CORA_OK || replayed)
		return e;
	if ((e = access_load_actor(r, &op, id, reason, &st)) != CORA_OK)
		return e;
	store_now(now);
	if ((why = actor_decide_forget(&st, id, now, &ev)) != ACTOR_OK)
		return access_refuse(r, why, id);
	ne = (struct new_event){ "Actor", id, ev.type, ev.payload, op.name, now };
	e = forget_persist(r, id, &ne, st.version, reason);
	json_object_put(ev.payload);
	if (e != CORA_OK)
		return e;
	reply_send(r, 204, NULL, NULL, 0);
	access_log(r, LOG_INFO, &op, "success", id, NULL);
	return CORA_OK;
}
