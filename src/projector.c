/*
 * projector: the projector child. Runs the projections the contexts
 * registered (projection.h), each from its own bookmark, and prunes old
 * idempotency keys (doc/design.md, "Projections").
 *
 * Events are read in (transaction_id, position) order, and only from
 * transactions older than every transaction still running
 * (pg_snapshot_xmin): a position taken by a transaction that commits later
 * than a higher one is therefore never skipped. One projector per database
 * advances: the others wait for the session advisory lock.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "corad/alloc.h"
#include "corad/clock.h"
#include "corad/db.h"
#include "corad/ids.h"
#include "corad/json.h"
#include "corad/log.h"
#include "corad/proc.h"
#include "corad/projection.h"
#include "corad/scoreboard.h"
#include "corad/strutil.h"

#define PROJECTOR_LOCK_KEY	"7411002"	/* pg advisory lock: one leader per database */
#define BATCH_SIZE		100
#define BACKOFF_FIRST_MS	1000	/* a failing statement: 1 s doubling to 60 s */
#define BACKOFF_MAX_MS		60000
#define RECONNECT_FIRST_MS	50	/* no database: jittered, as workers do */
#define RECONNECT_MAX_MS	1000
#define HELD_BACK_FIRST_MS	5	/* events behind a running transaction: */
#define HELD_BACK_MAX_MS	200	/* look again soon, not too often */
#define PRUNE_EVERY_MS		(3600 * 1000)
#define LAG_EVERY_MS		1000	/* catching up: count what is left this often */
#define RELAY_MS		50	/* a standby's NOTIFY for the leader: at most one this often */
#define LEAD_RETRY_MS		100	/* a standby asks for the lead at most this often */
#define ROUND_EVERY_MS		20	/* a leader woken under load: one round this often */
#define STOP_GRACE_S		1	/* told to stop: what still waits then is abandoned */
#define CLIENT_CHECK_MS		1000	/* the server notices a projector gone mid-statement */

static volatile sig_atomic_t projector_stopping;

#define BATCHED_PARAMS_MAX	16

/* The statements a batch queued since the last sync, in order, and the
 * calls of a batched statement not sent yet: one array a parameter. */
struct projection_tx {
	PGconn			*conn;
	const struct projection	*projection;
	struct projection_queued {
		const char	*stmt;
		ExecStatusType	 want;
	}			*queued;
	size_t			 nqueued, cap;
	const char		*pending;	/* a batched statement */
	int			 npending;
	struct db_array		 arrays[BATCHED_PARAMS_MAX];
};

struct projector {
	struct runtime	*rt;
	PGconn		*conn;
	struct projection_tx tx;	/* the connection and the projection at work */
	bool		 leader;	/* holds the advisory lock */
	int64_t		 backoff_ms;	/* the last delay after a failing statement */
	unsigned	 reconnects;	/* failed connection attempts in a row */
	int64_t		 lag;		/* events behind the bookmarks after a round */
	bool		 lag_known;	/* ... counted for every projection this round */
	bool		 catching_up;	/* the last round read a full batch */
	int64_t		 next_lag_ms;	/* when a full batch is worth counting after */
	int64_t		 next_prune_ms;
	int64_t		 next_lead_ms;	/* a standby: when to ask for the lead again */
	int64_t		 relay_due_ms;	/* a standby: when to pass local wake-ups on (0: none) */
	int64_t		 relayed_ms;	/* ... when it last did */
	int64_t		 round_ms;	/* when the last round after a wait started */
	char		**types;	/* each projection's event types (event_types) */
	int64_t		*retry_at_ms;	/* each projection's: not before, after a failure */
	int64_t		*failed_ms;	/* ... and the delay it got (0: none) */
	int64_t		*lag_of;	/* ... and its backlog when last counted */
};

/*
 * The two reads of the events after the bookmark, which the same pipeline
 * has just locked. They are planned at every execution (unnamed
 * statements), not prepared: a plan cached while events was nearly empty
 * scanned the whole table, and the plan cache kept it until an ANALYZE of
 * events, a minute or two of 5-10 ms counts under load after a fresh start.
 *
 * The batch reads events of every type: the bookmark moves past those the
 * projection does not read too, so that no batch reads them again (the
 * last column says whether it reads the row).
 */
