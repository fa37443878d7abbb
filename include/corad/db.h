/* db: PostgreSQL connections, migrations and the role and schema gates. */
#ifndef CORAD_DB_H
#define CORAD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* TCP keepalives, both ways: probes after IDLE seconds of silence, every
 * INTERVAL; the user timeout (ms) then ends a connection on which nothing
 * was acknowledged for that long, probes and data alike (no probe is sent
 * while data waits for its acknowledgement). COUNT applies where there is
 * no user timeout. */
#define DB_KEEPALIVE_IDLE_S	10
#define DB_KEEPALIVE_INTERVAL_S	5
#define DB_KEEPALIVE_COUNT	3
#define DB_TCP_USER_TIMEOUT_MS	25000

/*
 * Opens a connection (URL or key=value string) with corad's defaults
 * (application_name, a 5 s connect timeout, the keepalives above) under
 * whatever the string says.
 * Returns NULL with libpq's message in err. What the server says outside a
 * result (a NOTICE, a FATAL ending the session) is logged as db.notice
 * (db_log_notices), never printed raw.
 */
PGconn	*db_open(const char *conninfo, const char *application_name,
	    char *err, size_t errlen);

/*
 * The same without blocking past a deadline: connects asynchronously and
 * gives up at deadline_ms (CLOCK_MONOTONIC; -1: only the 5 s connect
 * timeout) or as soon as interrupted() says so after a signal, with
 * *timed_out set. For workers, whose request deadline covers connecting.
 */
PGconn	*db_open_until(const char *conninfo, const char *application_name,
	    int64_t deadline_ms, bool (*interrupted)(void), bool *timed_out,
	    char *err, size_t errlen);

/* Logs what the server says outside a result on c as db.notice lines. */
void	db_log_notices(PGconn *c);

/* A migration file found on disk: NNNN_name.sql. */
struct migration {
	int	 version;
	char	 name[128];	/* file name */
	char	*sql;		/* contents, owned */
	char	 checksum[65];	/* SHA-256 hex of the SQL, comment lines left out */
	char	 file_checksum[65];	/* ... of the whole file, as older builds recorded */
};

struct migration_set {
	struct migration	*items;	/* sorted by version */
	size_t			 n;
	char			 dir[512];
};

/*
 * Loads the migrations shipped with this binary: CORAD_MIGRATIONS_DIR when
 * set, else the build tree's sql/, else $(datadir)/corad/sql. Returns -1 with
 * a message when none is found or a file is unreadable or misnamed.
 */
int	migrations_load(struct migration_set *set, char *err, size_t errlen);
void	migrations_free(struct migration_set *set);
/* Highest shipped version (0 when empty). */
int	migrations_latest(const struct migration_set *set);

/*
 * Applies the pending migrations in order, each in its own transaction
 * together with its bookkeeping row, printing one line per migration
 * applied to `out`. Serialised by an advisory lock. Returns the number
 * applied, or -1 with a message (nothing of the failing file is kept).
 */
int	migrations_apply(PGconn *conn, const struct migration_set *set,
	    void (*print)(const char *line, void *ctx), void *ctx,
	    char *err, size_t errlen);

/* The highest applied version, 0 for none; -1 on a query error. */
int	migrations_applied_version(PGconn *conn, int64_t until_ms, char *err, size_t errlen);

/* Gate 3 (doc/design.md, "Start-up gates"): what makes the role unfit, one
 * string each. */
struct role_report {
	char	 role[64];
	int	 nproblems;
	char	 problems[8][200];
};

/* Fills the report, waiting until until_ms at most (db_exec_until); -1
 * with a message when the checks cannot run (for example when the events
 * table does not exist yet). `appends`: the role must be able to INSERT
 * events (the workers'; the projector only reads them). */
int	db_check_role(PGconn *conn, bool appends, int64_t until_ms, struct role_report *rep,
	    char *err, size_t errlen);

/* One statement's last result, waited for until until_ms (CLOCK_MONOTONIC
 * milliseconds): a server that connects but does not answer (a frozen
 * backend, a pooler out of connections) cannot hold the caller. NULL with
 * the reason in err when it could not be sent, the session failed or the
 * time ran out; the session is then of no further use. */
PGresult	*db_exec_until(PGconn *c, const char *sql, int64_t until_ms, char *err,
		    size_t errlen);

/*
 * A PostgreSQL array literal, built an element at a time, for a parameter
 * such as $1::text[] that carries one value per row: {"a","b\"c",NULL}.
 * Every element is quoted, with '"' and '\\' escaped, so no text can end
 * the element or the array early. Zeroed to start; db_array_text closes
 * and returns it; db_array_clear empties it for reuse.
 */
struct db_array {
	char	*s;
	size_t	 len, cap;
	size_t	 n;		/* elements */
};

void		 db_array_add(struct db_array *a, const char *v);	/* NULL: SQL NULL */
const char	*db_array_text(struct db_array *a);
void		 db_array_clear(struct db_array *a);
void		 db_array_free(struct db_array *a);

/* True for a libpq failure that means "the server is not there" (class 08,
 * a broken connection, admin shutdown) rather than a bad statement. */
bool	db_is_unavailable(PGconn *conn, const PGresult *res);

/* True for an SQLSTATE that says the server cannot do it now, though the
 * session is sound and the statement right: a client should try again
 * later (503), not be told the server failed (500). */
bool	db_is_transient(const char *sqlstate);

#endif
