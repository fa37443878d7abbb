/*
 * projection: what a context declares for the projector child (doc/design.md,
 * "Projections"): a name, the event types it reads, its statements and the
 * function that applies one event. The projector runs every registered
 * projection with a bookmark of its own; one added later starts from the
 * first event.
 */
#ifndef CORAD_PROJECTION_H
#define CORAD_PROJECTION_H

#include <stdbool.h>

#include <json-c/json.h>

#include "corad/store.h"

/* One event of a batch, as the projector read it. */
struct projection_event {
	const char	*position;
	const char	*transaction_id;
	const char	*event_type;
	const char	*stream_id;
	const char	*occurred_at;	/* as stored: timestamptz text */
	json_object	*payload;
};

/* The batch at work: the projector's connection inside the batch's
 * transaction, which goes to the server as a pipeline (doc/design.md,
 * "Projections"). Only the projector sees inside it. */
struct projection_tx;

/* Queues one of the projection's statements, which returns no rows. The
 * projector reads its result when the batch commits: the first statement
 * that failed is logged, and the batch is rolled back and retried. False
 * when it could not even be sent (the batch is retried too). For a
 * batched statement (struct projection) each parameter is one element:
 * the calls for it in a row go to the server as one execution. */
bool		projection_exec(struct projection_tx *tx, const char *stmt, int n,
		    const char *const *params);

struct projection {
	const char		*name;		/* its bookmark's projection_name */
	const char *const	*events;	/* event types it reads, NULL-ended */
	const struct statement	*statements;	/* prepared by the projector */
	/* Queues what applies one event idempotently (projection_exec);
	 * false when that failed (the batch is rolled back and retried). */
	bool			(*apply)(struct projection_tx *tx, const struct projection_event *ev);
	/* Its statements over many events at once (NULL-ended names, or
	 * NULL): each parameter is an array with one element per event, in
	 * order, and the projection_exec calls for one of them that follow
	 * each other go to the server as one execution (doc/design.md,
	 * "Projections"). */
	const char *const	*batched;
};

/* Registers projections (ended by a NULL name), in the master before it
 * forks; -1 with a message when there are too many. */
int		projection_register(const struct projection *p, char *err, size_t errlen);
size_t		projection_count(void);
const struct projection *projection_at(size_t i);

#endif
