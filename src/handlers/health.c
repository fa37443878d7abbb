/* GET /health: liveness, no database. */
#include "config.h"

#include <string.h>

#include "corad/handlers.h"
#include "corad/request.h"

/* Constant for the life of the process: rendered once per worker. */
static char	health_body[128];
static size_t	health_len;

void
handlers_init(void)
{
	json_object *o = json_object_new_object();
	size_t len;
	const char *s;

	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	s = reply_body_string(o, &len);
	if (len < sizeof(health_body)) {
		memcpy(health_body, s, len);
		health_len = len;
	}
	json_object_put(o);
}

enum cora_err
handle_health(struct request *r)
{
	reply_send(r, 200, NULL, health_body, health_len);
	return CORA_OK;
}
