/*
 * report: what a worker tells the stats child (ipc.h): a record of every
 * request it served and the spans of those that are traced, in batches
 * over the datagram socket. The one module that sends to the stats child.
 */
#ifndef CORAD_REPORT_H
#define CORAD_REPORT_H

#include <stdint.h>

#include "corad/reply.h"

struct request;
struct runtime;

/* The INTERNAL span of an operation of a context, <bc>.<kind>.<Name>,
 * begun at start_ns with span id `id`; e is how it ended. */
void	report_span_operation(struct request *r, const uint8_t id[8], uint64_t start_ns,
	    enum cora_err e);
/* The SERVER span of the whole request, once it has been answered. */
void	report_span_server(struct request *r);
/* The request's record for the metrics (not for an uncounted route). */
void	report_request(struct request *r);
/* Sends what is held back: before /metrics asks the stats child (so the
 * asking worker's own requests count), when idle, and before exiting. */
void	report_flush(const struct runtime *rt);

#endif
