#!/bin/bash
# Roles and the database start-up gates: cora_app can
# only read and append history; even the owner cannot rewrite it; in
# production `corad check` refuses the owner, a superuser and other roles
# with too much (or too little) privilege, reports every failing gate, and
# refuses a schema that is behind; GET /ready tells a migrated database from
# an empty one.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
db_setup

nginx_server main
nginx_start || bail "nginx starts"
if corad_start DATABASE_URL="$PG_APP_URL"; then
	pass "corad serve starts as cora_app"
else
	fail "corad serve starts as cora_app"
	done_testing
	exit
fi

# Some history to protect (no principal: the system principal).
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Ada"}'
is "$HTTP_STATUS" 201 "register an actor"
ID=$(json_value "$HTTP_BODY" .actor_id)
http POST "/actors/$ID/deactivate"
is "$HTTP_STATUS" 204 "deactivate it"
SNAP_SQL="SELECT md5(string_agg(e::text, '|' ORDER BY position)) FROM events e"
VSNAP_SQL="SELECT md5(string_agg(v::text, '|' ORDER BY event_id)) FROM entries_access_verdicts v"
SNAP=$(q "$SNAP_SQL")
VSNAP=$(q "$VSNAP_SQL")
is "$(q "SELECT count(*) FROM events")" 2 "two events stored"
cmp_ok "$(q "SELECT count(*) FROM entries_access_verdicts")" -ge 2 "verdicts stored"

http GET /ready
is "$HTTP_STATUS" 200 "GET /ready on the migrated database: 200"
json_eq "$HTTP_BODY" '{"status":"ready"}' "GET /ready: body"

# refused URL SQL desc ERE: the statement fails with an error matching ERE.
refused() {
	local out
	if out=$(sql_as "$1" "$2" 2>&1); then
		fail "$3" "the statement succeeded: $2" "$out"
	else
		like "$out" "$4" "$3"
	fi
}
for t in events entries_access_verdicts; do
	refused "$PG_APP_URL" "UPDATE $t SET occurred_at = occurred_at" "cora_app: UPDATE $t is refused" 'permission denied'
	refused "$PG_APP_URL" "DELETE FROM $t" "cora_app: DELETE FROM $t is refused" 'permission denied'
	refused "$PG_APP_URL" "TRUNCATE $t" "cora_app: TRUNCATE $t is refused" 'permission denied'
	is "$(sql_as "$PG_APP_URL" "SELECT count(*) > 0 FROM $t" 2>&1)" t "cora_app: SELECT on $t works"
	refused "$PG_OWNER_URL" "UPDATE $t SET occurred_at = occurred_at" "owner: UPDATE $t is refused by the trigger" 'append-only'
	refused "$PG_OWNER_URL" "DELETE FROM $t" "owner: DELETE FROM $t is refused by the trigger" 'append-only'
	refused "$PG_OWNER_URL" "TRUNCATE $t" "owner: TRUNCATE $t is refused by the trigger" 'append-only'
done
refused "$PG_APP_URL" "ALTER TABLE events DISABLE TRIGGER events_append_only" \
	"cora_app: cannot disable the append-only trigger" 'owner|permission denied'
refused "$PG_APP_URL" "DROP TABLE events" "cora_app: cannot drop events" 'owner|permission denied'
is "$(q "$SNAP_SQL")" "$SNAP" "events unchanged after every attempt"
is "$(q "$VSNAP_SQL")" "$VSNAP" "entries_access_verdicts unchanged after every attempt"
http GET "/actors/$ID"
json_is "$HTTP_BODY" '[.name, .active]' '["Ada",false]' "the actor reads as before"

# --- production gate: the database role ----------------------------------------
PROD=(APP_ENV=production REQUIRE_AUTHENTICATED_PRINCIPAL=true ALLOW_PERMISSIVE_AUTHZ=true)
corad_run check-app check "${PROD[@]}" DATABASE_URL="$PG_APP_URL"
is "$RUN_STATUS" 0 "production check as cora_app exits 0"
LOGFILE=$RUN_LOG ok "production check as cora_app: check.ok" log_has check.ok
LOGFILE=$RUN_LOG nok "production check as cora_app: no startup.refused" log_has startup.refused
is "$RUN_WORKER_SEEN" 0 "corad check starts no worker"

