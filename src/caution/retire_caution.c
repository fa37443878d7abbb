/* POST /cautions/{caution_id}/retire: RetireCaution; terminal. */
#include "config.h"

#include "caution/caution.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/store.h"

enum cora_err
handle_retire_caution(struct request *r)
{
	const char *id = request_text(r, "caution_id");
	struct caution_state st;
	struct new_event ev;
	enum caution_refusal why;
	enum cora_err e;
	char now[40];

	if ((e = caution_load(r, id, &st)) != CORA_OK)
		goto out;
	if ((why = caution_can_change(&st)) != CAUTION_OK) {
		e = caution_refuse(r, why, id, &st, "retired");
		goto out;
	}
	caution_now(now);
	ev = (struct new_event){ "Caution", id, "CautionRetired",
	    caution_retired(id, request_text(r, "reason"), now), r->op->name, now };
	e = caution_commit(r, &ev, &st.version, 1, 204, NULL);
	json_object_put(ev.payload);
	if (e != CORA_OK)
		goto out;
	reply_send(r, 204, NULL, NULL, 0);
	dispatch_log(r, LOG_INFO, "success", LOG_FIELDS(LF_INT("event_count", 1)));
out:
	caution_state_free(&st);
	return e;
}
