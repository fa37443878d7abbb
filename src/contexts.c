/*
 * contexts: the bounded contexts this server runs. Adding one is one line
 * here (and its folder, its sql/ file and Makefile.am): doc/design.md,
 * "Adding a context".
 */
#include "config.h"

#include <stdio.h>

#include "access/access.h"
#include "caution/caution.h"
#include "corad/context.h"
#include "corad/handlers.h"
#include "corad/projection.h"
#include "corad/route.h"
#include "corad/store.h"

static const struct context *const contexts[] = {
	&access_context,
	&caution_context,
	NULL,
};

int
contexts_register(char *err, size_t errlen)
{
	if (route_register(runtime_operations, err, errlen) != 0)
		return -1;
	for (size_t i = 0; contexts[i] != NULL; i++) {
		const struct context *c = contexts[i];

		if (route_register(c->operations, err, errlen) != 0 ||
		    store_register(c->statements, c->tables, err, errlen) != 0 ||
		    projection_register(c->projections, err, errlen) != 0)
			return -1;
	}
	return 0;
}
