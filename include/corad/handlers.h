/*
 * handlers: the runtime's own operations (src/handlers/): /health, /ready,
 * /metrics, /status, /mcp and /openapi.json.
 */
#ifndef CORAD_HANDLERS_H
#define CORAD_HANDLERS_H

#include "corad/op.h"
#include "corad/reply.h"

struct request;

/* Their descriptions (runtime.c), ended by a NULL name. */
extern const struct operation runtime_operations[];

/* Worker start-up: pre-renders constant bodies. */
void		handlers_init(void);

enum cora_err	handle_health(struct request *r);
enum cora_err	handle_ready(struct request *r);
enum cora_err	handle_metrics(struct request *r);
enum cora_err	handle_status(struct request *r);
enum cora_err	handle_mcp(struct request *r);
enum cora_err	handle_openapi(struct request *r);

#endif
