/* db: PostgreSQL connections, migrations and the role and schema gates. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>


#include "corad/alloc.h"
#include "corad/clock.h"
#include "corad/db.h"
#include "corad/ids.h"
#include "corad/log.h"
#include "corad/strutil.h"

/* Serialises concurrent `corad migrate` runs on one database. */
#define MIGRATE_LOCK_KEY	"7411001"

#define DB_CONNECT_TIMEOUT_S	5

/* Later keywords override earlier ones: the operator's string wins. Over
 * TCP a server whose host is gone is noticed after DB_KEEPALIVE_*
 * (doc/design.md, "Projections"), not after the system's two hours. */
static const char *const db_keys[] = { "application_name", "connect_timeout",
	"keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"dbname", NULL };
#define DB_VALS(app, conninfo) { app, STR(DB_CONNECT_TIMEOUT_S), STR(DB_KEEPALIVE_IDLE_S), \
	STR(DB_KEEPALIVE_INTERVAL_S), STR(DB_KEEPALIVE_COUNT), STR(DB_TCP_USER_TIMEOUT_MS), \
	conninfo, NULL }
_Static_assert(sizeof((const char *[])DB_VALS("", "")) == sizeof(db_keys),
    "one value for each of db_keys");

static void
db_error(PGconn *c, char *err, size_t errlen)
{
	size_t len;

	snprintf(err, errlen, "%s", c != NULL ? PQerrorMessage(c) : "out of memory");
	len = strlen(err);
	while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
		err[--len] = '\0';
}

/* A message the server sends outside a statement's result: a NOTICE, or
 * the FATAL with which it ends a session. A log line like any other, where
 * libpq would print its text on stderr. */
