/*
 * POST /cautions/{parent_id}/supersede: SupersedeCaution. One transaction
 * over two streams: the parent's CautionSuperseded at the version it was
 * read at, then the child's CautionRegistered as its first event; either
 * both are written or, when another writer got there first, neither (409).
 */
#include "config.h"

#include <stdlib.h>

#include "caution/caution.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/rfc3339.h"
#include "corad/store.h"

enum cora_err
handle_supersede_caution(struct request *r)
{
	const char *parent = request_text(r, "parent_id");
	struct caution_state st;
	struct caution_fields f = { 0 };
	struct new_event ev[2];
	json_object *body = NULL;
	char *detail = NULL, child[UUID_STR_LEN], now[40];
	uint8_t raw[16];
	int expected[2] = { 0, 0 };
	enum caution_refusal why;
	enum cora_err e;

	/* The original's order: 403, 404, 409, then the body's 400s. */
	if ((e = caution_load(r, parent, &st)) != CORA_OK)
		goto out;
	if ((why = caution_can_change(&st)) != CAUTION_OK) {
		e = caution_refuse(r, why, parent, &st, "superseded");
		goto out;
	}
	if ((e = caution_check_fields(r->input, rfc3339_now_us(), &f, &detail)) != CORA_OK) {
		e = request_fail(r, e, "%s", detail);
		goto out;
	}
	if ((why = caution_same_target(&st, &f)) != CAUTION_OK) {
		e = caution_refuse(r, why, parent, &st, "superseded");
		goto out;
	}
	uuid_make_v7(raw);
	uuid_format(raw, child);
	caution_now(now);
	ev[0] = (struct new_event){ "Caution", parent, "CautionSuperseded",
	    caution_superseded(parent, child, now), r->op->name, now };
	ev[1] = (struct new_event){ "Caution", child, "CautionRegistered",
	    caution_registered(&f, child, r->principal_id, parent, now), r->op->name, now };
	expected[0] = st.version;
	body = json_object_new_object();
	json_object_object_add(body, "caution_id", json_object_new_string(child));
	e = caution_commit(r, ev, expected, 2, 201, reply_body_string(body, NULL));
	json_object_put(ev[0].payload);
	json_object_put(ev[1].payload);
	if (e != CORA_OK)
		goto out;
	reply_json(r, 201, body);
	dispatch_log(r, LOG_INFO, "success", LOG_FIELDS(LF_STR("child_caution_id", child),
	    LF_INT("parent_event_count", 1), LF_INT("child_event_count", 1)));
out:
	json_object_put(body);
	caution_fields_free(&f);
	caution_state_free(&st);
	free(detail);
	return e;
}
