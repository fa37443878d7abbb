/* POST /actors: RegisterActor. */
#include "config.h"

#include "access/access.h"
#include "corad/dispatch.h"
#include "corad/idempotency.h"
#include "corad/request.h"
#include "corad/store.h"

/* The profile row, the event, the allow verdict and the idempotent result
 * commit together. */
static enum cora_err
register_persist(struct request *r, const char *id, const struct register_cmd *cmd,
    const char *now, const char *reply)
{
	struct actor_event ev;
	struct new_event ne;
	const char *p[] = { id, cmd->name, now };
	enum cora_err e;

	actor_decide_register(id, cmd->kind, now, &ev);
	ne = (struct new_event){ "Actor", id, ev.type, ev.payload, r->op->name, now };
	store_tx_begin(r->store, r);
	store_tx_exec(r->store, "profile_insert", 3, p);
	store_tx_append(r->store, r, &ne, 0);
	store_tx_verdict(r->store, r);
	idem_complete(r, 201, reply);
	e = store_tx_commit(r->store, r);
	json_object_put(ev.payload);
	return e;
}

enum cora_err
handle_register_actor(struct request *r)
{
	struct register_cmd cmd = { 0 };
	json_object *body = NULL;
	char detail[160], id[UUID_STR_LEN], now[40];
	enum cora_err e, invalid;

	invalid = register_check(r->input, &cmd, detail, sizeof(detail));
	if ((e = dispatch_create(r, invalid, detail, id)) != CORA_OK)
		goto out;
	store_now(now);
	body = json_object_new_object();
	json_object_object_add(body, "actor_id", json_object_new_string(id));
	if ((e = register_persist(r, id, &cmd, now, reply_body_string(body, NULL))) != CORA_OK)
		goto out;
	reply_json(r, 201, body);
	dispatch_log(r, LOG_INFO, "success", LOG_FIELDS(LF_STR("actor_id", id)));
out:
	json_object_put(body);
	register_cmd_free(&cmd);
	return e;
}