static void
db_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	enum log_level level = LOG_INFO;

	(void)arg;
	if (sev == NULL)
		sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	if (sev != NULL && (strcmp(sev, "WARNING") == 0 || strcmp(sev, "ERROR") == 0 ||
	    strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		level = LOG_WARNING;
	else if (sev != NULL && strncmp(sev, "DEBUG", 5) == 0)
		level = LOG_DEBUG;
	log_emit(level, "db.notice", LOG_FIELDS(LF_STR("severity", sev),
	    LF_STR("sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE)),
	    LF_STR("message", msg != NULL ? msg : PQresultErrorMessage(res))));
}

void
db_log_notices(PGconn *c)
{
	if (c != NULL)
		PQsetNoticeReceiver(c, db_notice, NULL);
}

PGconn *
db_open(const char *conninfo, const char *application_name, char *err, size_t errlen)
{
	const char *vals[] = DB_VALS(application_name, conninfo);
	PGconn *c = PQconnectdbParams(db_keys, vals, 1);

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		db_error(c, err, errlen);
		PQfinish(c);
		return NULL;
	}
	db_log_notices(c);
	return c;
}

PGconn *
db_open_until(const char *conninfo, const char *application_name, int64_t deadline_ms,
    bool (*interrupted)(void), bool *timed_out, char *err, size_t errlen)
{
	const char *vals[] = DB_VALS(application_name, conninfo);
	int64_t until = mono_ms() + DB_CONNECT_TIMEOUT_S * 1000;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c = PQconnectStartParams(db_keys, vals, 1);

	*timed_out = false;
	if (deadline_ms >= 0 && deadline_ms < until)
		until = deadline_ms;
	if (c == NULL || PQstatus(c) == CONNECTION_BAD)
		goto fail;
	/* libpq's connect_timeout applies to blocking connects only: here the
	 * loop enforces it, and the request's own deadline when sooner. */
	while (st != PGRES_POLLING_OK) {
		struct pollfd pf = { .fd = PQsocket(c),
		    .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT };
		int64_t left = until - mono_ms();
		int rc;

		if (st == PGRES_POLLING_FAILED)
			goto fail;
		if (left <= 0 || (interrupted != NULL && interrupted())) {
			*timed_out = true;
			snprintf(err, errlen, "connecting took too long");
			PQfinish(c);
			return NULL;
		}
		rc = poll(&pf, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			PQfinish(c);
			return NULL;
		}
		if (rc > 0)
			st = PQconnectPoll(c);
	}
	db_log_notices(c);
	return c;
fail:
	db_error(c, err, errlen);
	PQfinish(c);
	return NULL;
}

PGresult *
db_exec_until(PGconn *c, const char *sql, int64_t until_ms, char *err, size_t errlen)
{
	PGresult *res, *last = NULL;

	if (!PQsendQuery(c, sql)) {
		db_error(c, err, errlen);
		return NULL;
	}
	for (;;) {
		while (PQisBusy(c)) {
			struct pollfd pf = { .fd = PQsocket(c), .events = POLLIN };
			int64_t left = until_ms - mono_ms();

			if (left <= 0) {
				snprintf(err, errlen, "the database did not answer in time");
				PQclear(last);
				return NULL;
			}
			if ((poll(&pf, 1, left > INT32_MAX ? INT32_MAX : (int)left) < 0 &&
			    errno != EINTR) || !PQconsumeInput(c)) {
				db_error(c, err, errlen);
				PQclear(last);
				return NULL;
			}
		}
		if ((res = PQgetResult(c)) == NULL)
			break;
		PQclear(last);
		last = res;
	}
	if (last == NULL)
		db_error(c, err, errlen);
	return last;
}

/* A failed result's message, or the session's when it has none (a server
 * that closed the connection). */
static void
result_error(PGconn *c, const PGresult *r, char *err, size_t errlen)
{
	if (r != NULL && *PQresultErrorMessage(r) != '\0')
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	else
		db_error(c, err, errlen);
}

static void
db_array_put(struct db_array *a, const char *p, size_t n)
{
	if (a->len + n + 2 > a->cap) {	/* room for "}" and the NUL */
		a->cap = a->len + n + 2 > 2 * a->cap ? a->len + n + 64 : 2 * a->cap;
		a->s = xrealloc(a->s, a->cap);
	}
	memcpy(a->s + a->len, p, n);
	a->len += n;
}

void
db_array_add(struct db_array *a, const char *v)
{
	db_array_put(a, a->n == 0 ? "{" : ",", 1);
	a->n++;
	if (v == NULL) {
		db_array_put(a, "NULL", 4);
		return;
	}
	db_array_put(a, "\"", 1);
	for (const char *run = v;; v++) {
		if (*v == '"' || *v == '\\' || *v == '\0') {
			db_array_put(a, run, (size_t)(v - run));
			if (*v == '\0')
				break;
			db_array_put(a, "\\", 1);
			run = v;	/* the character itself starts the next run */
		}
	}
	db_array_put(a, "\"", 1);
}

const char *
db_array_text(struct db_array *a)
{
	if (a->n == 0)
		return "{}";	/* the next db_array_add still opens the array */
	memcpy(a->s + a->len, "}", 2);	/* db_array_put left room */
	return a->s;
}

void
db_array_clear(struct db_array *a)
{
	a->len = 0;
	a->n = 0;
}

void
db_array_free(struct db_array *a)
{
	free(a->s);
	*a = (struct db_array){ 0 };
}

bool
db_is_unavailable(PGconn *conn, const PGresult *res)
{
	const char *state;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return true;
	if (res == NULL)
		return true;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state == NULL)	/* client-side failure: the link is gone */
		return PQresultStatus(res) == PGRES_FATAL_ERROR;
	/* 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now */
	return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

bool
db_is_transient(const char *sqlstate)
{
	/* 53: insufficient resources (disk full, out of memory, too many
	 * connections); 25006: a read-only transaction (a standby, a disk
	 * guard); 57014: canceled (the server's statement_timeout); 40001,
	 * 40P01: a serialization failure, a deadlock. */
	return sqlstate != NULL && (strncmp(sqlstate, "53", 2) == 0 ||
	    strcmp(sqlstate, "25006") == 0 || strcmp(sqlstate, "57014") == 0 ||
	    strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0);
}

/*
 * A migration's checksum covers the SQL that PostgreSQL runs: a line that is
 * only a comment (`--` after blanks) is left out, so that a comment can be
 * corrected in a migration already applied (doc/design.md, "The event
 * store"). A line of `--` inside a quoted string is left out too; migrations
 * are the project's own files.
 */
static void
sql_checksum(const char *sql, size_t len, char out[65])
{
	char *kept = xmalloc(len + 1);
	const char *line = sql, *end = sql + len;
	size_t n = 0;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *next = nl != NULL ? nl + 1 : end, *p = line;

		while (p < next && (*p == ' ' || *p == '\t'))
			p++;
		if (next - p < 2 || p[0] != '-' || p[1] != '-') {
			memcpy(kept + n, line, (size_t)(next - line));
			n += (size_t)(next - line);
		}
		line = next;
	}
	ids_sha256_hex(kept, n, out);
	free(kept);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = xmalloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static bool
is_dir(const char *p)
{
	struct stat st;

	return p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Whether this is the binary of the build tree (make check, a developer's
 * run): it reads the source tree's sql/. An installed binary reads only its
 * data directory, even while the tree it was built from still exists. */
static bool
in_build_tree(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return false;
	*slash = '\0';
	return strcmp(exe, CORAD_BUILDDIR) == 0;
}

int
migrations_load(struct migration_set *set, char *err, size_t errlen)
{
	const char *candidates[] = { getenv("CORAD_MIGRATIONS_DIR"),
	    in_build_tree() ? CORAD_SRC_SQLDIR : NULL, CORAD_DATA_SQLDIR };
	const char *dir = NULL;
	DIR *d;
	struct dirent *de;

	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && dir == NULL; i++)
		if (is_dir(candidates[i]))
			dir = candidates[i];
	if (dir == NULL) {
		snprintf(err, errlen, "no migrations directory: set CORAD_MIGRATIONS_DIR "
		    "(looked in %s)", CORAD_DATA_SQLDIR);
		return -1;
	}
	snprintf(set->dir, sizeof(set->dir), "%s", dir);
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		struct migration *m, *ni;
		char path[1024];
		size_t len = 0;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".sql") != 0)
			continue;
		if (!isdigit((unsigned char)de->d_name[0]) || nl >= sizeof(m->name)) {
			snprintf(err, errlen, "%s/%s: migration files are named NNNN_name.sql",
			    dir, de->d_name);
			goto fail;
		}
		ni = set->items = xrealloc(set->items, (set->n + 1) * sizeof(*ni));
		m = &set->items[set->n];
		memset(m, 0, sizeof(*m));
		m->version = atoi(de->d_name);
		snprintf(m->name, sizeof(m->name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((m->sql = read_file(path, &len)) == NULL) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		sql_checksum(m->sql, len, m->checksum);
		ids_sha256_hex(m->sql, len, m->file_checksum);
		set->n++;
	}
	closedir(d);
	qsort(set->items, set->n, sizeof(*set->items), migration_cmp);
	for (size_t i = 1; i < set->n; i++)
		if (set->items[i].version == set->items[i - 1].version) {
			snprintf(err, errlen, "%s and %s share version %d", set->items[i - 1].name,
			    set->items[i].name, set->items[i].version);
			migrations_free(set);
			return -1;
		}
	return 0;
fail:
	closedir(d);
	migrations_free(set);
	return -1;
}

