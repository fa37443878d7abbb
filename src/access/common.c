/* The steps every actor handler shares: logs, path id, authorization, load. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corad/access.h"
#include "corad/authz.h"
#include "corad/request.h"
#include "corad/store.h"

void
access_log(struct request *r, enum log_level lvl, const struct access_op *op,
    const char *what, const char *actor_id, const char *reason)
{
	char event[64];

	if (!log_enabled(lvl))
		return;
	snprintf(event, sizeof(event), "%s.%s", op->verb, what);
	/* causation_id is present (null) on command lines only, per SPEC 12. */
	log_emit(lvl, event, LOG_FIELDS(
	    LF_STR("correlation_id", r->correlation_id),
	    op->command ? LF_NULL("causation_id") : LF_SKIP,
	    LF_STR("principal_id", r->principal_id),
	    LF_STR(op->command ? "command_name" : "query_name", op->name),
	    actor_id != NULL ? LF_STR("actor_id", actor_id) : LF_SKIP,
	    reason != NULL ? LF_STR("reason", reason) : LF_SKIP));
}

enum cora_err
access_path_actor_id(struct request *r, char out[UUID_STR_LEN])
{
	struct uuid_error ue;
	uint8_t id[16];
	char msg[220];

	if (uuid_parse_text(r->match.actor_id, id, &ue)) {
		uuid_format(id, out);
		return CORA_OK;
	}
	snprintf(msg, sizeof(msg), "Input should be a valid UUID, %s", ue.msg);
	r->error_validation = json_object_new_array();
	validation_add(r->error_validation, "uuid_parsing", "path", "actor_id", msg,
	    json_object_new_string(r->match.actor_id));
	return CORA_ERR_VALIDATION;
}

enum cora_err
access_authorize(struct request *r, const struct access_op *op, const char *actor_id,
    char reason[256])
{
	struct authz_verdict v;
	enum cora_err e;

	authz_decide(r->policy, r->principal_id, op->name, &v);
	snprintf(reason, 256, "%s", v.reason);
	if (v.allowed)
		return CORA_OK;
	access_log(r, LOG_WARNING, op, "denied", actor_id, v.reason);
	/* The denial is history too; it needs the database like the command. */
	if ((e = store_ready(r->store)) != CORA_OK ||
	    (e = store_verdict(r->store, r, op->name, false, v.reason)) != CORA_OK)
		return e;
	return request_fail(r, CORA_ERR_FORBIDDEN, "%s", v.reason);
}

enum cora_err
access_load_actor(struct request *r, const struct access_op *op, const char *actor_id,
    char reason[256], struct actor_state *s)
{
	const char *p[] = { "Actor", actor_id };
	enum cora_err e = CORA_OK;
	PGresult *res;

	memset(s, 0, sizeof(*s));
	if ((e = access_authorize(r, op, actor_id, reason)) != CORA_OK ||
	    (e = store_ready(r->store)) != CORA_OK)
		return e;
	res = store_exec(r->store, "load_stream", 2, p, PGRES_TUPLES_OK, &e, NULL);
	if (res == NULL)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *payload = json_tokener_parse(PQgetvalue(res, i, 2));
		const char *type = PQgetvalue(res, i, 1);

		if (actor_fold(s, type, payload) != 0)
			log_warning("access.unknown_event", LF_STR("event_type", type),
			    LF_STR("actor_id", actor_id));
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
