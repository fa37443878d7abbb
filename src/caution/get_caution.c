/* GET /cautions/{caution_id}: GetCaution, folded from its stream (no lag). */
#include "config.h"

#include "caution/caution.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/rfc3339.h"

enum cora_err
handle_get_caution(struct request *r)
{
	const char *id = request_text(r, "caution_id");
	struct caution_state st;
	json_object *body;
	enum cora_err e;

	if ((e = caution_load(r, id, &st)) != CORA_OK)
		goto out;
	/* A miss is the query's success with found false, and a 404
	 * (doc/design.md, "The Caution context"). */
	if (st.status == CAUTION_NONE) {
		dispatch_log(r, LOG_INFO, "success", LOG_FIELDS(LF_BOOL("found", false)));
		e = caution_refuse(r, CAUTION_NOT_FOUND, id, &st, NULL);
		goto out;
	}
	body = caution_render(&st, id, rfc3339_now_us());
	reply_json(r, 200, body);
	json_object_put(body);
	dispatch_log(r, LOG_INFO, "success", LOG_FIELDS(LF_BOOL("found", true)));
out:
	caution_state_free(&st);
	return e;
}
