/*
 * store: a worker's one persistent PostgreSQL session, with prepared
 * statements, and the event store operations the handlers use.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corad/activity.h"
#include "corad/alloc.h"
#include "corad/db.h"
#include "corad/deadline.h"
#include "corad/ids.h"
#include "corad/log.h"
#include "corad/request.h"
#include "corad/store.h"

/* Reconnecting: 50 ms doubling to 500 ms, each with jitter (ids.h), so a
 * worker is back within half a second of the database, and a pool of
 * workers tries a few times a second between them, not in step. */
#define RETRY_FIRST_MS	50
#define RETRY_MAX_MS	500

/*
 * The event store's own statements; the contexts register theirs
 * (store_register). Every one is prepared once per connection.
 */
static const struct statement core_statements[] = {
	{ "load_stream",
	  "SELECT version, event_type, payload::text FROM events"
	  " WHERE stream_type = $1 AND stream_id = $2 ORDER BY version" },
	{ "append_event",
	  /* Inserts only when the stream is exactly at the expected version;
	   * a concurrent writer that got there first makes the unique key
	   * (stream_type, stream_id, version) fail instead. */
	  "INSERT INTO events (stream_type, stream_id, version, event_type, schema_version,"
	  " payload, metadata, correlation_id, causation_id, principal_id, occurred_at, event_id)"
	  " SELECT $1, $2, $3::int + 1, $4, 1, $5::jsonb, $6::jsonb, $7, NULL, $8, $9, $10"
	  " WHERE (SELECT coalesce(max(version), 0) FROM events"
	  "        WHERE stream_type = $1 AND stream_id = $2) = $3::int" },
	{ "stream_version",
	  "SELECT coalesce(max(version), 0) FROM events WHERE stream_type = $1 AND stream_id = $2" },
	{ "insert_verdict",
	  "INSERT INTO entries_access_verdicts (event_id, principal_id, command_name, decision,"
	  " reason, correlation_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)" },
	{ "schema_version", "SELECT coalesce(max(version), 0) FROM corad_schema_migrations" },
	{ "idem_insert",
	  "INSERT INTO idempotency_keys (principal_id, key, surface_id, command_name, request_hash,"
	  " status, locked_at) VALUES ($1, $2, $3, $4, $5, 'in_progress', clock_timestamp())"
	  " ON CONFLICT DO NOTHING RETURNING locked_at::text" },
	{ "idem_get",
	  "SELECT request_hash, status, response_status, response_body::text, locked_at::text,"
	  " locked_at < clock_timestamp() - make_interval(secs => $4::double precision)"
	  " FROM idempotency_keys WHERE principal_id = $1 AND key = $2 AND surface_id = $3" },
	{ "idem_takeover",
	  "UPDATE idempotency_keys SET locked_at = clock_timestamp()"
	  " WHERE principal_id = $1 AND key = $2 AND surface_id = $3 AND status = 'in_progress'"
	  "   AND locked_at = $4::timestamptz RETURNING locked_at::text" },
	{ "idem_complete",
	  "UPDATE idempotency_keys SET status = 'completed', response_status = $5::int,"
	  " response_body = $6::jsonb, completed_at = now()"
	  " WHERE principal_id = $1 AND key = $2 AND surface_id = $3 AND status = 'in_progress'"
	  "   AND locked_at = $4::timestamptz" },
	{ "idem_abandon",
	  "DELETE FROM idempotency_keys"
	  " WHERE principal_id = $1 AND key = $2 AND surface_id = $3 AND status = 'in_progress'"
	  "   AND locked_at = $4::timestamptz" },
	/* The claimer's session holds this advisory lock while its claim is
	 * in progress: a claim whose lock is free belongs to a session that
	 * is gone (idempotency.c). */
	{ "idem_lock",
	  "SELECT pg_try_advisory_lock(7411003, hashtext($1 || '/' || $3 || '/' || $2))" },
	{ "idem_unlock",
	  "SELECT pg_advisory_unlock(7411003, hashtext($1 || '/' || $3 || '/' || $2))" },
	{ "begin", "BEGIN" },
	{ "commit", "COMMIT" },
	{ "rollback", "ROLLBACK" },
	{ NULL, NULL },
};