# gate_refused name URL ERE desc [VAR=value...]: production check and serve
# with that database URL exit non-zero and log an app_role refusal matching ERE.
gate_refused() {
	local name=$1 url=$2 re=$3 desc=$4 cmd
	shift 4
	for cmd in check serve; do
		rm -f "$T/gate.sock"
		corad_run "$cmd-$name" "$cmd" "${PROD[@]}" CORA_LISTEN="unix:$T/gate.sock" DATABASE_URL="$url" "$@"
		isnt "$RUN_STATUS" 0 "$desc: corad $cmd exits non-zero"
		isnt "$RUN_STATUS" timeout "$desc: corad $cmd exits by itself"
		LOGFILE=$RUN_LOG ok "$desc: corad $cmd logs startup.refused (gate app_role) matching /$re/" \
			log_has startup.refused ".gate == \"app_role\" and (.reason | type) == \"string\" and (.reason | test($(jq -cn --arg r "$re" '$r')))"
		[[ $cmd == serve ]] && is "$RUN_WORKER_SEEN" 0 "$desc: corad serve starts no worker"
	done
}
gate_refused owner "$PG_OWNER_URL" 'owns the events table' "production as the owner"
gate_refused super "$DB" 'is a superuser' "production as a superuser"

# Roles with too much or too little privilege.
q "CREATE ROLE cora_upd LOGIN; GRANT USAGE ON SCHEMA public TO cora_upd;
   GRANT SELECT, INSERT, UPDATE ON events, entries_access_verdicts TO cora_upd;
   GRANT SELECT ON ALL TABLES IN SCHEMA public TO cora_upd;
   CREATE ROLE cora_del LOGIN; GRANT USAGE ON SCHEMA public TO cora_del;
   GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO cora_del;
   GRANT DELETE ON entries_access_verdicts TO cora_del;
   CREATE ROLE cora_ro LOGIN; GRANT USAGE ON SCHEMA public TO cora_ro;
   GRANT SELECT ON ALL TABLES IN SCHEMA public TO cora_ro;" >/dev/null
gate_refused upd "postgresql:///cora?host=$PGHOST&user=cora_upd" 'UPDATE' "production as a role that can UPDATE events"
gate_refused del "postgresql:///cora?host=$PGHOST&user=cora_del" 'DELETE' \
	"production as a role that can DELETE from entries_access_verdicts"
gate_refused ro "postgresql:///cora?host=$PGHOST&user=cora_ro" 'INSERT' "production as a role that cannot INSERT into events"
# Roles that hold no such privilege but can reach one: a NOINHERIT member
# of the owner's role (SET ROLE), and one with CREATEROLE (it can grant
# itself the owner's role).
q "CREATE ROLE cora_ni LOGIN NOINHERIT IN ROLE cora_app; GRANT cora_owner TO cora_ni;
   CREATE ROLE cora_cr LOGIN CREATEROLE IN ROLE cora_app;" >/dev/null
gate_refused noinherit "postgresql:///cora?host=$PGHOST&user=cora_ni" 'SET ROLE to the owner' \
	"production as a NOINHERIT member of the owner's role"
gate_refused createrole "postgresql:///cora?host=$PGHOST&user=cora_cr" 'CREATEROLE' \
	"production as a role with CREATEROLE"

# The projector's own connection string passes the same gates: behind
# PgBouncer it is a direct session that writes the projections.
corad_run check-proj-owner check "${PROD[@]}" DATABASE_URL="$PG_APP_URL" PROJECTOR_DATABASE_URL="$PG_OWNER_URL"
isnt "$RUN_STATUS" 0 "production, the projector as the owner: check exits non-zero"
LOGFILE=$RUN_LOG ok "... with an app_role refusal that names PROJECTOR_DATABASE_URL" \
	log_has startup.refused '.gate == "app_role" and (.reason | test("PROJECTOR_DATABASE_URL"))'
LOGFILE=$RUN_LOG nok "... and none for DATABASE_URL" \
	log_has startup.refused '.reason | test("\\(DATABASE_URL\\)")'
corad_run check-proj-down check "${PROD[@]}" DATABASE_URL="$PG_APP_URL" \
	PROJECTOR_DATABASE_URL="postgresql:///cora?host=$T/no-postgres&user=cora_app"
