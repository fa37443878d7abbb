#!/bin/bash
# A command's transaction (doc/design.md, "Writes") is one pipeline that
# its Sync commits: without an Idempotency-Key no BEGIN or COMMIT reaches
# the server, with one BEGIN and COMMIT surround the rows and the key's
# fence. Either way a statement that fails leaves nothing of the command:
# a verdict the table refuses takes the profile row and the event queued
# before it with it, the client hears a JSON 500, the worker's session is
# idle again without a ROLLBACK, and the next command commits. With
# unnamed statements (DATABASE_POOL_MODE=transaction) the transaction's
# settings come first in it; a command stuck behind a lock is cancelled by
# the worker at the deadline, 504, with the transaction's statement_timeout
# a backstop behind it; one whose backend cannot act on the cancel gets a
# 504 that says the command may have been applied.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
. "$E2E_DIR/lib_mcp.sh"
db_setup

log_statements
serve_db 2

# executed OFFSET: the prepared statements the workers executed after byte
# OFFSET of the server's log, in order, on one line.
executed() { statements_run corad-worker "$1" | tr '\n' ' '; }
# keyed NAME KEY: POST /actors {"name": NAME} with an Idempotency-Key.
keyed() {
	http POST /actors -H 'Content-Type: application/json' -H "Idempotency-Key: $2" \
		--data-binary "$(jq -cn --arg n "$1" '{name: $n}')"
}
named() { q "SELECT count(*) FROM actor_profile WHERE name = '$1'"; }
idle() {
	[[ $(q "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'corad-worker' AND state <> 'idle'") == 0 ]]
}

# --- committed by the Sync ----------------------------------------------------------
off=$(pg_log_size)
register_name "Plain"
is "$HTTP_STATUS" 201 "POST /actors: 201"
is "$(named Plain)|$(q "SELECT count(*) FROM events WHERE stream_id = '$RID'")|$(q "SELECT count(*)
	FROM entries_access_verdicts WHERE correlation_id = '$(cid)'")" "1|1|1" \
	"... its profile row, its event and its verdict are committed"
is "$(executed "$off")" "profile_insert append_event insert_verdict " \
	"... the worker executed its three rows and no BEGIN or COMMIT"

off=$(pg_log_size)
keyed "Keyed" kw1
is "$HTTP_STATUS" 201 "POST /actors with an Idempotency-Key: 201"
like "$(executed "$off")" "(^| )begin profile_insert append_event insert_verdict idem_complete commit( |$)" \
	"... the rows and the key's fence between BEGIN and COMMIT"
is "$(named Keyed)" 1 "... its profile row is committed"

# --- a statement that fails --------------------------------------------------------------
q "ALTER TABLE entries_access_verdicts ADD CONSTRAINT refuse_register
	CHECK (command_name <> 'RegisterActor') NOT VALID" >/dev/null
before=$(rows)
off=$(pg_log_size)
register_name "Refused"
is "$HTTP_STATUS" 500 "the verdict refused: 500"
json_is "$HTTP_BODY" 'keys == ["detail"] and (.detail | type) == "string"' true "... a JSON body with a detail"
is "$(rows)|$(named Refused)" "$before|0" "... neither the event nor the profile row queued before it is kept"
ok "... logged db.statement_failed for insert_verdict, SQLSTATE 23514" \
	log_has db.statement_failed '.statement == "insert_verdict" and .sqlstate == "23514"'
is "$(executed "$off")" "profile_insert append_event insert_verdict " "... and no ROLLBACK was needed"
ok "... the worker's session is idle, in no transaction" wait_until 5 idle

off=$(pg_log_size)
keyed "Refused" kw2
is "$HTTP_STATUS" 500 "with an Idempotency-Key: 500"
is "$(rows)|$(named Refused)" "$before|0" "... nothing of the command is kept"
like "$(executed "$off")" "(^| )begin profile_insert append_event insert_verdict rollback( |$)" \
	"... the transaction block rolled back"
ok "... the worker's session is idle, in no transaction" wait_until 5 idle

