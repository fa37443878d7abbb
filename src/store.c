/*
 * store: a worker's one persistent PostgreSQL session, with prepared
 * statements, and the event store operations the handlers use.
 */
#include "config.h"

#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corad/activity.h"
#include "corad/alloc.h"
#include "corad/clock.h"
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
	  /* At expected + 1: the unique key (stream_type, stream_id, version)
	   * refuses it when another writer got there first. */
	  "INSERT INTO events (stream_type, stream_id, version, event_type, schema_version,"
	  " payload, metadata, correlation_id, causation_id, principal_id, occurred_at, event_id)"
	  " VALUES ($1, $2, $3::int + 1, $4, 1, $5::jsonb, $6::jsonb, $7, NULL, $8, $9, $10)" },
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
#define STATEMENT_TIMEOUT_MARGIN_MS	1000	/* store_tx_begin */

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

void
store_now(char buf[40])
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	log_format_time(&now, buf, 40);
}

void
store_init(struct store *s, const char *conninfo, bool unnamed, int wake_fd)
{
	memset(s, 0, sizeof(*s));
	s->conninfo = conninfo;
	s->unnamed = unnamed;
	s->wake_fd = wake_fd;
}

void
store_close(struct store *s)
{
	if (s->cancel != NULL) {
		deadline_set_cancel(NULL, -1);	/* the timer must not use it any more */
		PQfreeCancel(s->cancel);
	}
	s->cancel = NULL;
	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
}

void
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
		    LF_STR("reason", s->warming ? "the worker's warm-up took too long" :
		    "the request deadline passed"));
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
 * table is missing. It names every table and reads no row. */
static enum cora_err
store_check_schema(struct store *s)
{
	char *sql = xstrdup("SELECT 1 FROM "), *more;
	enum cora_err e = CORA_OK;
	PGresult *res;

	for (size_t i = 0; i < nsets; i++)
		for (const char *const *t = table_sets[i]; t != NULL && *t != NULL; t++) {
			more = xasprintf("%s%s%s", sql, sql[14] != '\0' ? ", " : "", *t);
			free(sql);
			sql = more;
		}
	more = xasprintf("%s WHERE false", sql);
	free(sql);
	res = PQexec(s->conn, more);
	free(more);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		e = store_setup_failed(s, "schema check", PQresultErrorMessage(res),
		    !db_is_unavailable(s->conn, res));
	PQclear(res);
	return e;
}

/*
 * Our writes do not NOTIFY (sql/0005_quiet_writes.sql): we wake the
 * projector ourselves after the commit. For the whole session when it is
 * ours; behind PgBouncer, per transaction (store_tx_begin).
 */