/* The tables the core statements need; the contexts add theirs. */
static const char *const core_tables[] = {
	"events", "entries_access_verdicts", "idempotency_keys", "corad_schema_migrations", NULL,
};

#define STORE_SETS_MAX	16

static const struct statement	*statement_sets[STORE_SETS_MAX] = { core_statements };
static const char *const	*table_sets[STORE_SETS_MAX] = { core_tables };
static size_t			 nsets = 1;

int
store_register(const struct statement *stmts, const char *const *tables, char *err, size_t errlen)
{
	if (nsets == STORE_SETS_MAX) {
		snprintf(err, errlen, "more than %d sets of statements", STORE_SETS_MAX - 1);
		return -1;
	}
	statement_sets[nsets] = stmts;
	table_sets[nsets++] = tables;
	return 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
store_now(char buf[40])
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	log_format_time(&now, buf, 40);
}

void
store_init(struct store *s, const char *conninfo, bool unnamed)
{
	memset(s, 0, sizeof(*s));
	s->conninfo = conninfo;
	s->unnamed = unnamed;
}

void
store_close(struct store *s)
{
	if (s->cancel != NULL) {
		deadline_set_cancel(NULL);	/* the timer must not use it any more */
		PQfreeCancel(s->cancel);
	}
	s->cancel = NULL;
	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
}

static void
store_drop(struct store *s, const char *why)
{
	log_warning("db.disconnected", LF_STR("error", why));
	store_close(s);
	s->failures = 0;
	s->retry_at_ms = 0;	/* the next request tries at once */
}

static void
store_backoff(struct store *s)
{
	s->retry_at_ms = mono_ms() + ids_backoff_ms(s->failures, RETRY_FIRST_MS, RETRY_MAX_MS);
	s->failures++;
}

/*
 * A connect or prepare that failed. One the request deadline cut short
 * says nothing about the database: no backoff, the next request tries
 * again at once (and the worker answers 504). Otherwise the database is
 * unreachable or lacks the schema: 503, and a backoff.
 */
static enum cora_err
store_setup_failed(struct store *s, const char *what, const char *why, bool schema_missing)
{
	s->errors++;
	if (deadline_expired()) {
		log_warning("db.setup_cancelled", LF_STR("step", what),
		    LF_STR("reason", "the request deadline passed"));
		store_close(s);
		return CORA_ERR_TIMEOUT;
	}
	s->schema_missing = schema_missing;
	if (strcmp(what, "connect") == 0) {
		if (s->failures == 0)
			log_warning("db.connect_failed", LF_STR("error", why));
	} else
		log_error("db.prepare_failed", LF_STR("statement", what), LF_STR("error", why));
	store_close(s);
	store_backoff(s);
	return CORA_ERR_UNAVAILABLE;
}

/* Unnamed mode: one round trip that fails like preparing would when a
 * table is missing. */
static enum cora_err
store_check_schema(struct store *s)
{
	char *sql = xstrdup("SELECT 1 FROM ");
	enum cora_err e = CORA_OK;
	PGresult *res;

	for (size_t i = 0; i < nsets; i++)
		for (const char *const *t = table_sets[i]; t != NULL && *t != NULL; t++) {
			char *more = xasprintf("%s%s%s", sql, sql[14] != '\0' ? ", " : "", *t);

			free(sql);
			sql = more;
		}
	res = PQexec(s->conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		e = store_setup_failed(s, "schema check", PQresultErrorMessage(res),
		    !db_is_unavailable(s->conn, res));
	PQclear(res);
	return e;
}

/*
 * Connects and prepares, all inside the request deadline: the connect is
 * asynchronous and gives up when the deadline passes, and the cancel
 * object is handed to the timer before the first statement, so a prepare
 * that waits on a lock is cancelled like any statement.
 */
static enum cora_err
store_connect(struct store *s)
{
	char err[512];
	bool timed_out;

	s->conn = db_open_until(s->conninfo, "corad-worker", deadline_at_ms(), deadline_expired,
	    &timed_out, err, sizeof(err));
	if (s->conn == NULL)
		return store_setup_failed(s, "connect", err, false);
	s->schema_missing = false;
	s->cancel = PQgetCancel(s->conn);
	deadline_set_cancel(s->cancel);
	/* Behind PgBouncer in transaction mode a prepared statement would live
	 * on a server connection other transactions get next: send the SQL
	 * with every call instead (unnamed statements), after checking once
	 * that the schema has what it needs. */
	if (s->unnamed)
		return store_check_schema(s);
	for (size_t i = 0; i < nsets; i++)
		for (const struct statement *st = statement_sets[i]; st->name != NULL; st++) {
			PGresult *res = PQprepare(s->conn, st->name, st->sql, 0, NULL);

			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				/* Unreachable, or a schema without our tables: either
				 * way the deployment is not ready, a 503, not a 500. */
				enum cora_err e = store_setup_failed(s, st->name,
				    PQresultErrorMessage(res), !db_is_unavailable(s->conn, res));

				PQclear(res);
				return e;
			}
			PQclear(res);
		}
	return CORA_OK;
}