static const char batch_sql[] =
    "SELECT position, transaction_id::text, event_type, stream_id, occurred_at,"
    " CASE WHEN event_type = ANY($2::text[]) THEN payload::text END,"
    " event_type = ANY($2::text[])"
    " FROM events"
    " WHERE (transaction_id, position) >"
    "  (SELECT last_transaction_id, last_position FROM projection_bookmarks"
    "   WHERE projection_name = $1)"
    "   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
    /* Qualified: a bare transaction_id would name the text column of the
     * select list and sort 1000 before 999. */
    " ORDER BY events.transaction_id, events.position LIMIT " STR(BATCH_SIZE);

/* How many of the projection's types follow the bookmark, read before
 * anything is applied. Only the range is a condition: with the types in
 * the WHERE clause the planner intersected it with every event of those
 * types, however few events follow a bookmark that has caught up. */
static const char lag_sql[] =
    "SELECT count(*) FILTER (WHERE event_type = ANY($2::text[])) FROM events"
    " WHERE (transaction_id, position) >"
    "  (SELECT last_transaction_id, last_position FROM projection_bookmarks"
    "   WHERE projection_name = $1)"
    "   AND transaction_id >= (SELECT last_transaction_id FROM projection_bookmarks"
    "   WHERE projection_name = $1)";

/* The projector's own statements; each projection brings its own too. */
static const struct statement statements[] = {
	{ "bookmark_insert",
	  "INSERT INTO projection_bookmarks (projection_name) VALUES ($1) ON CONFLICT DO NOTHING" },
	{ "bookmark",
	  "SELECT last_transaction_id::text, last_position FROM projection_bookmarks"
	  " WHERE projection_name = $1 FOR UPDATE" },
	{ "advance",
	  "UPDATE projection_bookmarks SET last_transaction_id = $2::xid8, last_position = $3,"
	  " updated_at = now() WHERE projection_name = $1" },
	{ "prune",
	  "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1::int)" },
	{ NULL, NULL },
};

/*
 * Told to stop, the projector ends after the step it is in. libpq waits for
 * a statement's answer however it is interrupted, and a statement may wait
 * for a lock or a server that does not answer: what still waits after
 * STOP_GRACE_S is abandoned, which rolls its batch back (doc/design.md,
 * "Projections"). The master logs the exit, with the step.
 */
static void
projector_on_term(int sig)
{
	(void)sig;
	if (!projector_stopping)
		alarm(STOP_GRACE_S);
	projector_stopping = 1;
}

static void
projector_on_alarm(int sig)
{
	(void)sig;
	_exit(EXIT_FAILURE);
}

/*
 * The projector's scoreboard slot: busy with `doing` (and the projection's
 * name) since now, or idle when `doing` is NULL. /status shows it, and the
 * master logs a step that stalls (doc/design.md, "Projections").
 */
static void
projector_board(struct projector *p, const char *doing, const char *name)
{
	char what[sizeof(p->rt->sb->slots[0].doing)];

	/* Our own words and a projection's name: short, ASCII. */
	if (doing != NULL)
		snprintf(what, sizeof(what), "%s%s%s", doing, name != NULL ? " " : "",
		    name != NULL ? name : "");
	sb_set_doing(&p->rt->sb->slots[p->rt->slot], doing != NULL ? what : NULL);
}

/* Whether this projector leads, in its slot: /status and /metrics say so. */
static void
projector_set_leader(struct projector *p, bool leader)
{
	struct sb_slot *sl = &p->rt->sb->slots[p->rt->slot];

	p->leader = leader;
	sb_write_begin(sl);
	sl->leader = leader;
	sb_write_end(sl);
}

/* The delay after a failing statement that follows one of prev ms (0:
 * none): 1 s doubling to 60 s. */
static int64_t
backoff_next(int64_t prev)
{
	return prev == 0 ? BACKOFF_FIRST_MS : prev * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : prev * 2;
}

/* What projection.error lines name: the projection at work, if any. */
static const char *
current(const struct projector *p)
{
	return p->tx.projection != NULL ? p->tx.projection->name : NULL;
}

/* Runs a prepared statement expecting `want`; logs projection.error and
 * returns NULL otherwise. */
