/*
 * context: a bounded context as the runtime sees it (doc/design.md,
 * "Contexts"): a folder src/<name>/ that declares its operations, its SQL
 * statements, its projections and the tables they need. src/contexts.c
 * lists the contexts; registering them is all the runtime needs.
 */
#ifndef CORAD_CONTEXT_H
#define CORAD_CONTEXT_H

#include <stddef.h>

#include "corad/op.h"
#include "corad/projection.h"
#include "corad/store.h"

struct context {
	const char			*name;		/* "access", as in spans: access.command.X */
	const struct operation		*operations;	/* ended by a NULL name */
	const struct statement		*statements;	/* the workers', ended by a NULL name */
	const struct projection		*projections;	/* ended by a NULL name; may be NULL */
	const char *const		*tables;	/* what its statements need, NULL-ended */
};

/* Registers the runtime's own operations and every context (the operations,
 * statements and projections), once, before anything else runs; -1 with a
 * message for an inconsistent set (two operations on one route, ...). */
int	contexts_register(char *err, size_t errlen);

#endif