q "ALTER TABLE entries_access_verdicts DROP CONSTRAINT refuse_register" >/dev/null
register_name "After"
is "$HTTP_STATUS" 201 "the constraint gone: 201"
is "$(named After)" 1 "... and its profile row is committed"

# --- unnamed statements (DATABASE_POOL_MODE=transaction) ---------------------------------
# The transaction's settings, its deadline among them, are its first
# statement and end with it: a statement behind a lock is cancelled at the
# deadline and nothing of the command is kept.
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 DATABASE_POOL_MODE=transaction \
	CORA_REQUEST_TIMEOUT_SECONDS=1 || bail "corad serve starts with DATABASE_POOL_MODE=transaction"
# sent OFFSET: the SQL of the workers' unnamed statements after OFFSET, a
# line each.
sent() {
	tail -c +"$(($1 + 1))" "$PG_DIR/server.log" |
		sed -nE 's/.* corad-worker: LOG:  execute <unnamed>: (.*)/\1/p'
}
register_name "Pooled"
off=$(pg_log_size)
register_name "Pooled 2"
is "$HTTP_STATUS" 201 "unnamed statements: 201"
is "$(sent "$off" | cut -c1-17 | tr '\n' '|')" \
	"SELECT set_config|INSERT INTO actor|INSERT INTO event|INSERT INTO entri|" \
	"... the settings, then the three rows, with no BEGIN or COMMIT"
like "$(sent "$off" | head -n 1)" "^SELECT set_config\\('statement_timeout', \\\$1, true\\)," \
	"... the deadline is local to the transaction"
before=$(rows)
ok "another session holds actor_profile" hold_lock actor_profile "ACCESS EXCLUSIVE"
off=$(pg_log_size)
register_name "Too late"
release_holder
is "$HTTP_STATUS" 504 "behind the lock: 504 at the deadline"
is "$(tail -c +"$((off + 1))" "$PG_DIR/server.log" |
	sed -nE 's/.* corad-worker: ERROR:  (canceling statement .*)/\1/p')" \
	"canceling statement due to user request" \
	"... cancelled by the worker's timer, the statement_timeout only a backstop behind it"
is "$(rows)|$(named "Too late")" "$before|0" "... and nothing of the command is kept"
ok "... the worker's session is idle, in no transaction" wait_until 5 idle
json_like "$HTTP_BODY" .detail '^Request exceeded 1 s and was cancelled' "... and says it was cancelled"
register_name "Pooled 3"
is "$HTTP_STATUS" 201 "the next command: 201"

# A server that cannot act on the cancel (its backend stopped): the worker
# cuts the session a second after the deadline, and the command, whose
# commit went with it, may yet be applied; the 504 must not say it was not.
BP=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'corad-worker'")
kill -STOP "$BP"
register_name "Frozen"
kill -CONT "$BP"
is "$HTTP_STATUS" 504 "a stopped backend: 504"
json_like "$HTTP_BODY" .detail \
	'^Request exceeded 1 s; the database did not confirm the cancel, so the command may have been applied \(correlation id ' \
	"... which says the command may have been applied"
ok "... worker.deadline says the outcome is unknown" \
	log_has worker.deadline ".outcome == \"unknown\" and .correlation_id == \"$(cid)\""
ok "the earlier one's outcome was known" log_has worker.deadline '.outcome == "cancelled"'
register_name "After the freeze"
is "$HTTP_STATUS" 201 "the next command, on a new session: 201"
# With an Idempotency-Key: the key is claimed, then the command waits on a
# lock and its backend is stopped there, so the cancel goes unheard and the
# session is cut. The 504 says cancelled (the rows wait behind the key's
# fence: no COMMIT was sent); the claim cannot be settled on the lost
# session, which is logged without a statement tried on it. (In this mode
# a retry takes the claim over after the stale time: idempotency.sh.)
ok "another session holds actor_profile" hold_lock actor_profile "ACCESS EXCLUSIVE"
curl -s -o "$T/kfrozen.body" -w '%{http_code}' --max-time 20 -X POST "$BASE/actors" \
	-H 'Content-Type: application/json' -H 'Idempotency-Key: kfrozen' \
	--data-binary '{"name":"Frozen keyed"}' >"$T/kfrozen.code" &