void
migrations_free(struct migration_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->items[i].sql);
	free(set->items);
	set->items = NULL;
	set->n = 0;
}

int
migrations_latest(const struct migration_set *set)
{
	return set->n == 0 ? 0 : set->items[set->n - 1].version;
}

/* Runs a statement that returns no rows; -1 with the server's message. */
static int
exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;

	if (rc != 0)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static const char bookkeeping_sql[] =
    "CREATE TABLE IF NOT EXISTS corad_schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

int
migrations_applied_version(PGconn *conn, int64_t until_ms, char *err, size_t errlen)
{
	PGresult *r = db_exec_until(conn, "SELECT coalesce(max(version), 0) FROM corad_schema_migrations",
	    until_ms, err, errlen);
	int v = -1;

	if (r == NULL)
		return -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = atoi(PQgetvalue(r, 0, 0));
	else {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "42P01") == 0)
			v = 0;	/* undefined_table: nothing applied yet */
		else
			result_error(conn, r, err, errlen);
	}
	PQclear(r);
	return v;
}

/* Whether version is recorded; its checksum goes to `sum`. -1 on error. */
static int
applied_checksum(PGconn *c, int version, char sum[65], char *err, size_t errlen)
{
	char v[16];
	const char *params[] = { v };
	PGresult *r;
	int rc;

	snprintf(v, sizeof(v), "%d", version);
	r = PQexecParams(c, "SELECT checksum FROM corad_schema_migrations WHERE version = $1",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		rc = -1;
	} else if (PQntuples(r) == 0)
		rc = 0;
	else {
		snprintf(sum, 65, "%s", PQgetvalue(r, 0, 0));
		rc = 1;
	}
	PQclear(r);
	return rc;
}