isnt "$RUN_STATUS" 0 "production, the projector's database unreachable: check exits non-zero"
LOGFILE=$RUN_LOG ok "... refused: cannot connect to PROJECTOR_DATABASE_URL" \
	log_has startup.refused '.gate == "database" and (.reason | test("cannot connect to PROJECTOR_DATABASE_URL"))'
corad_run check-proj-app check "${PROD[@]}" DATABASE_URL="$PG_APP_URL" \
	PROJECTOR_DATABASE_URL="$PG_APP_URL&application_name=x"
is "$RUN_STATUS" 0 "production, the projector as cora_app by another string: check exits 0"
# The projector only reads events: a role that cannot append them, with
# what projecting and pruning write, passes, and projects.
q "CREATE ROLE cora_proj LOGIN; GRANT USAGE ON SCHEMA public TO cora_proj;
   GRANT SELECT ON events, actor_profile, corad_schema_migrations TO cora_proj;
   GRANT SELECT, INSERT, UPDATE, DELETE
       ON projection_bookmarks, proj_access_actor_summary, proj_caution_summary TO cora_proj;
   GRANT SELECT, DELETE ON idempotency_keys TO cora_proj;" >/dev/null
PROJ_URL="postgresql:///cora?host=$PGHOST&user=cora_proj"
corad_run check-proj-reader check "${PROD[@]}" DATABASE_URL="$PG_APP_URL" PROJECTOR_DATABASE_URL="$PROJ_URL"
is "$RUN_STATUS" 0 "production, the projector as a role that cannot append events: check exits 0"
LOGFILE=$RUN_LOG nok "... with no startup.refused" log_has startup.refused
corad_stop TERM 15
if corad_start DATABASE_URL="$PG_APP_URL" PROJECTOR_DATABASE_URL="$PROJ_URL" \
	PROJECTION_POLL_INTERVAL_SECONDS=0.2; then
	pass "corad serve, the projector as that role"
	http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Grace"}'
	is "$HTTP_STATUS" 201 "... register an actor"
	GRACE=$(json_value "$HTTP_BODY" .actor_id)
	listed() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$GRACE'") == 1 ]]; }
	ok "... the projector projects it" wait_until 5 listed
	nok "... and logs no projection.error" log_has projection.error
else
	fail "corad serve, the projector as that role"
fi
corad_stop TERM 15
corad_start DATABASE_URL="$PG_APP_URL" || bail "corad serve starts as cora_app again"

# Every failing gate is reported, each on its own line.
corad_run check-all check APP_ENV=production DATABASE_URL="$PG_OWNER_URL"
isnt "$RUN_STATUS" 0 "production, nothing configured, owner: check exits non-zero"
for g in authenticated_principal authz_policy app_role; do
	cmp_ok "$(LOGFILE=$RUN_LOG log_count startup.refused ".gate == \"$g\"")" -ge 1 \
		"production, nothing configured, owner: a startup.refused line with gate $g"
done

# Outside production the same role problem is only a warning.
corad_run check-local-owner check APP_ENV=local DATABASE_URL="$PG_OWNER_URL"
is "$RUN_STATUS" 0 "local check as the owner exits 0"
LOGFILE=$RUN_LOG ok "local check as the owner: startup.warning with gate app_role" \
	log_has startup.warning '.gate == "app_role"'
LOGFILE=$RUN_LOG nok "local check as the owner: no startup.refused" log_has startup.refused

# --- the schema gate -------------------------------------------------------------
q "CREATE DATABASE cora2 OWNER cora_owner" >/dev/null
sql_as "postgresql:///cora2?host=$PGHOST&user=postgres" "ALTER SCHEMA public OWNER TO cora_owner" >/dev/null
CORA2_APP="postgresql:///cora2?host=$PGHOST&user=cora_app"
corad_run check-cora2 check "${PROD[@]}" DATABASE_URL="$CORA2_APP"
isnt "$RUN_STATUS" 0 "production check on an unmigrated database exits non-zero"
isnt "$RUN_STATUS" timeout "production check on an unmigrated database exits by itself"
LOGFILE=$RUN_LOG ok "unmigrated database: a startup.refused names the schema" \
	log_has startup.refused '.gate == "schema" or ([.. | strings] | any(test("schema|migrat"; "i")))'

