/*
 * store: a worker's one persistent PostgreSQL session, with prepared
 * statements, and the event store operations the handlers use.
 */
#ifndef CORAD_STORE_H
#define CORAD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "corad/reply.h"

struct request;

/* A named SQL statement, prepared on every worker connection. */
struct statement {
	const char	*name;
	const char	*sql;
};

/* Why statements_prepare failed. */
struct prepare_failure {
	size_t		 set;	/* the index of the statement's set (count: none) */
	const char	*name;	/* the statement, or "pipeline" or "Sync" */
	PGresult	*res;	/* its result, NULL when the link broke; the caller clears it */
};

/*
 * Prepares the statements of sets[0] to sets[count - 1], each set ended by
 * a NULL name, in one round trip (a pipeline). True when every one was
 * prepared; else false with *f saying which was not and why (the first; the
 * server skips the rest). A connection whose prepare failed is of no
 * further use: close it.
 */
bool		statements_prepare(PGconn *conn, const struct statement *const *sets, size_t count,
		    struct prepare_failure *f);

/* The same sets as one JSON object, name to SQL, in the order prepared. */
json_object	*statements_json(const struct statement *const *sets, size_t count);

/* Every statement a worker's session prepares (`corad statements`). */
json_object	*store_statements(void);

/*
 * Adds a context's statements (ended by a NULL name) and the tables they
 * need (NULL-ended; checked once per connection behind PgBouncer), before
 * the workers start; -1 with a message when there are too many sets.
 */
int		store_register(const struct statement *stmts, const char *const *tables,
		    char *err, size_t errlen);

#define STORE_TX_MAX	16	/* statements in one write transaction */

struct store {
	PGconn		*conn;		/* NULL while disconnected */
	const char	*conninfo;
	int64_t		 retry_at_ms;	/* no connection attempt before this */
	unsigned	 failures;	/* consecutive failed attempts */
	bool		 schema_missing;/* statements do not prepare: not migrated */
	unsigned	 errors;	/* failed calls: cora_db_errors_total */
	PGcancel	*cancel;	/* for the request deadline */
	bool		 unnamed;	/* DATABASE_POOL_MODE=transaction: no prepared statements */
	int		 wake_fd;	/* the projector's wake-up socket, or -1 */
	/* The write transaction being queued (store_tx_*). */
	struct store_tx_item {
		const char		*stmt;
		ExecStatusType		 want;
		const struct new_event	*ev;		/* an append's event */
		int			 expected;	/* ... and the version it expects */
		enum cora_err		(*check)(struct request *, int);
		int			 rows;		/* a fence's row count */
	}		 tx[STORE_TX_MAX];
	size_t		 ntx;
	bool		 tx_block;	/* BEGIN was sent: a fence may come (store_tx_begin) */
	bool		 tx_broken;	/* a statement could not be queued */
	bool		 tx_unknown;	/* the session ended before the commit's answer */
	bool		 warming;	/* in store_warm_up, not in a request */
};

/* One event to append; strings are borrowed. */
struct new_event {
	const char	*stream_type;	/* "Actor" */
	const char	*stream_id;
	const char	*event_type;
	json_object	*payload;
	const char	*command;	/* metadata.command */
	const char	*occurred_at;
};

/* Called by a worker at start: remembers the connection string; connects
 * lazily on the first request that needs the database. `unnamed` sends
 * every statement's text instead of preparing it (PgBouncer in
 * transaction mode), and sets the deadline per transaction. A commit that
 * appended events sends one byte to `wake_fd` (-1: none). */
void		store_init(struct store *s, const char *conninfo, bool unnamed, int wake_fd);
void		store_close(struct store *s);
/* store_close, logged as db.disconnected for `why`; the next request
 * connects at once. */
void		store_drop(struct store *s, const char *why);

/*
 * Makes sure the session is up: reconnects with a jittered backoff (50 ms
 * doubling to 500 ms) and prepares every statement, inside the request
 * deadline, which it arms. CORA_ERR_UNAVAILABLE while the database cannot
 * be reached or its schema lacks what the statements need (schema_missing
 * is then set); CORA_ERR_TIMEOUT when the deadline passed meanwhile.
 */
