/* openapi: the OpenAPI 3.1 document, made from the registered operations. */
#ifndef CORAD_OPENAPI_H
#define CORAD_OPENAPI_H

#include <json-c/json.h>

/*
 * Every operation of route.h but the internal ones (/metrics, /status,
 * /openapi.json itself): its path and query parameters, its request body,
 * the Idempotency-Key header where it takes one, and every status it can
 * answer with its body's schema, the pipeline's own (401, 413, 422, 503,
 * ...) included. A new object the caller puts.
 */
json_object	*openapi_document(void);

#endif