static enum cora_err
store_quiet_session(struct store *s)
{
	PGresult *res = PQexec(s->conn, "SET corad.notify = off");
	enum cora_err e = CORA_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		e = store_setup_failed(s, "SET corad.notify", PQresultErrorMessage(res),
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
	struct prepare_failure f;

	s->conn = db_open_until(s->conninfo, "corad-worker", deadline_at_ms(), deadline_expired,
	    &timed_out, err, sizeof(err));
	if (s->conn == NULL)
		return store_setup_failed(s, "connect", err, false);
	s->schema_missing = false;
	s->cancel = PQgetCancel(s->conn);
	deadline_set_cancel(s->cancel, PQsocket(s->conn));
	/* Behind PgBouncer in transaction mode a prepared statement would live
	 * on a server connection other transactions get next: send the SQL
	 * with every call instead (unnamed statements), after checking once
	 * that the schema has what it needs. */
	if (s->unnamed)
		return store_check_schema(s);
	if (!statements_prepare(s->conn, statement_sets, nsets, &f)) {
		/* Unreachable, or a schema without our tables: either way the
		 * deployment is not ready, a 503, not a 500. */
		enum cora_err e = store_setup_failed(s, f.name,
		    f.res != NULL ? PQresultErrorMessage(f.res) : PQerrorMessage(s->conn),
		    !db_is_unavailable(s->conn, f.res));

		PQclear(f.res);
		return e;
	}
	return store_quiet_session(s);
}

bool
statements_prepare(PGconn *conn, const struct statement *const *sets, size_t count,
    struct prepare_failure *f)
{
	*f = (struct prepare_failure){ .set = count, .name = "pipeline" };
	if (PQenterPipelineMode(conn) != 1)
		return false;
	for (size_t i = 0; i < count; i++)
		for (const struct statement *st = sets[i]; st->name != NULL; st++)
			if (PQsendPrepare(conn, st->name, st->sql, 0, NULL) != 1) {
				*f = (struct prepare_failure){ .set = i, .name = st->name };
				return false;
			}
	f->name = "Sync";
	if (PQpipelineSync(conn) != 1)
		return false;
	/* Each prepare's result, then the NULL that ends it; the first
	 * failure aborts the rest of the pipeline on the server. */
	for (size_t i = 0; i < count; i++)
		for (const struct statement *st = sets[i]; st->name != NULL; st++) {
			*f = (struct prepare_failure){ .set = i, .name = st->name,
			    .res = PQgetResult(conn) };
			if (f->res == NULL || PQresultStatus(f->res) != PGRES_COMMAND_OK)
				return false;
			PQclear(f->res);
			if ((f->res = PQgetResult(conn)) != NULL)
				return false;
		}
	*f = (struct prepare_failure){ .set = count, .name = "Sync", .res = PQgetResult(conn) };
	if (f->res == NULL || PQresultStatus(f->res) != PGRES_PIPELINE_SYNC)
		return false;
	PQclear(f->res);
	f->res = NULL;
	return PQexitPipelineMode(conn) == 1;
}

/*
 * Whether an idle session is still open: nothing waits on its socket, or
 * what does (a NOTICE) is read. The server ends a session (a restart,
 * pg_terminate_backend) with a FATAL and then the end of the stream, which
 * reading the FATAL alone does not reveal. Parsing what came logs it
 * (db.notice).
 */
static bool
session_alive(PGconn *conn)
{
	struct pollfd pf = { .fd = PQsocket(conn), .events = POLLIN | POLLRDHUP };

	if (poll(&pf, 1, 0) == 0)
		return true;
	if (PQconsumeInput(conn) == 0)
		return false;
	(void)PQisBusy(conn);
	return PQstatus(conn) == CONNECTION_OK && !(pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

enum cora_err
store_ready(struct store *s)
{
	enum cora_err e;

	if (deadline_arm())
		deadline_set_cancel(s->cancel, PQsocket(s->conn));
	/* A session the server ended is noticed now, not with the request's
	 * first statement, and replaced. */
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK) {
		if (session_alive(s->conn))
			return CORA_OK;
		log_warning("db.disconnected", LF_STR("error", *PQerrorMessage(s->conn) != '\0' ?
		    PQerrorMessage(s->conn) : "the server ended the session"));
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

json_object *
statements_json(const struct statement *const *sets, size_t count)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < count; i++)
		for (const struct statement *st = sets[i]; st->name != NULL; st++)
			json_object_object_add(o, st->name, json_object_new_string(st->sql));
	return o;
}

json_object *
store_statements(void)
{
	return statements_json(statement_sets, nsets);
}

void
store_warm_up(struct store *s, double seconds)
{
	s->warming = true;
	deadline_start(seconds);
	if (store_ready(s) != CORA_OK)
		s->retry_at_ms = 0;
	deadline_finish();
	s->warming = false;
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

/*
 * A statement that did not give `want`: drops the session when the server
 * went away (CORA_ERR_UNAVAILABLE), else logs the server's message and
 * hands its SQLSTATE to the caller, who classifies it (the pointer outlives
 * res): CORA_ERR_UNAVAILABLE for a state worth trying again later
 * (db_is_transient), CORA_ERR_INTERNAL for the others.
 */
static enum cora_err
store_failed(struct store *s, const char *stmt, const PGresult *res, const char **sqlstate)
{
	const char *st;
	bool transient;

	s->errors++;
	if (db_is_unavailable(s->conn, res)) {
		store_drop(s, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(s->conn));
		return CORA_ERR_UNAVAILABLE;
	}
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (sqlstate != NULL && st != NULL) {
		static char keep[6];

		snprintf(keep, sizeof(keep), "%s", st);
		*sqlstate = keep;
	}
	transient = db_is_transient(st);
	log_emit(transient ? LOG_WARNING : LOG_ERROR, "db.statement_failed",
	    LOG_FIELDS(LF_STR("statement", stmt), LF_STR("sqlstate", st),
	    LF_STR("error", PQresultErrorMessage(res))));
	return transient ? CORA_ERR_UNAVAILABLE : CORA_ERR_INTERNAL;
}

static PGresult *
exec_statement(struct store *s, const char *stmt, bool unnamed, int n,
    const char *const *params, ExecStatusType want, enum cora_err *e, const char **sqlstate)
{
	PGresult *res;

	if (sqlstate != NULL)
		*sqlstate = NULL;
	/* A session this request already lost (and logged): no statement. */
	if (s->conn == NULL) {
		*e = CORA_ERR_UNAVAILABLE;
		return NULL;
	}
	activity("database", stmt);
	res = unnamed || s->unnamed ?
	    PQexecParams(s->conn, statement_sql(stmt), n, NULL, params, NULL, NULL, 0) :
	    PQexecPrepared(s->conn, stmt, n, params, NULL, NULL, 0);
	activity(NULL, NULL);
	if (PQresultStatus(res) == want)
		return res;
	*e = store_failed(s, stmt, res, sqlstate);
	PQclear(res);
	return NULL;
}

PGresult *
store_exec(struct store *s, const char *stmt, int n, const char *const *params,
    ExecStatusType want, enum cora_err *e, const char **sqlstate)
{
	return exec_statement(s, stmt, false, n, params, want, e, sqlstate);
}

PGresult *
store_exec_planned(struct store *s, const char *stmt, int n, const char *const *params,
    ExecStatusType want, enum cora_err *e, const char **sqlstate)
{
	return exec_statement(s, stmt, true, n, params, want, e, sqlstate);
}

static enum cora_err
store_simple(struct store *s, const char *stmt)
{
	enum cora_err e = CORA_OK;
	PGresult *res = store_exec(s, stmt, 0, NULL, PGRES_COMMAND_OK, &e, NULL);

	PQclear(res);
	return e;
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

/* --- write transactions: one pipeline ----------------------------------------- */

/* Queues one statement (`sql` when given, else the named one). */
static struct store_tx_item *
tx_send(struct store *s, const char *stmt, const char *sql, int n, const char *const *params,
    ExecStatusType want)
{
	struct store_tx_item *it;
	int sent;

	if (s->tx_broken)
		return NULL;
	if (s->ntx == STORE_TX_MAX) {
		log_error("db.statement_failed", LF_STR("statement", stmt),
		    LF_STR("error", "more statements than one transaction holds"));
		s->tx_broken = true;
		return NULL;
	}
	if (sql == NULL && s->unnamed)
		sql = statement_sql(stmt);
	sent = sql != NULL ? PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0) :
	    PQsendQueryPrepared(s->conn, stmt, n, params, NULL, NULL, 0);
	if (!sent) {
		s->tx_broken = true;
		return NULL;
	}
	it = &s->tx[s->ntx++];
	*it = (struct store_tx_item){ .stmt = stmt, .want = want };
	return it;
}

/*
 * Without BEGIN, what the pipeline sends up to its Sync runs as one
 * transaction, which the Sync commits, or rolls back after a failure
 * (doc/design.md, "Writes"): two statements fewer for the server. Only a
 * request with an Idempotency-Key opens a transaction block, because its
 * fence (idem_complete) is read before COMMIT is sent.
 *
 * Behind PgBouncer in transaction mode a session setting would leak to
 * whoever gets the server connection next: the deadline (what is left of
 * the request's time) and corad.notify apply to this transaction only.
 */
void
store_tx_begin(struct store *s, const struct request *r)
{
	char ms[24];
	const char *p[] = { ms };
	double left;

	s->ntx = 0;
	s->tx_unknown = false;
	s->tx_broken = PQenterPipelineMode(s->conn) == 0;
	s->tx_block = r->idem.active;
	if (s->tx_block)
		tx_send(s, "begin", NULL, 0, NULL, PGRES_COMMAND_OK);
	if (!s->unnamed)
		return;
	if (deadline_at_ms() < 0) {
		tx_send(s, "transaction settings", "SELECT set_config('corad.notify', 'off', true)",
		    0, NULL, PGRES_TUPLES_OK);
		return;
	}
	/* A backstop behind the request's own timer, which cancels at the
	 * deadline and makes the answer a 504: a statement_timeout of exactly
	 * what is left could end the statement first, and the worker, its
	 * deadline not yet passed, would answer 503 (db_is_transient). */
	left = deadline_left() * 1000 + STATEMENT_TIMEOUT_MARGIN_MS;
	snprintf(ms, sizeof(ms), "%ld", left < 1 ? 1L : (long)left);
	tx_send(s, "transaction settings", "SELECT set_config('statement_timeout', $1, true),"
	    " set_config('corad.notify', 'off', true)", 1, p, PGRES_TUPLES_OK);
}

void
store_tx_exec(struct store *s, const char *stmt, int n, const char *const *params)
{
	tx_send(s, stmt, NULL, n, params, PGRES_COMMAND_OK);
}

void
store_tx_append(struct store *s, struct request *r, const struct new_event *ev, int expected)
{
	char exp[16], eid[UUID_STR_LEN], meta[160];
	uint8_t id[16];
	const char *p[10];
	struct store_tx_item *it;

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
	if ((it = tx_send(s, "append_event", NULL, 10, p, PGRES_COMMAND_OK)) != NULL) {
		it->ev = ev;
		it->expected = expected;
	}
}

/* The verdict row's parameters; eid and now are the caller's buffers. */
static void
verdict_params(struct request *r, const char *name, bool allowed, const char *reason,
    char eid[UUID_STR_LEN], char now[40], const char *p[7])
{
	uint8_t id[16];

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
}

void
store_tx_verdict(struct store *s, struct request *r)
{
	char eid[UUID_STR_LEN], now[40];
	const char *p[7];

	verdict_params(r, r->op->name, true, r->verdict, eid, now, p);
	tx_send(s, "insert_verdict", NULL, 7, p, PGRES_COMMAND_OK);
}

void
store_tx_fence(struct store *s, const char *stmt, int n, const char *const *params,
    enum cora_err (*check)(struct request *r, int rows))
{
	struct store_tx_item *it;

	if (!s->tx_block) {	/* the Sync would commit before the check */
		log_error("db.statement_failed", LF_STR("statement", stmt),
		    LF_STR("error", "a fence outside a transaction block"));
		s->tx_broken = true;
		return;
	}
	if ((it = tx_send(s, stmt, NULL, n, params, PGRES_COMMAND_OK)) != NULL)
		it->check = check;
}

/*
 * What the worker waits for while a pipeline runs: its statements, in
 * order ("profile_insert, append_event, insert_verdict").
 * The server sends the results together, once the last one is done, so
 * which of them holds it up is not known here.
 */
static const char *
tx_doing(const struct store *s, size_t from, size_t to, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = from; i < to; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i > from ? ", " : "", s->tx[i].stmt);

		if (n < 0 || (size_t)n >= len - used) {
			snprintf(buf + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len, "...");
			break;
		}
		used += (size_t)n;
	}
	return buf;
}

/*
 * Reads the results of tx[from..to) and the Sync that ends them. The first
 * failure is classified (the server skipped everything after it: those
 * come back as aborted); *failed is the statement that failed, or NULL.
 */
static enum cora_err
tx_collect(struct store *s, size_t from, size_t to, struct store_tx_item **failed,
    const char **sqlstate)
{
	enum cora_err e = CORA_OK;
	char doing[256];
	PGresult *res;

	*failed = NULL;
	*sqlstate = NULL;
	activity("database", tx_doing(s, from, to, doing, sizeof(doing)));
	for (size_t i = from; i < to; i++) {
		struct store_tx_item *it = &s->tx[i];
		ExecStatusType st;
		bool got;

		res = PQgetResult(s->conn);
		got = res != NULL;
		st = PQresultStatus(res);
		if (st == it->want)
			it->rows = atoi(PQcmdTuples(res));
		else if (st != PGRES_PIPELINE_ABORTED && e == CORA_OK) {
			e = store_failed(s, it->stmt, res, sqlstate);
			*failed = it;
		}
		PQclear(res);
		if (s->conn == NULL)
			break;	/* dropped: the server is gone */
		if (got && (res = PQgetResult(s->conn)) != NULL) {
			PQclear(res);	/* one statement, one result: out of step */
			if (e == CORA_OK)
				e = store_failed(s, it->stmt, NULL, NULL);
			break;
		}
	}
	if (s->conn != NULL && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF) {
		res = PQgetResult(s->conn);
		if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && e == CORA_OK)
			e = store_failed(s, "sync", res, NULL);
		PQclear(res);
	}
	activity(NULL, NULL);
	return e;
}