KF=$!
EXTRA_PIDS+=("$KF")
waiting() {
	BP=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'corad-worker'
	    AND wait_event_type = 'Lock'")
	[[ -n $BP ]]
}
ok "... the keyed command waits on it" wait_until 1 waiting
kill -STOP "$BP"
wait "$KF"
release_holder
kill -CONT "$BP"
is "$(cat "$T/kfrozen.code")" 504 "keyed, its backend stopped: 504"
json_like "$(cat "$T/kfrozen.body")" .detail '^Request exceeded 1 s and was cancelled' \
	"... cancelled: no COMMIT had been sent"
ok "... idempotency.settle_failed for its key" log_has idempotency.settle_failed '.key == "kfrozen"'
nok "... and no statement tried on the lost session" log_has db.disconnected '.error | test("NULL")'
is "$(named "Frozen keyed")" 0 "... nothing of the command is kept"
is "$(q "SELECT status FROM idempotency_keys WHERE key = 'kfrozen'")" in_progress \
	"... and its key stays in progress, for a retry to take over"

# Through MCP a tool's 5xx is a JSON-RPC error whose message holds the
# whole text, correlation id and all (longer with a timeout of 1.5 s).
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 DATABASE_POOL_MODE=transaction \
	CORA_REQUEST_TIMEOUT_SECONDS=1.5 || bail "corad serve starts with a 1.5 s deadline"
register_name "Before the MCP freeze"
BP=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'corad-worker'")
kill -STOP "$BP"
call "" register_actor '{"name":"Frozen over MCP"}'
kill -CONT "$BP"
rpc_error "MCP, a stopped backend" -32603 "$RPC_ID"
json_is "$HTTP_BODY" .error.message "The tool failed with status 504: {\"detail\":\"Request exceeded 1.5 s; the database did not confirm the cancel, so the command may have been applied (correlation id $(cid))\"}" \
	"... the message is the 504's whole detail"

# --- a server that stops answering after the commit ------------------------------------------
# The command commits, then the server stops answering as the
# Idempotency-Key's lock is released (a relay that goes silent at that
# statement): the client has its 201 all the same, and the worker, once the
# release's own second and the cancel's have passed and its session is
# cut, serves again.
mkdir -p "$T/stall"
python3 "$E2E_DIR/pg_blackhole.py" "$T/stall/.s.PGSQL.5432" "$PGHOST/.s.PGSQL.${PGPORT:-5432}" idem_unlock &
EXTRA_PIDS+=("$!")
wait_until 5 test -S "$T/stall/.s.PGSQL.5432" || bail "the relay listens"
corad_stop TERM
corad_start DATABASE_URL="postgresql:///cora?host=$T/stall&user=cora_app&sslmode=disable&gssencmode=disable" \
	CORA_WORKERS=1 || bail "corad serve starts behind the relay"
t0=$(now_ms)
http POST /actors -H 'Content-Type: application/json' -H 'Idempotency-Key: kstall' \
	--data-binary '{"name":"Stalled release"}' --max-time 10
ms=$(($(now_ms) - t0))
is "$HTTP_STATUS" 201 "the server silent at the key's release: 201"
cmp_ok "$ms" -lt 5000 "... within 5 s (${ms} ms)"
is "$(named "Stalled release")|$(q "SELECT status FROM idempotency_keys WHERE key = 'kstall'")" \
	"1|completed" "... committed, its key completed"
ok "... the worker's session is cut, in the request's trace" \
	log_has db.disconnected ".trace_id == \"$(nodash "$(cid)")\""
ok "... and the key's lock goes with it" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	    WHERE l.locktype = '"'advisory'"' AND a.application_name = '"'corad-worker'"'") == 0 ]]'
register_name "After the stalled release"
is "$HTTP_STATUS" 201 "the worker serves the next command"

q "ALTER ROLE cora_app RESET ALL" >/dev/null
done_testing
