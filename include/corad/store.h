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

/*
 * Adds a context's statements (ended by a NULL name) and the tables they
 * need (NULL-ended; checked once per connection behind PgBouncer), before
 * the workers start; -1 with a message when there are too many sets.
 */
int		store_register(const struct statement *stmts, const char *const *tables,
		    char *err, size_t errlen);

struct store {
	PGconn		*conn;		/* NULL while disconnected */
	const char	*conninfo;
	int64_t		 retry_at_ms;	/* no connection attempt before this */
	unsigned	 failures;	/* consecutive failed attempts */
	bool		 schema_missing;/* statements do not prepare: not migrated */
	unsigned	 errors;	/* failed calls: cora_db_errors_total */
	PGcancel	*cancel;	/* for the request deadline */
	bool		 unnamed;	/* DATABASE_POOL_MODE=transaction: no prepared statements */
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
 * transaction mode), and sets the deadline per transaction. */
void		store_init(struct store *s, const char *conninfo, bool unnamed);
void		store_close(struct store *s);

/*
 * Makes sure the session is up: reconnects with a jittered backoff (50 ms
 * doubling to 500 ms) and prepares every statement, inside the request
 * deadline, which it arms. CORA_ERR_UNAVAILABLE while the database cannot
 * be reached or its schema lacks what the statements need (schema_missing
 * is then set); CORA_ERR_TIMEOUT when the deadline passed meanwhile.
 */
enum cora_err	store_ready(struct store *s);

/*
 * Runs a prepared statement. On failure returns NULL and classifies it:
 * *e = CORA_ERR_UNAVAILABLE when the server went away (the session is then
 * dropped and re-established by a later store_ready), else CORA_ERR_INTERNAL
 * with the server's message logged. The result is the caller's to PQclear.
 */
PGresult	*store_exec(struct store *s, const char *stmt, int n,
		    const char *const *params, ExecStatusType want, enum cora_err *e,
		    const char **sqlstate);

enum cora_err	store_begin(struct store *s);
enum cora_err	store_commit(struct store *s);
void		store_rollback(struct store *s);

/*
 * Appends one event at `expected + 1`, only if the stream is exactly at
 * `expected`. CORA_ERR_CONFLICT (with the spec's message in the request)
 * when it is not. Must run inside a transaction.
 */
enum cora_err	store_append(struct store *s, struct request *r,
		    const struct new_event *ev, int expected);

/*
 * Appends to several streams at once, in the order given (the global order
 * of the events): evs[i] only if its stream is exactly at expected[i]. One
 * that is not ends it with store_append's CORA_ERR_CONFLICT for that
 * stream, and the transaction is rolled back: all of them or none. Must
 * run inside a transaction.
 */
enum cora_err	store_append_streams(struct store *s, struct request *r,
		    const struct new_event *evs, const int *expected, size_t n);

/* Records an authorization verdict (inside the caller's transaction when
 * there is one). */
enum cora_err	store_verdict(struct store *s, struct request *r, const char *name,
		    bool allowed, const char *reason);

/* The highest applied migration, or -1 (with *e set) when unknown. */
int		store_schema_version(struct store *s, enum cora_err *e);

/* RFC 3339 UTC with microseconds and Z, for now. */
void		store_now(char buf[40]);

#endif