static PGresult *
run(struct projector *p, const char *stmt, int n, const char *const *params,
    ExecStatusType want)
{
	PGresult *res = PQexecPrepared(p->conn, stmt, n, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	log_error("projection.error", LF_STR("projection", current(p)),
	    LF_STR("statement", stmt), LF_STR("error", PQresultErrorMessage(res)));
	PQclear(res);
	return NULL;
}

static bool
simple(struct projector *p, const char *sql)
{
	PGresult *res = PQexec(p->conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		log_error("projection.error", LF_STR("projection", current(p)),
		    LF_STR("statement", sql), LF_STR("error", PQresultErrorMessage(res)));
	PQclear(res);
	return ok;
}

static void
projector_disconnect(struct projector *p)
{
	if (p->conn != NULL)
		PQfinish(p->conn);	/* releases the advisory lock too */
	p->conn = NULL;
	p->tx.conn = NULL;
	projector_set_leader(p, false);
}

/* The projector's statements, then each projection's: *n sets, freed by
 * the caller. */
static const struct statement **
statement_sets(size_t *n)
{
	const struct statement **sets = xcalloc(projection_count() + 1, sizeof(*sets));

	*n = projection_count() + 1;
	sets[0] = statements;
	for (size_t i = 1; i < *n; i++)
		sets[i] = projection_at(i - 1)->statements;
	return sets;
}

json_object *
projector_statements(void)
{
	size_t n;
	const struct statement **sets = statement_sets(&n);
	json_object *o = statements_json(sets, n);

	free(sets);
	return o;
}

/* Prepares the projector's statements and every projection's in one round
 * trip; a failure names the projection whose statement it was. */
static bool
prepare_all(struct projector *p)
{
	size_t n;
	const struct statement **sets = statement_sets(&n);
	struct prepare_failure f;
	bool ok;

	projector_board(p, "preparing statements", NULL);
	if (!(ok = statements_prepare(p->conn, sets, n, &f))) {
		log_error("projection.error", LF_STR("projection", f.set >= 1 && f.set < n ?
		    projection_at(f.set - 1)->name : NULL), LF_STR("statement", f.name),
		    LF_STR("error", f.res != NULL ? PQresultErrorMessage(f.res) :
		    PQerrorMessage(p->conn)));
		PQclear(f.res);
	}
	free(sets);
	return ok;
}

/*
 * Connects, prepares every statement, makes sure every projection has its
 * bookmark (a projection registered later starts from the first event)
 * and listens for events.
 */
static bool
projector_connect(struct projector *p)
{
	char err[512];
	bool ok;

	/* Directly to PostgreSQL even when workers go through PgBouncer in
	 * transaction mode: LISTEN and the session advisory lock need a
	 * session of their own. */
	p->tx.projection = NULL;
	projector_board(p, "connecting to the database", NULL);
	if ((p->conn = db_open(p->rt->cfg->projector_database_url, "corad-projector", err,
	    sizeof(err))) == NULL) {
		log_error("projection.error", LF_STR("error", err));
		return false;
	}
	p->tx.conn = p->conn;
	/* A projection is derived from the events and its bookmark moves in
	 * the same transaction: a crash that loses the last batches loses
	 * their bookmark too, and they are projected again. So the projector
	 * does not wait for its commits to reach the disk, and leaves the
	 * flushes to the writers (doc/design.md, "Projections"). The server
	 * probes the session too: the advisory lock of a leader whose host is
	 * gone is released within about 25 s, not the system's two hours, and a
	 * standby takes over. And a projector that is gone while a statement
	 * of its waits (for a lock, say: see projector_on_term) has its batch
	 * rolled back and the lead released within a second, not once the
	 * statement ends (PostgreSQL 14 and later). */
	ok = simple(p, "SET synchronous_commit = off;"
	    " SET tcp_keepalives_idle = " STR(DB_KEEPALIVE_IDLE_S) ";"
	    " SET tcp_keepalives_interval = " STR(DB_KEEPALIVE_INTERVAL_S) ";"
	    " SET tcp_keepalives_count = " STR(DB_KEEPALIVE_COUNT) ";"
	    " SET tcp_user_timeout = " STR(DB_TCP_USER_TIMEOUT_MS)) && prepare_all(p);
	/* Where the server cannot check (before 14, or a platform without
	 * the means), it refuses the setting: nothing else depends on it. */
	if (ok)
		PQclear(PQexec(p->conn, "SET client_connection_check_interval = " STR(CLIENT_CHECK_MS)));
	if (ok)
		projector_board(p, "creating bookmarks", NULL);
	for (size_t i = 0; ok && i < projection_count(); i++) {
		const char *name[] = { projection_at(i)->name };
		PGresult *res;

		p->tx.projection = projection_at(i);
		if ((ok = (res = run(p, "bookmark_insert", 1, name, PGRES_COMMAND_OK)) != NULL))
			PQclear(res);
	}
	p->tx.projection = NULL;
	if (ok && p->rt->cfg->projection_listen_notify)
		ok = simple(p, "LISTEN events");
	if (!ok)
		projector_disconnect(p);
	return ok;
}

/* Tries to become the one projector of this database; a standby asks
 * again at most every LEAD_RETRY_MS, however often it is woken. */
static bool
projector_lead(struct projector *p)
{
	PGresult *res;

	if (p->leader)
		return true;
	if (mono_ms() < p->next_lead_ms)
		return false;
	p->next_lead_ms = mono_ms() + LEAD_RETRY_MS;
	projector_board(p, "asking for the lead", NULL);
	res = PQexec(p->conn, "SELECT pg_try_advisory_lock(" PROJECTOR_LOCK_KEY ")");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return false;
	}
	projector_set_leader(p, *PQgetvalue(res, 0, 0) == 't');
	PQclear(res);
	if (p->leader)
		for (size_t i = 0; i < projection_count(); i++)
			log_info("projection.leader", LF_STR("projection", projection_at(i)->name),
			    LF_INT("pid", getpid()));
	return p->leader;
}

/* The projection's event types as a PostgreSQL text[] literal, made once
 * per projection. */
static char *
event_types(const struct projection *pr)
{
	struct db_array a = { 0 };
	char *s;

	for (size_t i = 0; pr->events[i] != NULL; i++)
		db_array_add(&a, pr->events[i]);
	s = xstrdup(db_array_text(&a));
	db_array_free(&a);
	return s;
}

/* --- a batch: two round trips ---------------------------------------------- */

/* Queues a statement (the prepared `stmt`, or `sql` when given) in the
 * batch's pipeline; false, logged, when it could not be sent. */
static bool
queue(struct projection_tx *tx, const char *stmt, const char *sql, int n,
    const char *const *params, ExecStatusType want)
{
	int sent = sql != NULL ? PQsendQueryParams(tx->conn, sql, n, NULL, params, NULL, NULL, 0) :
	    PQsendQueryPrepared(tx->conn, stmt, n, params, NULL, NULL, 0);

	if (!sent) {
		log_error("projection.error", LF_STR("projection", tx->projection->name),
		    LF_STR("statement", stmt), LF_STR("error", PQerrorMessage(tx->conn)));
		return false;
	}
	if (tx->nqueued == tx->cap) {
		tx->cap = tx->cap == 0 ? BATCH_SIZE + 8 : tx->cap * 2;
		tx->queued = xrealloc(tx->queued, tx->cap * sizeof(*tx->queued));
	}
	tx->queued[tx->nqueued++] = (struct projection_queued){ stmt, want };
	return true;
}

/* The projection's batched statement of that name, or NULL. */
static const char *
batched(const struct projection *pr, const char *name)
{
	for (const char *const *b = pr->batched; b != NULL && *b != NULL; b++)
		if (strcmp(*b, name) == 0)
			return *b;
	return NULL;
}

static void
drop_pending(struct projection_tx *tx)
{
	for (int i = 0; i < tx->npending; i++)
		db_array_clear(&tx->arrays[i]);
	tx->pending = NULL;
	tx->npending = 0;
}

/* Queues the batched statement's calls so far as one execution. */
static bool
flush_pending(struct projection_tx *tx)
{
	const char *params[BATCHED_PARAMS_MAX];
	bool ok;

	if (tx->pending == NULL)
		return true;
	for (int i = 0; i < tx->npending; i++)
		params[i] = db_array_text(&tx->arrays[i]);
	ok = queue(tx, tx->pending, NULL, tx->npending, params, PGRES_COMMAND_OK);
	drop_pending(tx);	/* libpq has copied the parameters */
	return ok;
}

/* A batched statement's call joins the calls before it when they are of
 * the same statement; anything else is queued after those are. */
bool
projection_exec(struct projection_tx *tx, const char *stmt, int n, const char *const *params)
{
	const char *st = batched(tx->projection, stmt);

	if (st == NULL)
		return flush_pending(tx) && queue(tx, stmt, NULL, n, params, PGRES_COMMAND_OK);
	if (tx->pending != st && !flush_pending(tx))
		return false;
	if (n < 0 || n > BATCHED_PARAMS_MAX || (tx->pending != NULL && n != tx->npending)) {
		log_error("projection.error", LF_STR("projection", tx->projection->name),
		    LF_STR("statement", stmt), LF_STR("error", "parameters do not fit the batch"));
		drop_pending(tx);
		return false;
	}
	tx->pending = st;
	tx->npending = n;
	for (int i = 0; i < n; i++)
		db_array_add(&tx->arrays[i], params[i]);
	return true;
}

/*
 * Sends a Sync and reads the result of every statement queued since the
 * last one. True when each had the status it wants; the first that did
 * not is logged (the server skipped the rest). The results of the first
 * `nkeep` statements go to keep[] for the caller to clear.
 */
static bool
sync_read(struct projection_tx *tx, PGresult **keep, size_t nkeep)
{
	bool ok = PQpipelineSync(tx->conn) == 1;
	PGresult *res;

	for (size_t i = 0; ok && i < tx->nqueued; i++) {
		ExecStatusType st;

		res = PQgetResult(tx->conn);
		st = PQresultStatus(res);
		if (st != tx->queued[i].want) {
			log_error("projection.error", LF_STR("projection", tx->projection->name),
			    LF_STR("statement", tx->queued[i].stmt),
			    LF_STR("error", res != NULL ? PQresultErrorMessage(res) :
			    PQerrorMessage(tx->conn)));
			ok = false;
		}
		if (i < nkeep)
			keep[i] = res;
		else
			PQclear(res);
		/* Each statement's results end with a NULL. */
		if (res != NULL && (res = PQgetResult(tx->conn)) != NULL) {
			PQclear(res);
			ok = false;
		}
	}
	if (ok) {
		res = PQgetResult(tx->conn);
		ok = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
	}
	tx->nqueued = 0;
	return ok;
}

static bool
apply_event(struct projector *p, PGresult *batch, int i)
{
	struct projection_event ev = {
		.position = PQgetvalue(batch, i, 0),
		.transaction_id = PQgetvalue(batch, i, 1),
		.event_type = PQgetvalue(batch, i, 2),
		.stream_id = PQgetvalue(batch, i, 3),
		.occurred_at = PQgetvalue(batch, i, 4),
		.payload = json_parse_stored(PQgetvalue(batch, i, 5)),
	};
	bool ok = p->tx.projection->apply(&p->tx, &ev);

	json_object_put(ev.payload);
	return ok;
}

/*
 * One batch of one projection in one transaction, sent as a pipeline in
 * two round trips: the bookmark's lock, the events after it and (when
 * `count`) how many of them are of the projection's types; then what
 * applies those, the bookmark's move past every event read and COMMIT.
 * Returns the events read (of any type), or -1 (the caller drops the
 * session, which rolls the transaction back). Adds what is left behind the
 * batch to p->lag: on a failure, everything the count found.
 */
static int
project_batch(struct projector *p, const struct projection *pr, const char *types, bool count)
{
	struct projection_tx *tx = &p->tx;
	const char *first[] = { pr->name, types };
	PGresult *got[4] = { NULL }, *bm, *batch;
	const char *last_tx, *last_pos;
	bool ok = false;
	int n = -1, applied = 0;

	tx->projection = pr;
	tx->nqueued = 0;
	projector_board(p, "projecting", pr->name);
	if (PQenterPipelineMode(p->conn) != 1 ||
	    !queue(tx, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK) ||
	    !queue(tx, "bookmark", NULL, 1, first, PGRES_TUPLES_OK) ||
	    !queue(tx, "batch", batch_sql, 2, first, PGRES_TUPLES_OK) ||
	    (count && !queue(tx, "lag", lag_sql, 2, first, PGRES_TUPLES_OK)) ||
	    !sync_read(tx, got, count ? 4 : 3)) {
		p->lag_known = false;
		goto out;
	}
	bm = got[1];
	batch = got[2];
	/* What is not projected yet: cora_projection_lag_events. */
	if (count)
		p->lag += atoll(PQgetvalue(got[3], 0, 0));
	else
		p->lag_known = false;
	if (PQntuples(bm) != 1) {
		log_error("projection.error", LF_STR("projection", pr->name),
		    LF_STR("error", "no bookmark row"));
		goto out;
	}
	n = PQntuples(batch);
	last_tx = n > 0 ? PQgetvalue(batch, n - 1, 1) : PQgetvalue(bm, 0, 0);
	last_pos = n > 0 ? PQgetvalue(batch, n - 1, 0) : PQgetvalue(bm, 0, 1);
	ok = true;
	for (int i = 0; ok && i < n; i++)
		if (*PQgetvalue(batch, i, 6) == 't') {
			ok = apply_event(p, batch, i);
			applied++;
		}
	ok = ok && flush_pending(tx);
	if (ok && n > 0) {
		const char *params[] = { pr->name, last_tx, last_pos };

		ok = queue(tx, "advance", NULL, 3, params, PGRES_COMMAND_OK);
	}
	ok = ok && queue(tx, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK) &&
	    sync_read(tx, NULL, 0) && PQexitPipelineMode(p->conn) == 1;
	if (!ok)
		goto out;
	if (count)
		p->lag -= applied;
	if (n > 0)
		log_debug("projection.advance", LF_STR("projection", pr->name),
		    LF_INT("batch_size", applied), LF_INT("events_read", n),
		    LF_STR("last_transaction_id", last_tx), LF_STR("last_position", last_pos));
out:
	for (size_t i = 0; i < 4; i++)
		PQclear(got[i]);
	drop_pending(tx);
	tx->projection = NULL;
	return ok ? n : -1;
}

/*
 * One batch of every projection. Returns the most events one of them read
 * (BATCH_SIZE: more is waiting), -1 when the session failed, or -2 when one
 * projection failed on a live session: that projection backs off alone
 * (1 s doubling to 60 s) and the session, whose transaction is broken, is
 * dropped for the next round to connect again at once. The lag is a scan
 * of the backlog: while the projections catch up (the last round read a
 * full batch) it is counted at most once a second, so that catching up
 * does not cost the square of the backlog. A round that fails still
 * reports what it counted, which is at least the failing projection's
 * backlog, or -1 (unknown): a projector that keeps failing must not look
 * caught up.
 */
static int
project_round(struct projector *p)
{
	bool count = mono_ms() >= p->next_lag_ms || !p->catching_up;
	int most = 0;

	if (count)
		p->next_lag_ms = mono_ms() + LAG_EVERY_MS;
	p->lag = 0;
	p->lag_known = true;
	for (size_t i = 0; i < projection_count(); i++) {
		int64_t before = p->lag;
		int n;

		/* One projection whose statement fails backs off alone: the
		 * others go on. Its backlog counts as it was last counted. */
		if (mono_ms() < p->retry_at_ms[i]) {
			p->lag += p->lag_of[i];
			continue;
		}
		n = project_batch(p, projection_at(i), p->types[i], count);
		if (count && p->lag_known)
			p->lag_of[i] = p->lag - before;
		if (n < 0) {
			p->catching_up = false;
			atomic_store(&p->rt->sb->projection_lag, p->lag_known ? p->lag : -1);
			if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK)
				return -1;
			p->failed_ms[i] = backoff_next(p->failed_ms[i]);
			p->retry_at_ms[i] = mono_ms() + p->failed_ms[i];
			log_warning("projection.backoff", LF_STR("projection", projection_at(i)->name),
			    LF_INT("delay_ms", p->failed_ms[i]));
			/* Its transaction is broken: the next round connects again
			 * at once, and leads again if it can. */
			projector_disconnect(p);
			p->next_lead_ms = 0;
			return -2;
		}
		p->failed_ms[i] = 0;
		if (n > most)
			most = n;
	}
	p->catching_up = most == BATCH_SIZE;
	if (p->lag_known)
		atomic_store(&p->rt->sb->projection_lag, p->lag);
	return most;
}

