/*
 * worker: the request pipeline of a worker process, from an accepted
 * request to its stats record.
 */
#ifndef CORAD_WORKER_H
#define CORAD_WORKER_H

#include "corad/reply.h"
#include "corad/route.h"

struct request;
struct runtime;

/*
 * Serves one request whose parameters (r->fcgi->envp) and I/O (r->io) are
 * set: every pipeline step, the handler, the answer, the span and the
 * stats record. The fuzzers drive it with memory in place of a connection.
 */
void		worker_serve_one(struct request *r);

/* Runs the handler of a route in the current request, inside its span, as
 * the route would; MCP's tools call the routes' handlers so. */
enum cora_err	worker_call(struct request *r, enum route_id route, enum http_method method);

/* Sends the request records not yet sent to the stats child (before
 * /metrics asks it, so the asking worker's own requests count). */
void		worker_flush_reports(const struct runtime *rt);

#endif
