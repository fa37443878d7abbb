/* GET /ready: the database answers and the schema is current. */
#include "config.h"

#include "corad/handlers.h"
#include "corad/request.h"
#include "corad/store.h"

enum cora_err
handle_ready(struct request *r)
{
	static const char ready[] = "{\"status\":\"ready\"}";
	enum cora_err e;
	int v;

	if ((e = store_ready(r->store)) != CORA_OK) {
		if (r->store->schema_missing)
			return request_fail(r, e, "Schema is not installed: run corad migrate");
		return e;
	}
	if ((v = store_schema_version(r->store, &e)) < 0)
		return e;
	if (v < CORAD_SCHEMA_VERSION)
		return request_fail(r, CORA_ERR_UNAVAILABLE,
		    "Schema is behind: version %d applied, this binary needs %d; run corad migrate",
		    v, CORAD_SCHEMA_VERSION);
	reply_send(r, 200, NULL, ready, sizeof(ready) - 1);
	return CORA_OK;
}
