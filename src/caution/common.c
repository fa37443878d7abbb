/* The steps the caution handlers share: load the stream, refuse, commit. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "caution/caution.h"
#include "corad/dispatch.h"
#include "corad/idempotency.h"
#include "corad/json.h"
#include "corad/log.h"
#include "corad/request.h"
#include "corad/rfc3339.h"
#include "corad/store.h"

enum cora_err
caution_load(struct request *r, const char *id, struct caution_state *s)
{
	const char *p[] = { "Caution", id };
	enum cora_err e = CORA_OK;
	PGresult *res;

	memset(s, 0, sizeof(*s));
	if ((e = dispatch_authorize(r)) != CORA_OK || (e = store_ready(r->store)) != CORA_OK)
		return e;
	if ((res = store_exec(r->store, "load_stream", 2, p, PGRES_TUPLES_OK, &e, NULL)) == NULL)
		return e;
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *payload = json_parse_stored(PQgetvalue(res, i, 2));
		const char *type = PQgetvalue(res, i, 1);

		/* Skipped, never a 500: the stream may hold a newer writer's events. */
		if (caution_fold(s, type, payload) != 0)
			log_warning("caution.event_skipped", LF_STR("event_type", type),
			    LF_STR("caution_id", id), LF_STR("version", PQgetvalue(res, i, 0)));
		s->version = atoi(PQgetvalue(res, i, 0));
		json_object_put(payload);
	}
	PQclear(res);
	return CORA_OK;
}

enum cora_err
caution_refuse(struct request *r, enum caution_refusal why, const char *id,
    const struct caution_state *s, const char *done)
{
	switch (why) {
	case CAUTION_NOT_FOUND:
		return request_fail(r, CORA_ERR_NOT_FOUND, "Caution %s not found", id);
	case CAUTION_NOT_ACTIVE:
		return request_fail(r, CORA_ERR_CONFLICT, "Caution %s cannot be %s: currently in "
		    "status %s, %s requires Active", id, done, caution_status_name(s->status),
		    r->op->verb);
	case CAUTION_RETARGETED:
		return request_fail(r, CORA_ERR_BAD_REQUEST,
		    "supersede preserves target; start a new caution to retarget");
	case CAUTION_OK:
		break;
	}
	return CORA_OK;
}

json_object *
caution_idem_command(const struct request *r)
{
	return caution_command(r->params, r->input);
}

void
caution_now(char now[40])
{
	struct rfc3339 t = { .unix_us = rfc3339_now_us(), .has_offset = true };

	rfc3339_isoformat(&t, now);
}

enum cora_err
caution_commit(struct request *r, const struct new_event *evs, const int *expected, size_t n,
    int status, const char *reply)
{
	store_tx_begin(r->store, r);
	/* In the order given, the global order of the events; a conflict on
	 * any stream rolls back all of them. */
	for (size_t i = 0; i < n; i++)
		store_tx_append(r->store, r, &evs[i], expected[i]);
	store_tx_verdict(r->store, r);
	idem_complete(r, status, reply);
	return store_tx_commit(r->store, r);
}