enum cora_err	store_ready(struct store *s);

/*
 * store_ready before the worker's first request, within `seconds`, so that
 * no request waits for the connect and the prepares. A failure is logged
 * like a request's and left to the first request, which tries at once.
 */
void		store_warm_up(struct store *s, double seconds);

/*
 * Runs a prepared statement. On failure returns NULL and classifies it:
 * *e = CORA_ERR_UNAVAILABLE when the server went away (the session is then
 * dropped and re-established by a later store_ready), else CORA_ERR_INTERNAL
 * with the server's message logged. The result is the caller's to PQclear.
 */
PGresult	*store_exec(struct store *s, const char *stmt, int n,
		    const char *const *params, ExecStatusType want, enum cora_err *e,
		    const char **sqlstate);

/*
 * store_exec for a statement planned for these parameters alone (sent as an
 * unnamed statement), never by a cached generic plan: one whose optional
 * filters (`$2 IS NULL OR target_id = $2`) reach an index only once the
 * planner knows which are given. The plan costs the server more CPU than
 * a prepared statement's, far less than a scan.
 */
PGresult	*store_exec_planned(struct store *s, const char *stmt, int n,
		    const char *const *params, ExecStatusType want, enum cora_err *e,
		    const char **sqlstate);

/*
 * A write transaction goes to the server as one pipeline (doc/design.md,
 * "Writes"): the store_tx_* calls below queue their statements without
 * waiting, and store_tx_commit sends it all with a Sync and reads every
 * result, so the whole transaction costs one round trip. The statements
 * up to the Sync are one transaction, which the Sync commits. A request
 * with an Idempotency-Key (r->idem.active) gets BEGIN and COMMIT instead:
 * its fenced statement (store_tx_fence) costs a second round trip, its
 * row count checked before COMMIT is sent. The first failure ends the
 * transaction (the server skips what follows it) and is classified as
 * store_exec does; a unique violation on an append is
 * CORA_ERR_CONFLICT with the spec's message. After a commit that appended
 * events, the host's projector is woken (store_init's wake_fd).
 */
void		store_tx_begin(struct store *s, const struct request *r);

/* Queues a statement that returns no rows. */
void		store_tx_exec(struct store *s, const char *stmt, int n,
		    const char *const *params);

/*
 * Queues an event at `expected + 1`. The unique key (stream_type,
 * stream_id, version) is the guard: a stream that another writer moved
 * past `expected` makes the insert fail, and the commit answers
 * CORA_ERR_CONFLICT naming the version found. The event's strings are
 * borrowed until store_tx_commit returns.
 */
void		store_tx_append(struct store *s, struct request *r,
		    const struct new_event *ev, int expected);

/* Queues the allow verdict of the request's operation. */
void		store_tx_verdict(struct store *s, struct request *r);

/* Queues a statement whose row count `check` judges before COMMIT is
 * sent: anything but CORA_OK from it rolls the transaction back. Only in
 * a transaction block (see store_tx_begin); elsewhere the transaction
 * fails. */
void		store_tx_fence(struct store *s, const char *stmt, int n,
		    const char *const *params,
		    enum cora_err (*check)(struct request *r, int rows));

/* Sends and reads the transaction; rolls it back on any failure. */
enum cora_err	store_tx_commit(struct store *s, struct request *r);

/* Rolls back a transaction left open (a no-op when there is none). */
void		store_rollback(struct store *s);

/* Records a deny verdict on its own (an allow verdict is part of the
 * command's transaction: store_tx_verdict). */
enum cora_err	store_verdict(struct store *s, struct request *r, const char *name,
		    bool allowed, const char *reason);

/* The highest applied migration, or -1 (with *e set) when unknown. */
int		store_schema_version(struct store *s, enum cora_err *e);

/* RFC 3339 UTC with microseconds and Z, for now. */
void		store_now(char buf[40]);

#endif
