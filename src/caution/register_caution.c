/* POST /cautions: RegisterCaution. */
#include "config.h"

#include <stdlib.h>

#include "caution/caution.h"
#include "corad/dispatch.h"
#include "corad/request.h"
#include "corad/rfc3339.h"
#include "corad/store.h"

enum cora_err
handle_register_caution(struct request *r)
{
	struct caution_fields f;
	struct new_event ev;
	json_object *body = NULL;
	char *detail = NULL, id[UUID_STR_LEN], now[40];
	const int expected = 0;
	enum cora_err e, invalid;

	invalid = caution_check_fields(r->input, rfc3339_now_us(), &f, &detail);
	if ((e = dispatch_create(r, invalid, detail, id)) != CORA_OK)
		goto out;
	caution_now(now);
	ev = (struct new_event){ "Caution", id, "CautionRegistered",
	    caution_registered(&f, id, r->principal_id, NULL, now), r->op->name, now };
	body = json_object_new_object();
	json_object_object_add(body, "caution_id", json_object_new_string(id));
	e = caution_commit(r, &ev, &expected, 1, 201, reply_body_string(body, NULL));
	json_object_put(ev.payload);
	if (e != CORA_OK)
		goto out;
	reply_json(r, 201, body);
	dispatch_log(r, LOG_INFO, "success",
	    LOG_FIELDS(LF_STR("caution_id", id), LF_INT("event_count", 1)));
out:
	json_object_put(body);
	caution_fields_free(&f);
	free(detail);
	return e;
}