# A schema one migration behind: only 0001 and 0002 applied.
mkdir -p "$T/sql12"
cp "$CORAD_SRCDIR"/sql/0001_*.sql "$CORAD_SRCDIR"/sql/0002_*.sql "$T/sql12/"
q "CREATE DATABASE cora3 OWNER cora_owner" >/dev/null
sql_as "postgresql:///cora3?host=$PGHOST&user=postgres" "ALTER SCHEMA public OWNER TO cora_owner" >/dev/null
CORA3_OWNER="postgresql:///cora3?host=$PGHOST&user=cora_owner"
if CORAD_MIGRATIONS_DIR=$T/sql12 DATABASE_OWNER_URL=$CORA3_OWNER "$CORAD_BIN" migrate >"$T/migrate3.log" 2>&1; then
	pass "cora3: migrations 0001 and 0002 applied"
else
	fail "cora3: migrations 0001 and 0002 applied" "$(cat "$T/migrate3.log")"
fi
corad_run check-cora3 check "${PROD[@]}" DATABASE_URL="$CORA3_OWNER"
isnt "$RUN_STATUS" 0 "production check on a schema one migration behind exits non-zero"
LOGFILE=$RUN_LOG ok "schema behind: startup.refused with gate schema" log_has startup.refused '.gate == "schema"'