static int
apply_one(PGconn *c, const struct migration *m, char *err, size_t errlen)
{
	char v[16];
	const char *params[] = { v, m->name, m->checksum };
	PGresult *r;
	char why[1024];

	if (exec_ok(c, "BEGIN", why, sizeof(why)) != 0)
		goto fail;
	/* A file may hold many statements: the simple query protocol runs
	 * them all inside our transaction. */
	if (exec_ok(c, m->sql, why, sizeof(why)) != 0)
		goto fail;
	snprintf(v, sizeof(v), "%d", m->version);
	r = PQexecParams(c, "INSERT INTO corad_schema_migrations (version, name, checksum) "
	    "VALUES ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(why, sizeof(why), "%s", PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (exec_ok(c, "COMMIT", why, sizeof(why)) != 0)
		goto fail;
	return 0;
fail:
	exec_ok(c, "ROLLBACK", err, errlen);
	{
		size_t len = strlen(why);

		while (len > 0 && why[len - 1] == '\n')
			why[--len] = '\0';
	}
	snprintf(err, errlen, "%s: %s", m->name, why);
	return -1;
}

int
migrations_apply(PGconn *conn, const struct migration_set *set,
    void (*print)(const char *line, void *ctx), void *ctx, char *err, size_t errlen)
{
	int applied = 0;

	if (exec_ok(conn, "SET client_min_messages = warning", err, errlen) != 0 ||
	    exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) != 0)
		return -1;
	if (exec_ok(conn, bookkeeping_sql, err, errlen) != 0) {
		applied = -1;
		goto out;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct migration *m = &set->items[i];
		char sum[65], line[256];
		int rc = applied_checksum(conn, m->version, sum, err, errlen);

		if (rc < 0) {
			applied = -1;
			break;
		}
		if (rc == 1) {
			/* Builds before comments were left out recorded the whole
			 * file's checksum, which an unchanged file still matches. */
			if (strcmp(sum, m->checksum) != 0 && strcmp(sum, m->file_checksum) != 0) {
				snprintf(err, errlen, "%s was changed after it was applied "
				    "(recorded checksum %.12s, file %.12s): migrations are "
				    "forward-only, add a new one instead", m->name, sum, m->checksum);
				applied = -1;
				break;
			}
			continue;
		}
		if (apply_one(conn, m, err, errlen) != 0) {
			applied = -1;
			break;
		}
		snprintf(line, sizeof(line), "applied %s", m->name);
		print(line, ctx);
		applied++;
	}
out:
	{
		char ignore[64];

		exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignore, sizeof(ignore));
	}
	return applied;
}

static void
role_problem(struct role_report *rep, const char *what)
{
	if (rep->nproblems < (int)(sizeof(rep->problems) / sizeof(rep->problems[0])))
		snprintf(rep->problems[rep->nproblems++], sizeof(rep->problems[0]), "%s", what);
}

int
db_check_role(PGconn *conn, bool appends, int64_t until_ms, struct role_report *rep, char *err,
    size_t errlen)
{
	static const char sql[] =
	    "SELECT current_user, r.rolsuper,"
	    " pg_has_role(current_user, c.relowner, 'USAGE'),"
	    " has_table_privilege(c.oid, 'UPDATE'),"
	    " has_table_privilege(c.oid, 'DELETE'),"
	    " has_table_privilege(c.oid, 'TRUNCATE'),"
	    " has_table_privilege(c.oid, 'INSERT'),"
	    " (SELECT string_agg(e.relname, ', ' ORDER BY e.relname) FROM pg_class e"
	    "   JOIN pg_namespace n ON n.oid = e.relnamespace"
	    "  WHERE e.relkind IN ('r', 'p') AND e.relname LIKE 'entries\\_%'"
	    "    AND n.nspname = current_schema()"
	    "    AND (has_table_privilege(e.oid, 'UPDATE') OR has_table_privilege(e.oid, 'DELETE')"
	    "      OR has_table_privilege(e.oid, 'TRUNCATE'))),"
	    /* What it could become: the owner by SET ROLE (a NOINHERIT
	     * member), or anyone by granting itself (CREATEROLE). */
	    " pg_has_role(current_user, c.relowner, 'MEMBER'), r.rolcreaterole"
	    " FROM pg_roles r, pg_class c"
	    " WHERE r.rolname = current_user AND c.oid = to_regclass('events')";
	PGresult *r;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	if ((r = db_exec_until(conn, sql, until_ms, err, errlen)) == NULL)
		return -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		result_error(conn, r, err, errlen);
		rc = -1;
	} else if (PQntuples(r) == 0) {
		snprintf(err, errlen, "the events table does not exist: run corad migrate");
		rc = -1;
	} else {
		char buf[200];

		snprintf(rep->role, sizeof(rep->role), "%s", PQgetvalue(r, 0, 0));
		if (*PQgetvalue(r, 0, 1) == 't')
			role_problem(rep, "is a superuser");
		if (*PQgetvalue(r, 0, 2) == 't')
			role_problem(rep, "owns the events table");
		else if (*PQgetvalue(r, 0, 8) == 't')
			role_problem(rep, "can SET ROLE to the owner of the events table");
		if (*PQgetvalue(r, 0, 9) == 't')
			role_problem(rep, "has CREATEROLE, so it could grant itself the owner's role");
		if (*PQgetvalue(r, 0, 3) == 't')
			role_problem(rep, "can UPDATE events");
		if (*PQgetvalue(r, 0, 4) == 't')
			role_problem(rep, "can DELETE events");
		if (*PQgetvalue(r, 0, 5) == 't')
			role_problem(rep, "can TRUNCATE events");
		if (appends && *PQgetvalue(r, 0, 6) != 't')
			role_problem(rep, "cannot INSERT into events");
		if (!PQgetisnull(r, 0, 7)) {
			snprintf(buf, sizeof(buf), "can UPDATE, DELETE or TRUNCATE %s",
			    PQgetvalue(r, 0, 7));
			role_problem(rep, buf);
		}
	}
	PQclear(r);
	return rc;
}