static void
projector_prune(struct projector *p)
{
	long hours = p->rt->cfg->idempotency_ttl_hours;
	char h[24];
	const char *params[] = { h };
	PGresult *res;

	if (hours == 0 || mono_ms() < p->next_prune_ms)
		return;
	p->next_prune_ms = mono_ms() + PRUNE_EVERY_MS;
	projector_board(p, "pruning Idempotency-Keys", NULL);
	snprintf(h, sizeof(h), "%ld", hours);
	if ((res = run(p, "prune", 1, params, PGRES_COMMAND_OK)) != NULL) {
		log_info("idempotency.pruned", LF_INT("deleted", atoll(PQcmdTuples(res))),
		    LF_INT("ttl_hours", hours));
		PQclear(res);
	}
}

/* Takes every notification libpq holds; true when there was one. */
static bool
projector_take_notifies(struct projector *p)
{
	PGnotify *nt;
	bool any = false;

	while ((nt = PQnotifies(p->conn)) != NULL) {
		PQfreemem(nt);
		any = true;
	}
	return any;
}

/* Takes every wake-up the workers of this host queued; true when there
 * was one. A standby owes the leader a NOTIFY for them (projector_relay). */
static bool
projector_take_wakeups(struct projector *p)
{
	char buf[64];
	bool any = false;

	while (recv(p->rt->wake_rd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		any = true;
	if (any && !p->leader && p->relay_due_ms == 0)
		p->relay_due_ms = p->relayed_ms + RELAY_MS > mono_ms() ? p->relayed_ms + RELAY_MS :
		    mono_ms();
	return any;
}

/*
 * A standby passes the wake-ups of its host's workers on to the leader,
 * wherever it runs, as one NOTIFY per RELAY_MS at most (doc/design.md,
 * "Writes"). Its own session hears it too, which does not relay again.
 */
static bool
projector_relay(struct projector *p)
{
	int64_t now = mono_ms();
	PGresult *res;
	bool ok;

	if (p->relay_due_ms == 0 || now < p->relay_due_ms)
		return true;
	projector_board(p, "passing wake-ups on", NULL);
	res = PQexec(p->conn, "SELECT pg_notify('events', '{}')");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	projector_board(p, NULL, NULL);
	p->relay_due_ms = 0;
	p->relayed_ms = now;
	return ok;
}

/*
 * Sleeps until a NOTIFY or a wake-up from a worker of this host arrives,
 * timeout_ms pass or we are told to stop. A notification that arrived
 * together with the reply to our own COMMIT is already in libpq's queue
 * and the socket has nothing more to say: it is looked for before
 * sleeping, or the projector would sleep through it. Returns false when
 * the connection broke.
 */
static bool
projector_wait(struct projector *p, int timeout_ms)
{
	struct pollfd pf[2] = {
		{ .fd = PQsocket(p->conn), .events = POLLIN },
		{ .fd = p->rt->wake_rd, .events = POLLIN },
	};

	bool woke;

	projector_board(p, NULL, NULL);
	if (PQconsumeInput(p->conn) == 0)
		return false;
	woke = projector_take_notifies(p);
	woke |= projector_take_wakeups(p);
	if (woke && p->leader)
		return true;
	if (p->relay_due_ms != 0) {
		int64_t until = p->relay_due_ms - mono_ms();

		timeout_ms = until <= 0 ? 0 : until < timeout_ms ? (int)until : timeout_ms;
	}
	/* The master and /metrics see a projector that does not wake up. */
	sb_set_sleeping(&p->rt->sb->slots[p->rt->slot], timeout_ms);
	if (poll(pf, 2, timeout_ms) < 0 && errno != EINTR)
		return false;
	if (PQconsumeInput(p->conn) == 0)
		return false;
	projector_take_notifies(p);
	projector_take_wakeups(p);
	if (!p->leader && !projector_relay(p))
		return false;
	return PQstatus(p->conn) == CONNECTION_OK;
}

static void
projector_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (!projector_stopping && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * After a failure: without a connection, try again soon (jittered, so that
 * hosts that lost the database together do not return in step); after a
 * statement that failed on a live connection, back off 1 s to 60 s.
 */
static void
projector_fail(struct projector *p)
{
	int64_t delay;

	if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
		delay = ids_backoff_ms(p->reconnects++, RECONNECT_FIRST_MS, RECONNECT_MAX_MS);
		p->backoff_ms = 0;
	} else {
		p->backoff_ms = backoff_next(p->backoff_ms);
		delay = p->backoff_ms;
	}
	projector_disconnect(p);
	sb_set_sleeping(&p->rt->sb->slots[p->rt->slot], delay);
	if (p->reconnects <= 1 || delay >= BACKOFF_FIRST_MS)
		log_warning("projection.backoff", LF_INT("delay_ms", delay));
	projector_sleep_ms(delay);
}

/*
 * Under a steady stream of writes every commit wakes the leader: a round
 * for each would cost a transaction per projection for a handful of events.
 * A round starts at most every ROUND_EVERY_MS after the last one that
 * followed a wait, so it finds what the workers committed meanwhile; the
 * first write after a quiet spell is projected at once.
 */
static void
projector_pace(struct projector *p)
{
	int64_t since = mono_ms() - p->round_ms;

	if (since >= 0 && since < ROUND_EVERY_MS)
		projector_sleep_ms(ROUND_EVERY_MS - since);
	p->round_ms = mono_ms();
}

int
projector_main(struct runtime *rt)
{
	struct sigaction sa = { .sa_handler = projector_on_term };	/* no SA_RESTART: wake poll */
	struct projector p = { .rt = rt };
	int poll_ms = (int)(rt->cfg->projection_poll_interval * 1000);
	int64_t held_back_ms = 0;

	log_set_logger("corad.projector");
	projector_board(&p, NULL, NULL);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = projector_on_alarm;	/* first: SIGTERM arms the alarm */
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = projector_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	p.next_prune_ms = mono_ms();
	p.types = xcalloc(projection_count(), sizeof(*p.types));
	p.retry_at_ms = xcalloc(projection_count(), sizeof(*p.retry_at_ms));
	p.failed_ms = xcalloc(projection_count(), sizeof(*p.failed_ms));
	p.lag_of = xcalloc(projection_count(), sizeof(*p.lag_of));
	for (size_t i = 0; i < projection_count(); i++)
		p.types[i] = event_types(projection_at(i));

	while (!projector_stopping) {
		int n, wait_ms;

		if (p.conn == NULL && !projector_connect(&p)) {
			projector_fail(&p);
			continue;
		}
		p.reconnects = 0;
		if (!projector_lead(&p)) {
			/* A standby: another host's projector advances. */
			if (!projector_wait(&p, poll_ms))
				projector_fail(&p);
			continue;
		}
		if ((n = project_round(&p)) == -2)
			continue;	/* one projection backs off; the session is new */
		if (n < 0) {
			projector_fail(&p);
			continue;
		}
		p.backoff_ms = 0;
		if (n == BATCH_SIZE)
			continue;	/* more is waiting */
		projector_prune(&p);
		/* Events that a transaction still running holds back behind the
		 * snapshot horizon: their own wake-up came and went, and the
		 * transaction that ends may write no event (a claim, a verdict),
		 * so nothing would wake us. Look again soon, then less often. */
		if (n > 0 || p.lag <= 0)
			held_back_ms = 0;
		else
			held_back_ms = held_back_ms == 0 ? HELD_BACK_FIRST_MS :
			    held_back_ms * 2 > HELD_BACK_MAX_MS ? HELD_BACK_MAX_MS : held_back_ms * 2;
		wait_ms = p.lag > 0 && held_back_ms < poll_ms ? (int)held_back_ms : poll_ms;
		/* A projection backing off is tried again when its delay ends. */
		for (size_t i = 0; i < projection_count(); i++) {
			int64_t left = p.retry_at_ms[i] - mono_ms();

			if (left > 0 && left < wait_ms)
				wait_ms = (int)left;
		}
		if (!projector_wait(&p, wait_ms)) {
			projector_fail(&p);
			continue;
		}
		projector_pace(&p);
	}
	alarm(0);
	projector_board(&p, NULL, NULL);	/* left between steps: none abandoned */
	projector_disconnect(&p);
	free(p.tx.queued);
	for (size_t i = 0; i < BATCHED_PARAMS_MAX; i++)
		db_array_free(&p.tx.arrays[i]);
	for (size_t i = 0; i < projection_count(); i++)
		free(p.types[i]);
	free(p.types);
	free(p.retry_at_ms);
	free(p.failed_ms);
	free(p.lag_of);
	return 0;
}