# A schema ahead of the binary (a rollback): it starts, with a warning.
mkdir -p "$T/sqlnext"
cp "$CORAD_SRCDIR"/sql/*.sql "$T/sqlnext/"
NEXT=$(ls "$CORAD_SRCDIR"/sql/*.sql | wc -l)
printf 'CREATE TABLE future_feature (id int);\n' >"$T/sqlnext/$(printf '%04d' $((NEXT + 1)))_future.sql"
q "CREATE DATABASE cora4 OWNER cora_owner" >/dev/null
sql_as "postgresql:///cora4?host=$PGHOST&user=postgres" "ALTER SCHEMA public OWNER TO cora_owner" >/dev/null
if CORAD_MIGRATIONS_DIR=$T/sqlnext DATABASE_OWNER_URL="postgresql:///cora4?host=$PGHOST&user=cora_owner" \
	"$CORAD_BIN" migrate >"$T/migrate4.log" 2>&1; then
	pass "cora4: the shipped migrations and one more applied"
else
	fail "cora4: the shipped migrations and one more applied" "$(cat "$T/migrate4.log")"
fi
corad_run check-cora4 check "${PROD[@]}" DATABASE_URL="postgresql:///cora4?host=$PGHOST&user=cora_app"
is "$RUN_STATUS" 0 "production check on a schema one migration ahead exits 0"
LOGFILE=$RUN_LOG ok "schema ahead: a startup.warning says so" \
	log_has startup.warning ".gate == \"schema\" and .schema_version == $((NEXT + 1)) and .binary_schema_version == $NEXT"

# The gates do not wait for good behind a lock (a reload runs them in the
# master): their statements give up after 5 s.
ok "another session holds ACCESS EXCLUSIVE on corad_schema_migrations" \
	hold_lock corad_schema_migrations "ACCESS EXCLUSIVE"
t0=$(now_ms)
corad_run check-locked check "${PROD[@]}" DATABASE_URL="$PG_APP_URL"
ms=$(($(now_ms) - t0))
release_holder
isnt "$RUN_STATUS" 0 "a production check behind the lock is refused"
isnt "$RUN_STATUS" timeout "... by itself"
cmp_ok "$ms" -lt 9000 "... within the statements' 4 s limit (${ms} ms)"
LOGFILE=$RUN_LOG ok "... with the server's own message" \
	log_has startup.refused '.gate == "schema" and (.reason | test("statement timeout"))'

# A server that lets the check log in and never answers its statements (a
# frozen backend, a pooler out of server connections): the gates give up
# after their 5 s, as a reload in the master must.
BH=$T/blackhole/.s.PGSQL.5432
mkdir -p "$T/blackhole"
python3 "$E2E_DIR/pg_blackhole.py" "$BH" "$PGHOST/.s.PGSQL.${PGPORT:-5432}" &
EXTRA_PIDS+=($!)
wait_until 5 test -S "$BH" || fail "the silent server listens"
t0=$(now_ms)
corad_run check-silent check "${PROD[@]}" \
	DATABASE_URL="postgresql:///cora?host=$T/blackhole&user=cora_app&sslmode=disable&gssencmode=disable"
ms=$(($(now_ms) - t0))
isnt "$RUN_STATUS" 0 "a production check against a server that never answers is refused"
isnt "$RUN_STATUS" timeout "... by itself"
cmp_ok "$ms" -lt 8000 "... within the gates' 5 s (${ms} ms)"
LOGFILE=$RUN_LOG ok "... its app_role refusal says why" \
	log_has startup.refused '.gate == "app_role" and (.reason | test("did not answer in time"))'
LOGFILE=$RUN_LOG nok "... and no second refusal from the same silent session" log_has startup.refused '.gate == "schema"'

# GET /ready behind the same lock: a readiness probe gets 503 within the
# check's own 2 s, not the request timeout's 504 after 30 s.
ok "the lock again" hold_lock corad_schema_migrations "ACCESS EXCLUSIVE"
t0=$(now_ms)
http GET /ready
ms=$(($(now_ms) - t0))
release_holder
is "$HTTP_STATUS" 503 "GET /ready behind the lock: 503"
json_eq "$HTTP_BODY" '{"detail":"The database did not answer within 2 s"}' "... saying why"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "... with X-Correlation-Id"
cmp_ok "$ms" -ge 1900 "... after the check's 2 s (${ms} ms)"
cmp_ok "$ms" -lt 4000 "... and not much later"
http GET /ready
is "$HTTP_STATUS" 200 "GET /ready once the lock is gone: 200"

# GET /ready on the unmigrated database (not production: serve starts).
corad_stop TERM 15
if corad_start DATABASE_URL="$CORA2_APP"; then
	pass "corad serve starts on the unmigrated database outside production"
	http GET /ready
	is "$HTTP_STATUS" 503 "GET /ready on the unmigrated database: 503"
	[[ $HTTP_STATUS == 503 ]] || diag "body: $HTTP_BODY"
	is "$(hdr Content-Type)" application/json "GET /ready 503: application/json"
	json_is "$HTTP_BODY" 'type' object "GET /ready 503: a JSON object"
	like "$(hdr X-Correlation-Id)" "$UUID_RE" "GET /ready 503: X-Correlation-Id"
	json_is "$HTTP_BODY" .detail "Schema is not installed: run corad migrate" \
		"GET /ready 503: the detail says to migrate"
	# A worker prepares its statements in one pipeline; the log names the
	# first, which has no table to read here.
	LINE=$(log_select db.prepare_failed | head -n 1)
	json_is "$LINE" .statement load_stream "db.prepare_failed names the first statement"
	json_like "$LINE" .error 'relation "events" does not exist' \
		"db.prepare_failed carries the server's message"
	http GET /health
	is "$HTTP_STATUS" 200 "GET /health on the unmigrated database: 200"
	ok "startup.warning about the schema" \
		log_has startup.warning '.gate == "schema" or ([.. | strings] | any(test("schema|migrat"; "i")))'
else
	fail "corad serve starts on the unmigrated database outside production"
fi

# On the schema one migration behind, the statements of the first
# migrations prepare and the first that needs a later table fails: the
# log names it, not the pipeline's first.
corad_stop TERM 15
CORA3_APP="postgresql:///cora3?host=$PGHOST&user=cora_app"
if corad_start DATABASE_URL="$CORA3_APP"; then
	http GET /ready
	is "$HTTP_STATUS" 503 "GET /ready on the schema behind: 503"
	LINE=$(log_select db.prepare_failed | head -n 1)
	json_is "$LINE" .statement list_cautions \
		"schema behind: db.prepare_failed names the first statement that needs a later table"
	json_like "$LINE" .error 'relation "proj_caution_summary" does not exist' \
		"schema behind: db.prepare_failed carries the server's message"
	# The projector prepares its own and every projection's statements in
	# one pipeline too; its log names the projection of the one that failed.
	proj_failed() { log_has projection.error '.statement == "caution_registered"'; }
	ok "schema behind: projection.error names the statement" wait_until 5 proj_failed
	LINE=$(log_select projection.error '.statement == "caution_registered"' | head -n 1)
	json_is "$LINE" .projection proj_caution_summary "schema behind: projection.error names its projection"
else
	fail "corad serve starts on the schema behind outside production"
fi


# A reload to a database that cannot be reached, outside production, is
# refused, though at start it would only warn: the running pool keeps
# serving. DATABASE_URL comes from an env file here, which a reload reads
# again (a variable of the environment would win over the file).
corad_stop TERM 15
RELOAD_ENV=$T/reload.env
printf 'DATABASE_URL=%s\n' "$PG_APP_URL" >"$RELOAD_ENV"
REAL_CORAD=$CORAD_BIN
printf '#!/bin/sh\nexec env -u DATABASE_URL "%s" "$@" --env-file "%s"\n' "$REAL_CORAD" "$RELOAD_ENV" \
	>"$T/corad-envfile"
chmod +x "$T/corad-envfile"
CORAD_BIN=$T/corad-envfile
corad_start CORA_WORKERS=2 || fail "corad serve starts with DATABASE_URL from an env file"
CORAD_BIN=$REAL_CORAD
before=$(worker_pids)
printf 'DATABASE_URL=postgresql:///cora?host=%s/nowhere&user=cora_app\n' "$T" >"$RELOAD_ENV"
kill -HUP "$(master_pid)"
ok "a reload to an unreachable database: master.reload_refused, saying why" wait_until 10 \
	log_has master.reload_refused '.reason | test("cannot be reached")'
is "$(worker_pids | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$before")" "... the same workers serve"
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"After the refused reload"}'
is "$HTTP_STATUS" 201 "... and write"
printf 'DATABASE_URL=%s\nLOG_LEVEL=INFO\n' "$PG_APP_URL" >"$RELOAD_ENV"
kill -HUP "$(master_pid)"
ok "a reload back to the reachable one goes through" wait_until 10 log_has master.reloaded
corad_stop TERM 15

# Signals during the start-up gates, which the silent server holds for their
# 5 s: the master takes them once its handlers are in place. SIGHUP does not
# kill it: it reloads once it runs. SIGTERM in the gates of that reload
# stops it cleanly when they end (its projector, stuck on the silent server,
# abandons its step 1 s after the SIGTERM).
corad_launch DATABASE_URL="postgresql:///cora?host=$T/blackhole&user=cora_app&sslmode=disable&gssencmode=disable" \
	CORA_LISTEN="unix:$T/early.sock" CORA_RUNTIME_DIR="$T/run-early" CORA_WORKERS=1 \
	CORA_GRACEFUL_TIMEOUT_SECONDS=1
EARLY=$CORAD_PID
ok "serve is in its gates" wait_until 5 log_has startup.warning '.gate == "authz_policy"'
sleep 0.3
kill -HUP "$EARLY"
sleep 0.5
ok "SIGHUP during the gates: the master lives" alive "$EARLY"
ok "... and reloads once it runs" wait_until 15 log_has master.reloading
kill -TERM "$EARLY"
wait_exit "$EARLY" 30
is "$EXIT_STATUS" 0 "SIGTERM during the reload's gates: exit 0 once they end"
ok "... which says it stopped" log_has master.stopped ".pid == $EARLY"
# SIGTERM alone in the start-up gates: the master stops as soon as it runs,
# without starting a child or waiting out the graceful timeout (30 s).
corad_launch DATABASE_URL="postgresql:///cora?host=$T/blackhole&user=cora_app&sslmode=disable&gssencmode=disable" \
	CORA_LISTEN="unix:$T/early.sock" CORA_RUNTIME_DIR="$T/run-early" CORA_WORKERS=1
EARLY=$CORAD_PID
ok "serve is in its gates again" wait_until 5 log_has startup.warning '.gate == "authz_policy"'
t0=$(now_ms)
kill -TERM "$EARLY"
wait_exit "$EARLY" 20
ms=$(($(now_ms) - t0))
is "$EXIT_STATUS" 0 "SIGTERM during the gates: exit 0"
cmp_ok "$ms" -lt 9000 "... once the gates end, not after the graceful timeout (${ms} ms)"
nok "... having started no child" log_has master.child_started
ok "... and saying it stopped" log_has master.stopped ".pid == $EARLY"

done_testing
