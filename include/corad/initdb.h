/* initdb: corad init-db, the database set-up (doc/design.md, "Deployment"). */
#ifndef CORAD_INITDB_H
#define CORAD_INITDB_H

#include <stddef.h>

/*
 * Connects with admin_url (a superuser, or a role with CREATEDB and
 * CREATEROLE) and makes, each only when missing: the owner role of
 * owner_url and the app role of app_url (LOGIN and nothing else; a password
 * in either URL is set, as a SCRAM verifier), the database of app_url owned
 * by the owner, CONNECT on it for the app role alone, and its public schema
 * owned by the owner. Each step is one line to say_line. 0, or -1 with the
 * reason in err; a database that exists with another owner is refused.
 */
int	initdb_run(const char *admin_url, const char *owner_url, const char *app_url,
	    void (*say_line)(const char *line, void *ctx), void *ctx, char *err, size_t errlen);

#endif