/* Sends what is queued with a Sync and reads it: tx[from..ntx). */
static enum cora_err
tx_round_trip(struct store *s, size_t from, struct store_tx_item **failed, const char **sqlstate)
{
	*failed = NULL;
	*sqlstate = NULL;
	if (s->tx_broken || PQpipelineSync(s->conn) == 0) {
		s->errors++;
		store_drop(s, PQerrorMessage(s->conn));
		return CORA_ERR_UNAVAILABLE;
	}
	return tx_collect(s, from, s->ntx, failed, sqlstate);
}

/* The transaction failed: roll it back; a unique violation on an append
 * is the spec's conflict, naming the version the stream is at now. */
static enum cora_err
tx_fail(struct store *s, struct request *r, enum cora_err e, const struct store_tx_item *failed,
    const char *sqlstate)
{
	int found;

	if (s->conn != NULL && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF &&
	    PQexitPipelineMode(s->conn) == 0) {
		store_drop(s, PQerrorMessage(s->conn));
		return CORA_ERR_UNAVAILABLE;
	}
	store_rollback(s);
	if (failed == NULL || failed->ev == NULL || sqlstate == NULL ||
	    strcmp(sqlstate, "23505") != 0)
		return e;
	if ((found = stream_version(s, failed->ev->stream_type, failed->ev->stream_id, &e)) < 0)
		return e;
	return request_fail(r, CORA_ERR_CONFLICT,
	    "Optimistic concurrency conflict on stream %s/%s: expected version %d, found %d",
	    failed->ev->stream_type, failed->ev->stream_id, failed->expected, found);
}