enum cora_err
store_ready(struct store *s)
{
	enum cora_err e;

	if (deadline_arm())
		deadline_set_cancel(s->cancel);
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK) {
		struct pollfd pf = { .fd = PQsocket(s->conn), .events = POLLIN };

		/* An idle session has nothing to read unless the server closed it
		 * (a restart): notice that now, not with the request's first
		 * statement, and connect again. */
		if (poll(&pf, 1, 0) == 0 || (PQconsumeInput(s->conn) == 1 &&
		    PQstatus(s->conn) == CONNECTION_OK))
			return CORA_OK;
		log_warning("db.disconnected", LF_STR("error", PQerrorMessage(s->conn)));
		s->failures = 0;
		s->retry_at_ms = 0;
	}
	if (s->conn != NULL)
		store_close(s);
	if (mono_ms() < s->retry_at_ms) {
		s->errors++;
		return CORA_ERR_UNAVAILABLE;
	}
	activity("connecting to the database", NULL);
	e = store_connect(s);
	activity(NULL, NULL);
	if (e != CORA_OK)
		return e;
	if (s->failures > 0)
		log_info("db.reconnected", LF_INT("attempts", s->failures + 1));
	s->failures = 0;
	return CORA_OK;
}

static const char *
statement_sql(const char *name)
{
	for (size_t i = 0; i < nsets; i++)
		for (const struct statement *st = statement_sets[i]; st->name != NULL; st++)
			if (strcmp(st->name, name) == 0)
				return st->sql;
	return NULL;
}

PGresult *
store_exec(struct store *s, const char *stmt, int n, const char *const *params,
    ExecStatusType want, enum cora_err *e, const char **sqlstate)
{
	PGresult *res;

	activity("database", stmt);
	res = s->unnamed ?
	    PQexecParams(s->conn, statement_sql(stmt), n, NULL, params, NULL, NULL, 0) :
	    PQexecPrepared(s->conn, stmt, n, params, NULL, NULL, 0);
	activity(NULL, NULL);
	if (sqlstate != NULL)
		*sqlstate = NULL;
	if (PQresultStatus(res) == want)
		return res;
	s->errors++;
	if (db_is_unavailable(s->conn, res)) {
		store_drop(s, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(s->conn));
		*e = CORA_ERR_UNAVAILABLE;
	} else {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (sqlstate != NULL && st != NULL) {
			/* The caller classifies it; the pointer outlives res. */
			static char keep[6];

			snprintf(keep, sizeof(keep), "%s", st);
			*sqlstate = keep;
		}
		log_error("db.statement_failed", LF_STR("statement", stmt),
		    LF_STR("sqlstate", st), LF_STR("error", PQresultErrorMessage(res)));
		*e = CORA_ERR_INTERNAL;
	}
	PQclear(res);
	return NULL;
}

static enum cora_err
store_simple(struct store *s, const char *stmt)
{
	enum cora_err e = CORA_OK;
	PGresult *res = store_exec(s, stmt, 0, NULL, PGRES_COMMAND_OK, &e, NULL);

	PQclear(res);
	return e;
}

/*
 * In transaction pool mode a session setting would leak to whoever gets
 * the server connection next: the deadline applies per transaction
 * (SET LOCAL), with what is left of the request's time.
 */
