/* projection: the projections the contexts register, and their statements. */
#include "config.h"

#include <stdio.h>

#include "corad/log.h"
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

PGresult *
projection_exec(struct projection_tx *tx, const char *stmt, int n, const char *const *params,
    ExecStatusType want)
{
	PGresult *res = PQexecPrepared(tx->conn, stmt, n, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	log_error("projection.error", LF_STR("projection", tx->projection->name),
	    LF_STR("statement", stmt), LF_STR("error", PQresultErrorMessage(res)));
	PQclear(res);
	return NULL;
}