enum cora_err
store_tx_commit(struct store *s, struct request *r)
{
	struct store_tx_item *failed;
	const char *sqlstate;
	size_t fenced = 0, done = 0;
	bool appended = false;
	enum cora_err e;

	for (size_t i = 0; i < s->ntx; i++) {
		appended |= s->tx[i].ev != NULL;
		if (s->tx[i].check != NULL)
			fenced = i + 1;
	}
	if (fenced > 0) {
		/* The fence's row count decides whether COMMIT is sent. */
		if ((e = tx_round_trip(s, 0, &failed, &sqlstate)) != CORA_OK)
			return tx_fail(s, r, e, failed, sqlstate);
		for (size_t i = 0; i < s->ntx; i++)
			if (s->tx[i].check != NULL && (e = s->tx[i].check(r, s->tx[i].rows)) != CORA_OK)
				return tx_fail(s, r, e, NULL, NULL);
		done = s->ntx;
	}
	if (s->tx_block)
		tx_send(s, "commit", NULL, 0, NULL, PGRES_COMMAND_OK);
	if ((e = tx_round_trip(s, done, &failed, &sqlstate)) != CORA_OK) {
		/* Sent with what commits it, and no answer: it may have. */
		s->tx_unknown = !s->tx_broken && s->conn == NULL;
		return tx_fail(s, r, e, failed, sqlstate);
	}
	if (PQexitPipelineMode(s->conn) == 0) {
		store_drop(s, PQerrorMessage(s->conn));
		return CORA_ERR_UNAVAILABLE;
	}
	/* A lost wake-up costs latency, never data: the projector also polls. */
	if (appended && s->wake_fd >= 0)
		(void)send(s->wake_fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	return CORA_OK;
}

enum cora_err
store_verdict(struct store *s, struct request *r, const char *name, bool allowed,
    const char *reason)
{
	char eid[UUID_STR_LEN], now[40];
	const char *p[7];
	enum cora_err e = CORA_OK;
	PGresult *res;

	verdict_params(r, name, allowed, reason, eid, now, p);
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
