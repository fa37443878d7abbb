/*
 * initdb: corad init-db, the database set-up an operator would otherwise
 * type by hand (doc/design.md, "Deployment"): from an administrator's
 * connection, the owner role, the app role, the database and its
 * privileges, each only when missing, saying what it did.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corad/alloc.h"
#include "corad/db.h"
#include "corad/initdb.h"

struct init {
	PGconn		*c;
	void		(*say)(const char *line, void *ctx);
	void		*ctx;
	char		*err;
	size_t		 errlen;
};

static void	say(struct init *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct init *in, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	in->say(line, in->ctx);
}

/* One statement; false with the server's message in err. */
static bool
run(struct init *in, const char *sql)
{
	PGresult *r = PQexec(in->c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(in->err, in->errlen, "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* Whether the catalog query (one text parameter) returns a row. */
static int
exists(struct init *in, const char *sql, const char *name)
{
	const char *p[] = { name };
	PGresult *r = PQexecParams(in->c, sql, 1, NULL, p, NULL, NULL, 0);
	int found = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		found = PQntuples(r) > 0;
	else
		snprintf(in->err, in->errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return found;
}

/* The part `key` of a connection string or URL (a new string), or NULL. */
static char *
conninfo_part(const char *conninfo, const char *key, char *err, size_t errlen)
{
	char *msg = NULL, *v = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);

	if (opts == NULL) {
		snprintf(err, errlen, "%s", msg != NULL ? msg : "cannot parse the connection string");
		PQfreemem(msg);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, key) == 0 && o->val != NULL && o->val[0] != '\0')
			v = xstrdup(o->val);
	PQconninfoFree(opts);
	return v;
}

/* CREATE ROLE when missing, and its password when one is given. */
static bool
ensure_role(struct init *in, const char *role, const char *attrs, const char *password,
    const char *from)
{
	char *id = PQescapeIdentifier(in->c, role, strlen(role)), *sql;
	int found = exists(in, "SELECT 1 FROM pg_roles WHERE rolname = $1", role);
	bool ok = found >= 0;

	if (ok && found == 0) {
		sql = xasprintf("CREATE ROLE %s %s", id, attrs);
		if ((ok = run(in, sql)))
			say(in, "created role %s (%s)", role, attrs);
		free(sql);
	} else if (ok)
		say(in, "role %s exists", role);
	if (ok && password != NULL) {
		/* The server gets the SCRAM verifier, never the password. */
		char *hash = PQencryptPasswordConn(in->c, password, role, NULL), *lit;

		if (hash == NULL) {
			snprintf(in->err, in->errlen, "cannot hash the password of %s: %s", role,
			    PQerrorMessage(in->c));
			ok = false;
		} else {
			lit = PQescapeLiteral(in->c, hash, strlen(hash));
			sql = xasprintf("ALTER ROLE %s PASSWORD %s", id, lit);
			if ((ok = run(in, sql)))
				say(in, "set the password of %s (from %s)", role, from);
			free(sql);
			PQfreemem(lit);
			PQfreemem(hash);
		}
	}
	PQfreemem(id);
	return ok;
}

int
initdb_run(const char *admin_url, const char *owner_url, const char *app_url,
    void (*say_line)(const char *line, void *ctx), void *ctx, char *err, size_t errlen)
{
	struct init in = { .say = say_line, .ctx = ctx, .err = err, .errlen = errlen };
	char *owner = NULL, *app = NULL, *dbname = NULL, *app_pw = NULL, *owner_pw = NULL;
	char *db_id = NULL, *owner_id = NULL, *app_id = NULL, *sql;
	int rc = -1, found;

	err[0] = '\0';
	if ((owner = conninfo_part(owner_url, "user", err, errlen)) == NULL ||
	    (app = conninfo_part(app_url, "user", err, errlen)) == NULL ||
	    (dbname = conninfo_part(app_url, "dbname", err, errlen)) == NULL) {
		if (err[0] == '\0')
			snprintf(err, errlen, "DATABASE_URL and DATABASE_OWNER_URL must name their "
			    "role (user) and DATABASE_URL its database (dbname)");
		goto out;
	}
	if (strcmp(owner, app) == 0) {
		snprintf(err, errlen, "DATABASE_OWNER_URL and DATABASE_URL name the same role, %s: "
		    "the workers must not own the tables", app);
		goto out;
	}
	{
		char *owner_db = conninfo_part(owner_url, "dbname", err, errlen);
		bool same = owner_db != NULL && strcmp(owner_db, dbname) == 0;

		free(owner_db);
		if (!same) {
			snprintf(err, errlen, "DATABASE_OWNER_URL and DATABASE_URL must name the same "
			    "database (%s)", dbname);
			goto out;
		}
	}
	app_pw = conninfo_part(app_url, "password", err, errlen);
	owner_pw = conninfo_part(owner_url, "password", err, errlen);
	if ((in.c = db_open(admin_url, "corad-init-db", err, errlen)) == NULL)
		goto out;
	db_id = PQescapeIdentifier(in.c, dbname, strlen(dbname));
	owner_id = PQescapeIdentifier(in.c, owner, strlen(owner));
	app_id = PQescapeIdentifier(in.c, app, strlen(app));
	/* The owner runs corad migrate: it creates tables and grants on them,
	 * nothing more (the app role exists before the migrations need it). */
	if (!ensure_role(&in, owner, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
	    owner_pw, "DATABASE_OWNER_URL") ||
	    !ensure_role(&in, app, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
	    app_pw, "DATABASE_URL"))
		goto out;
	if ((found = exists(&in, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
	    dbname)) < 0)
		goto out;
	if (found == 0) {
		sql = xasprintf("CREATE DATABASE %s OWNER %s ENCODING 'UTF8' TEMPLATE template0",
		    db_id, owner_id);
		if (!run(&in, sql)) {
			free(sql);
			goto out;
		}
		free(sql);
		say(&in, "created database %s owned by %s", dbname, owner);
	} else {
		const char *p[] = { dbname };
		PGresult *r = PQexecParams(in.c, "SELECT pg_get_userbyid(datdba) FROM pg_database"
		    " WHERE datname = $1", 1, NULL, p, NULL, NULL, 0);
		bool mine = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), owner) == 0;

		if (!mine)
			snprintf(err, errlen, "database %s exists and is owned by %s, not %s", dbname,
			    PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ?
			    PQgetvalue(r, 0, 0) : "?", owner);
		PQclear(r);
		if (!mine)
			goto out;
		say(&in, "database %s exists, owned by %s", dbname, owner);
	}
	/* Nobody else may connect; the app role may. */
	sql = xasprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC", db_id);
	if (!run(&in, sql)) {
		free(sql);
		goto out;
	}
	free(sql);
	sql = xasprintf("GRANT CONNECT ON DATABASE %s TO %s", db_id, app_id);
	if (!run(&in, sql)) {
		free(sql);
		goto out;
	}
	free(sql);
	say(&in, "database %s: CONNECT for %s only", dbname, app);
	/* In the new database: the owner owns the schema the migrations fill. */
	PQfinish(in.c);
	{
		static const char *const keys[] = { "application_name", "dbname", "dbname", NULL };
		const char *vals[] = { "corad-init-db", admin_url, dbname, NULL };

		in.c = PQconnectdbParams(keys, vals, 1);
		db_log_notices(in.c);
		if (PQstatus(in.c) != CONNECTION_OK) {
			snprintf(err, errlen, "cannot connect to %s as the administrator: %s", dbname,
			    PQerrorMessage(in.c));
			goto out;
		}
	}
	sql = xasprintf("ALTER SCHEMA public OWNER TO %s", owner_id);
	if (!run(&in, sql) || !run(&in, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")) {
		free(sql);
		goto out;
	}
	free(sql);
	say(&in, "schema public of %s: owned by %s, nobody else may create in it", dbname, owner);
	rc = 0;
out:
	PQfinish(in.c);
	PQfreemem(db_id);
	PQfreemem(owner_id);
	PQfreemem(app_id);
	free(owner);
	free(app);
	free(dbname);
	free(app_pw);
	free(owner_pw);
	return rc;
}
