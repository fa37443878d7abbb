# pg.sh: a private PostgreSQL cluster for one test script, on a Unix socket
# under $T (no TCP port unless the script sets PG_LISTEN and PGPORT, nothing
# shared with other scripts running at once).
#
# pg_start sets PGHOST and three connection strings:
#   PG_SUPER_URL  the bootstrap superuser (postgres)
#   PG_OWNER_URL  cora_owner: owns the database and runs corad migrate
#   PG_APP_URL    cora_app: the restricted role the migrations create

pg_bin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a PostgreSQL server program as the postgres user when we are root
# (initdb and postgres refuse to run as root).
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# The tests trade durability for speed; PG_DURABLE=1 (the benchmarks) keeps
# PostgreSQL's defaults: every commit flushed to disk.
pg_durability() {
	[[ ${PG_DURABLE:-0} == 1 ]] || echo "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
}

# pg_start [bare]: "bare" leaves out the owner role and the database (for
# the tests of corad init-db, which makes them). The server listens on its
# Unix socket only, and on TCP at $PG_LISTEN when a test sets it.
pg_start() {
	local bin
	bin=$(pg_bin)
	[ -n "$bin" ] || { echo "# PostgreSQL server binaries not found (apt-get install postgresql)" >&2; return 1; }
	PG_DIR=$T/pg
	mkdir -p "$PG_DIR/sock"
	chmod 755 "$T"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$PG_DIR"
	pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
		-o "-k $PG_DIR/sock -c listen_addresses='${PG_LISTEN:-}' $(pg_durability)" \
		start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	export PGHOST=$PG_DIR/sock
	PG_SUPER_URL="postgresql:///postgres?host=$PGHOST&user=postgres"
	PG_OWNER_URL="postgresql:///cora?host=$PGHOST&user=cora_owner"
	PG_APP_URL="postgresql:///cora?host=$PGHOST&user=cora_app"
	[ "${1:-}" = bare ] && return 0
	psql -qAtX -v ON_ERROR_STOP=1 "$PG_SUPER_URL" <<-SQL >/dev/null
		CREATE ROLE cora_owner LOGIN CREATEROLE;
		CREATE DATABASE cora OWNER cora_owner;
	SQL
	psql -qAtX -v ON_ERROR_STOP=1 "postgresql:///cora?host=$PGHOST&user=postgres" \
		-c "ALTER SCHEMA public OWNER TO cora_owner" >/dev/null
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
	pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# Restarts the server (for the database-down tests).
pg_down() {
	pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

pg_up() {
	pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
		-o "-k $PG_DIR/sock -c listen_addresses='${PG_LISTEN:-}' $(pg_durability)" \
		start >/dev/null
}

# psql as a role: sql_as <url> <sql> prints unaligned tuples.
sql_as() {
	psql -qAtX -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# The EXIT trap of a script that uses PostgreSQL: stops the script's other
# servers (its stop_servers function, when it has one) and PostgreSQL, then
# runs lib.sh's cleanup (which ends with exit), keeping the script's status.
pg_cleanup() {
	local rc=$?
	declare -F stop_servers >/dev/null && stop_servers
	pg_stop
	(exit "$rc")
	cleanup
}

# db_setup: a private cluster with the shipped migrations applied by
# `corad migrate` as the owner. DB is the superuser's URL on database cora;
# q runs one statement there. On failure the script ends through its
# finish function when it has one, else done_testing.
db_setup() {
	trap pg_cleanup EXIT
	need_tools psql
	pg_start || bail "PostgreSQL starts"
	DB="postgresql:///cora?host=$PGHOST&user=postgres"
	if DATABASE_OWNER_URL=$PG_OWNER_URL "$CORAD_BIN" migrate >"$T/migrate.log" 2>&1; then
		pass "corad migrate applies the shipped migrations"
	else
		bail "corad migrate applies the shipped migrations" "$(cat "$T/migrate.log")"
	fi
}

q() { sql_as "$DB" "$1"; }

# serve_db WORKERS [VAR=value...]: nginx (the shipped server "main") in
# front of a corad on this script's database with WORKERS workers; bails
# unless both start.
serve_db() {
	local n=$1
	shift
	nginx_server main
	nginx_start || bail "nginx starts"
	corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS="$n" "$@" ||
		bail "corad serve starts with $n workers"
	pass "corad serve starts with $n workers"
}

# plan_since OFFSET QUERY-PREFIX: the last plan auto_explain logged after byte
# OFFSET of the server's log for a statement whose text starts with the
# prefix (auto_explain loaded for the role: see scale.sh); pg_log_size is the
# log's size, the offset to pass.
plan_since() {
	tail -c +"$(($1 + 1))" "$PG_DIR/server.log" | awk -v want="Query Text: $2" '
		/ LOG: / { inplan = 0 }
		index($0, want) { inplan = 1; plan = ""; next }
		inplan { plan = plan $0 "\n" }
		END { printf "%s", plan }'
}
pg_log_size() { stat -c %s "$PG_DIR/server.log"; }

# log_statements: from now on the server's log has every statement of
# cora_app's sessions, each line led by the session's application name
# (for sessions that start after it); statements_run APP OFFSET: the
# prepared statements the sessions named APP executed after byte OFFSET
# of the log, by name, a line each.
log_statements() {
	q "ALTER ROLE cora_app SET log_statement = 'all'" >/dev/null
	q "ALTER SYSTEM SET log_line_prefix = '%m [%p] %a: '" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
}
statements_run() {
	tail -c +"$(($2 + 1))" "$PG_DIR/server.log" |
		sed -nE "s/.* $1: LOG:  execute ([a-z_]+):.*/\1/p"
}

# table_locks TABLE MODE: how many locks of that mode (AccessExclusiveLock,
# ExclusiveLock, ...) sessions hold on the table; table_locked: at least one.
table_locks() {
	q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = '$1' AND l.mode = '$2' AND l.granted"
}
table_locked() { [[ $(table_locks "$1" "$2") -ge 1 ]]; }

# connect_workers N CMD...: runs CMD, a request that needs the database,
# N at a time until N worker sessions are connected (5 s at most). A worker
# connects and prepares its statements before it accepts, or, when that
# failed, at its first such request; a prepare waits on a lock a test holds
# as a statement would, so a test that holds one makes sure first that
# every worker is connected.
workers_connected() {
	[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'corad-worker'") == "$1" ]]
}
connect_workers() {
	local n=$1 i deadline pids
	shift
	deadline=$((SECONDS + 5))
	until workers_connected "$n"; do
		[[ $SECONDS -lt $deadline ]] || return 1
		pids=()
		for ((i = 0; i < n; i++)); do
			"$@" >/dev/null 2>&1 &
			pids+=($!)
		done
		wait "${pids[@]}"
	done
}

# hold SQL: another session runs SQL in a transaction and keeps the
# transaction open, in the background (HOLDER is its pid), until
# release_holder: a test ends the hold when it has seen what it waits for,
# not after a time that a busy machine may outlast. A minute at most.
hold() {
	PGAPPNAME=corad-test-holder psql -qAtX "$DB" >/dev/null 2>&1 <<-SQL &
		BEGIN;
		$1;
		SELECT pg_sleep(60);
		COMMIT;
	SQL
	HOLDER=$!
	EXTRA_PIDS+=("$HOLDER")
}

# release_holder: cancels the holding session's sleep, so that its
# transaction rolls back and lets go of what it held, and waits for it to
# end (from a subshell, only the cancel).
release_holder() {
	q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'corad-test-holder'" >/dev/null
	wait "$HOLDER" 2>/dev/null || true
}

# hold_lock TABLE MODE: hold, taking the lock (MODE as LOCK TABLE writes it:
# EXCLUSIVE, ACCESS EXCLUSIVE); true once the session holds it.
hold_lock() {
	local held
	held=$(sed -E 's/(^| )([a-z])/\U\2/g' <<<"${2,,}")Lock
	hold "LOCK TABLE $1 IN $2 MODE"
	wait_until 5 table_locked "$1" "$held"
}
