/* projection: the projections the contexts register, and their statements. */
#include "config.h"

#include <stdio.h>

#include "corad/projection.h"

#define PROJECTIONS_MAX	32

static const struct projection	*projections[PROJECTIONS_MAX];
static size_t			 nprojections;

int
projection_register(const struct projection *p, char *err, size_t errlen)
{
	for (; p != NULL && p->name != NULL; p++) {
		if (nprojections == PROJECTIONS_MAX) {
			snprintf(err, errlen, "more than %d projections", PROJECTIONS_MAX);
			return -1;
		}
		projections[nprojections++] = p;
	}
	return 0;
}

size_t
projection_count(void)
{
	return nprojections;
}

const struct projection *
projection_at(size_t i)
{
	return i < nprojections ? projections[i] : NULL;
}
