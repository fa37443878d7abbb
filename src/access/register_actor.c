/* POST /actors: RegisterActor (SPEC section 6). */
#include "config.h"

#include <string.h>

#include "corad/access.h"
#include "corad/handlers.h"
#include "corad/request.h"
#include "corad/store.h"

static const struct access_op op = { "register_actor", "RegisterActor", true };

/*
 * The command as the idempotency hash sees it: the fields as sent (the name
 * before trimming), kind with its default. The body has passed validation.
 */
static json_object *
register_command(const struct request *r)
{
	const char *body = r->body;
	json_object *in, *name = NULL, *kind = NULL, *cmd = json_object_new_object();

	if (r->body_len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		body += 3;	/* a byte-order mark, which validation allows */
	in = json_tokener_parse(body);
	json_object_object_get_ex(in, "kind", &kind);
	json_object_object_get_ex(in, "name", &name);
	json_object_object_add(cmd, "kind", kind != NULL ? json_object_get(kind) :
	    json_object_new_string("human"));
	json_object_object_add(cmd, "name", json_object_get(name));
	json_object_put(in);
	return cmd;
}

/* The profile row, the event, the allow verdict and the idempotent result
 * commit together. */
static enum cora_err
register_persist(struct request *r, const char *id, const struct register_cmd *cmd,
    const char *now, const char *reason, const char *reply)
{
	struct actor_event ev;
	struct new_event ne;
	const char *p[] = { id, cmd->name, now };
	enum cora_err e;
	PGresult *res;

	actor_decide_register(id, cmd->kind, now, &ev);
	ne = (struct new_event){ "Actor", id, ev.type, ev.payload, op.name, now };
	if ((e = store_begin(r->store)) != CORA_OK)
		goto out;
	if ((res = store_exec(r->store, "profile_insert", 3, p, PGRES_COMMAND_OK, &e, NULL)) == NULL)
		goto out;
	PQclear(res);
	if ((e = store_append(r->store, r, &ne, 0)) != CORA_OK ||
	    (e = store_verdict(r->store, r, op.name, true, reason)) != CORA_OK ||
	    (e = idem_complete(r, 201, reply)) != CORA_OK)
		goto out;
	e = store_commit(r->store);
out:
	if (e != CORA_OK)
		store_rollback(r->store);
	json_object_put(ev.payload);
	return e;
}

enum cora_err
handle_register_actor(struct request *r)
{
	struct register_cmd cmd = { 0 };
	json_object *errors = NULL, *body = NULL, *command;
	char detail[160], reason[256], id[UUID_STR_LEN], now[40];
	const char *reply;
	uint8_t raw[16];
	enum cora_err e, invalid;
	bool replayed;

	access_log(r, LOG_INFO, &op, "start", NULL, NULL);
	invalid = register_parse(r->body, r->body_len, &cmd, &errors, detail, sizeof(detail));
	if (invalid == CORA_ERR_VALIDATION) {
		r->error_validation = errors;
		return invalid;
	}
	command = register_command(r);
	e = idem_claim(r, op.name, command, &replayed);
	json_object_put(command);
	if (e != CORA_OK || replayed)
		goto out;
	/* Authorization (step 5) comes before the domain's own 400s. */
	if ((e = access_authorize(r, &op, NULL, reason)) != CORA_OK)
		goto out;
	if (invalid != CORA_OK) {
		e = request_fail(r, invalid, "%s", detail);
		goto out;
	}
	if ((e = store_ready(r->store)) != CORA_OK)
		goto out;
	uuid_make_v7(raw);
	uuid_format(raw, id);
	store_now(now);
	body = json_object_new_object();
	json_object_object_add(body, "actor_id", json_object_new_string(id));
	reply = reply_body_string(body, NULL);
	if ((e = register_persist(r, id, &cmd, now, reason, reply)) != CORA_OK)
		goto out;
	reply_json(r, 201, body);
	access_log(r, LOG_INFO, &op, "success", id, NULL);
out:
	json_object_put(body);
	register_cmd_free(&cmd);
	return e;
}
