/*
 * ipc: every message that crosses a process boundary, as fixed-size structs.
 *
 * Workers and the master send these as datagrams on one SOCK_DGRAM
 * socketpair whose reading end the stats child owns (the master keeps both
 * ends, so a restarted stats child inherits the same queue). A datagram
 * holds up to IPC_MAX_RECORDS records of one type, back to back. Senders use
 * MSG_DONTWAIT: a full queue or a dead stats child loses a sample, never a
 * request. Queries (/metrics) use a stream socket in CORA_RUNTIME_DIR: a
 * struct stats_query, answered with text until the stats child closes.
 */
#ifndef CORAD_IPC_H
#define CORAD_IPC_H

#include <stdint.h>
#include <sys/types.h>

#define IPC_MAX_RECORDS	64	/* request records per datagram */
#define IPC_MAX_SPANS	8	/* spans per datagram (struct span, trace.h) */

enum ipc_msg_type {
	IPC_REQUEST_DONE = 1,	/* a worker finished one request */
	IPC_SPAN,		/* a finished span to export (struct span) */
};

/* Idempotency-Key events of one request: cora_idempotency_total{outcome}. */
enum ipc_idem_event {
	IPC_IDEM_CLAIMED = 1 << 0,
	IPC_IDEM_CACHE_HIT = 1 << 1,
	IPC_IDEM_CONFLICT = 1 << 2,
	IPC_IDEM_CLAIM_LOST = 1 << 3,
};

struct ipc_request_done {
	uint32_t	type;		/* IPC_REQUEST_DONE */
	int32_t		pid;
	uint16_t	route;		/* route.h index, ROUTE_NONE if unmatched */
	uint16_t	method;		/* enum http_method */
	uint16_t	status;
	uint8_t		idem_events;	/* enum ipc_idem_event bits */
	uint8_t		body_rejected;	/* 413 from the body limit */
	uint32_t	db_errors;	/* failed database calls */
	uint16_t	spans_lost;	/* spans this worker could not hand over */
	uint16_t	pad;
	uint64_t	request_bytes;
	uint64_t	response_bytes;
	uint64_t	duration_ns;
};

enum stats_query_type {
	STATS_QUERY_METRICS = 1,	/* Prometheus text */
	STATS_QUERY_STATUS,		/* /status JSON */
};

struct stats_query {
	uint32_t	type;
};

#endif
