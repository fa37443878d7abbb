/* authz: the JSON authorization policy (doc/design.md, "Authorization"). */
#ifndef CORAD_AUTHZ_H
#define CORAD_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

struct authz_policy;

/* Loads and validates a policy file; NULL with a reason naming the file
 * and the offending part. */
struct authz_policy	*authz_load(const char *path, char *err, size_t errlen);
void			 authz_free(struct authz_policy *p);

struct authz_verdict {
	bool	allowed;
	char	reason[256];	/* names the rule, e.g. "denied by rule 2" */
};

/*
 * The first rule whose principals and commands both match decides; else the
 * default. A NULL policy allows everything. `name` is a command or query
 * name (RegisterActor, GetActor, ...), principal a canonical UUID.
 */
void	authz_decide(const struct authz_policy *p, const char *principal,
	    const char *name, struct authz_verdict *v);

/* Whether `name` is a command or query this server knows. */
bool	authz_known_name(const char *name);

#endif