enum cora_err
store_begin(struct store *s)
{
	enum cora_err e = store_simple(s, "begin");
	char sql[64];
	PGresult *res;
	double left;

	if (e != CORA_OK || !s->unnamed || deadline_at_ms() < 0)
		return e;
	left = deadline_left();
	snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %ld",
	    left * 1000 < 1 ? 1L : (long)(left * 1000));
	res = PQexec(s->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		s->errors++;
		e = db_is_unavailable(s->conn, res) ? CORA_ERR_UNAVAILABLE : CORA_ERR_INTERNAL;
	}
	PQclear(res);
	return e;
}

enum cora_err
store_commit(struct store *s)
{
	return store_simple(s, "commit");
}

void
store_rollback(struct store *s)
{
	if (s->conn != NULL && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		(void)store_simple(s, "rollback");
}

static int
stream_version(struct store *s, const char *type, const char *id, enum cora_err *e)
{
	const char *p[] = { type, id };
	PGresult *res = store_exec(s, "stream_version", 2, p, PGRES_TUPLES_OK, e, NULL);
	int v;

	if (res == NULL)
		return -1;
	v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

enum cora_err
store_append(struct store *s, struct request *r, const struct new_event *ev, int expected)
{
	char exp[16], eid[UUID_STR_LEN], meta[160];
	uint8_t id[16];
	const char *state = NULL;
	enum cora_err e = CORA_OK;
	PGresult *res;
	const char *p[10];
	int found;

	snprintf(exp, sizeof(exp), "%d", expected);
	uuid_make_v7(id);
	uuid_format(id, eid);
	snprintf(meta, sizeof(meta), "{\"command\":\"%s\"}", ev->command);
	p[0] = ev->stream_type;
	p[1] = ev->stream_id;
	p[2] = exp;
	p[3] = ev->event_type;
	p[4] = json_object_to_json_string_ext(ev->payload, JSON_C_TO_STRING_PLAIN);
	p[5] = meta;
	p[6] = r->correlation_id;
	p[7] = r->principal_id;
	p[8] = ev->occurred_at;
	p[9] = eid;
	res = store_exec(s, "append_event", 10, p, PGRES_COMMAND_OK, &e, &state);
	if (res != NULL) {
		bool inserted = strcmp(PQcmdTuples(res), "1") == 0;

		PQclear(res);
		if (inserted)
			return CORA_OK;
	} else if (state == NULL || strcmp(state, "23505") != 0)
		return e;	/* unavailable or a real failure */
	/* 0 rows or a unique violation: someone else moved the stream. Read
	 * where it is now, outside the aborted transaction. */
	store_rollback(s);
	if ((found = stream_version(s, ev->stream_type, ev->stream_id, &e)) < 0)
		return e;
	return request_fail(r, CORA_ERR_CONFLICT,
	    "Optimistic concurrency conflict on stream %s/%s: expected version %d, found %d",
	    ev->stream_type, ev->stream_id, expected, found);
}

enum cora_err
store_append_streams(struct store *s, struct request *r, const struct new_event *evs,
    const int *expected, size_t n)
{
	enum cora_err e = CORA_OK;

	/* A conflict has already rolled the whole transaction back. */
	for (size_t i = 0; i < n && e == CORA_OK; i++)
		e = store_append(s, r, &evs[i], expected[i]);
	return e;
}

enum cora_err
store_verdict(struct store *s, struct request *r, const char *name, bool allowed,
    const char *reason)
{
	char eid[UUID_STR_LEN], now[40];
	uint8_t id[16];
	const char *p[7];
	enum cora_err e = CORA_OK;
	PGresult *res;

	uuid_make_v7(id);
	uuid_format(id, eid);
	store_now(now);
	p[0] = eid;
	p[1] = r->principal_id;
	p[2] = name;
	p[3] = allowed ? "allow" : "deny";
	p[4] = reason;
	p[5] = r->correlation_id;
	p[6] = now;
	if ((res = store_exec(s, "insert_verdict", 7, p, PGRES_COMMAND_OK, &e, NULL)) == NULL)
		return e;
	PQclear(res);
	return CORA_OK;
}

int
store_schema_version(struct store *s, enum cora_err *e)
{
	PGresult *res = store_exec(s, "schema_version", 0, NULL, PGRES_TUPLES_OK, e, NULL);
	int v;

	if (res == NULL)
		return -1;
	v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}
