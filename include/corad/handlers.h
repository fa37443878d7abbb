/* handlers: one function per (route, method); the table is in worker.c. */
#ifndef CORAD_HANDLERS_H
#define CORAD_HANDLERS_H

#include "corad/reply.h"
#include "corad/route.h"

struct request;

typedef enum cora_err (*handler_fn)(struct request *r);

/* Worker start-up: pre-renders constant bodies. */
void		handlers_init(void);

enum cora_err	handle_health(struct request *r);
enum cora_err	handle_ready(struct request *r);
enum cora_err	handle_metrics(struct request *r);
enum cora_err	handle_status(struct request *r);
enum cora_err	handle_mcp(struct request *r);

/* The Access context: src/access/<command or query>.c */
enum cora_err	handle_register_actor(struct request *r);
enum cora_err	handle_get_actor(struct request *r);
enum cora_err	handle_list_actors(struct request *r);
enum cora_err	handle_deactivate_actor(struct request *r);
enum cora_err	handle_forget_actor(struct request *r);

#endif
