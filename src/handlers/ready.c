/* GET /ready: the database answers and the schema is current. */
#include "config.h"

#include "corad/config.h"
#include "corad/deadline.h"
#include "corad/handlers.h"
#include "corad/proc.h"
#include "corad/request.h"
#include "corad/store.h"

/* A readiness probe wants its answer soon, and a database that does not
 * answer is not ready: the check has this long (the request's timeout when
 * shorter), and running out of it is 503, not the request timeout's 504. */
#define READY_SECONDS	2.0

enum cora_err
handle_ready(struct request *r)
{
	static const char ready[] = "{\"status\":\"ready\"}";
	double secs = r->rt->cfg->request_timeout < READY_SECONDS ?
	    r->rt->cfg->request_timeout : READY_SECONDS;
	enum cora_err e;
	int v = 0;

	deadline_start(secs);
	if ((e = store_ready(r->store)) == CORA_OK)
		v = store_schema_version(r->store, &e);
	/* Answered here: a failure returned past the deadline would be made
	 * the request timeout's 504. */
	if (e != CORA_OK && deadline_expired()) {
		reply_error(r, request_fail(r, CORA_ERR_UNAVAILABLE,
		    "The database did not answer within %g s", secs));
		return CORA_ERR_UNAVAILABLE;
	}
	if (e != CORA_OK) {
		if (r->store->schema_missing)
			return request_fail(r, e, "Schema is not installed: run corad migrate");
		return e;
	}
	if (v < CORAD_SCHEMA_VERSION)
		return request_fail(r, CORA_ERR_UNAVAILABLE,
		    "Schema is behind: version %d applied, this binary needs %d; run corad migrate",
		    v, CORAD_SCHEMA_VERSION);
	reply_send(r, 200, NULL, ready, sizeof(ready) - 1);
	return CORA_OK;
}
