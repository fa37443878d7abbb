#!/bin/bash
# The database goes away and comes back:
# requests that need it answer 503 {"detail":"Database unavailable"} with
# Retry-After, /health stays 200, /ready is 503; once PostgreSQL is back the
# same workers reconnect without a restart, and nothing was half-written.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

serve_db 2
MASTER=$CORAD_PID
wait_until 5 eval '[[ $(worker_count) == 2 ]]'
WORKERS=$(worker_pids | tr '\n' ' ')
is "$(worker_count)" 2 "two workers"

CREATED=0	# 201s received
counted() {	# counted NAME: register_name, counting the 201s in CREATED
	register_name "$1" && CREATED=$((CREATED + 1))
	return 0
}
# Enough requests that both workers have a live connection before the outage.
for i in 1 2 3 4; do
	counted "before $i"
	is "$HTTP_STATUS" 201 "before the outage: register $i is 201"
done
ID=$(json_value "$HTTP_BODY" .actor_id)
http GET "/actors/$ID"
is "$HTTP_STATUS" 200 "before the outage: GET is 200"
http GET /ready
is "$HTTP_STATUS" 200 "before the outage: GET /ready is 200"

# --- outage ------------------------------------------------------------------------
if pg_down; then pass "PostgreSQL stopped"; else fail "PostgreSQL stopped"; fi

# unavailable desc: HTTP_* is the database-unavailable 503, answered in time.
unavailable() {
	is "$HTTP_STATUS" 503 "$1: 503"
	json_eq "$HTTP_BODY" '{"detail":"Database unavailable"}' "$1: body"
	like "$(hdr Retry-After)" '^[1-9][0-9]*$' "$1: Retry-After is a positive number of seconds"
	is "$(hdr Content-Type)" application/json "$1: application/json"
	like "$(hdr X-Correlation-Id)" "$UUID_RE" "$1: X-Correlation-Id"
}
timed() {	# timed desc method path [curl options]: the request, answered within 10 s
	local t0 t1 desc=$1
	shift
	t0=$(date +%s%N)
	http "$@"
	t1=$(date +%s%N)
	cmp_ok $(((t1 - t0) / 1000000)) -lt 10000 "$desc: answered within 10 s"
}
# Each of these lands on one of the two workers; four of each reach both.
for i in 1 2 3 4; do
	timed "outage: POST /actors #$i" POST /actors -H 'Content-Type: application/json' --data-binary "{\"name\":\"during $i\"}"
	[[ $HTTP_STATUS == 201 ]] && CREATED=$((CREATED + 1))
	unavailable "outage: POST /actors #$i"
done
for i in 1 2 3; do
	timed "outage: GET /actors/{id} #$i" GET "/actors/$ID"
	unavailable "outage: GET /actors/{id} #$i"
done
http POST "/actors/$ID/deactivate"
unavailable "outage: POST /actors/{id}/deactivate"
http DELETE "/actors/$ID/profile"
unavailable "outage: DELETE /actors/{id}/profile"
http GET /health
is "$HTTP_STATUS" 200 "outage: GET /health is still 200"
json_is "$HTTP_BODY" .status ok "outage: GET /health body"
http GET /ready
is "$HTTP_STATUS" 503 "outage: GET /ready is 503"
json_is "$HTTP_BODY" 'type' object "outage: GET /ready answers JSON"
is "$(hdr Content-Type)" application/json "outage: GET /ready is application/json"
ok "outage: the master is still running" alive "$MASTER"
is "$(worker_pids | tr '\n' ' ')" "$WORKERS" "outage: the same workers are still running"

# --- recovery ---------------------------------------------------------------------
if pg_up; then pass "PostgreSQL started again"; else fail "PostgreSQL started again"; fi
t0=$(date +%s)
recovered() {
	counted "after"
	[[ $HTTP_STATUS == 201 ]]
}
if wait_until 15 recovered; then
	pass "POST /actors succeeds again within 15 s (after $(($(date +%s) - t0)) s)"
else
	fail "POST /actors succeeds again within 15 s" "last: $HTTP_STATUS $HTTP_BODY"
fi
# Each worker reconnects after its own backoff: wait until both are back,
# i.e. four registrations in a row succeed (each may land on either worker).
four_in_a_row() {
	local i
	for i in 1 2 3 4; do
		counted "after $i"
		[[ $HTTP_STATUS == 201 ]] || return 1
	done
}
if wait_until 15 four_in_a_row; then
	pass "after the outage: four registrations in a row are 201 (both workers back)"
else
	fail "after the outage: four registrations in a row are 201 (both workers back)" "last: $HTTP_STATUS $HTTP_BODY"
fi
http GET "/actors/$ID"
is "$HTTP_STATUS" 200 "after the outage: GET is 200"
json_is "$HTTP_BODY" '[.name, .active]' '["before 4",true]' "after the outage: the actor is intact"
http POST "/actors/$ID/deactivate"
is "$HTTP_STATUS" 204 "after the outage: deactivate is 204"
ready200() { http GET /ready; [[ $HTTP_STATUS == 200 ]]; }
ok "after the outage: GET /ready is 200 again" wait_until 15 ready200
is "$CORAD_PID" "$MASTER" "no corad restart: the same master"
ok "no corad restart: the master is alive" alive "$MASTER"
is "$(worker_pids | tr '\n' ' ')" "$WORKERS" "no worker restart: the same worker pids"
nok "no master.child_exited for a worker" log_has master.child_exited '.kind == "worker"'

# --- sessions the server ends ---------------------------------------------------------
# pg_terminate_backend (an administrator, a failover): the server sends each
# idle session a FATAL and closes it. Each worker notices before its next
# request's first statement and connects again: no request fails.
is "$(q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'cora_app'")" 3 \
	"the two workers' sessions and the projector's are ended"
sleep 0.5
for i in 1 2 3 4; do
	http GET "/actors/$ID"
	is "$HTTP_STATUS" 200 "after pg_terminate_backend: GET #$i is 200"
done
LINE=$(log_select db.notice '.logger == "corad.worker"' | head -n 1)
json_is "$LINE" '[.level, .severity, .sqlstate, .message]' \
	'["warning","FATAL","57P01","terminating connection due to administrator command"]' \
	"the server's FATAL is a db.notice line"
ok "... and db.disconnected says the server ended the session" \
	log_has db.disconnected '.error == "the server ended the session"'
is "$(grep -cv '^{' "$CORAD_LOG")" 0 "every line corad wrote is a JSON object (libpq prints nothing raw)"

# --- a database that answers but cannot write now ------------------------------------
# A read-only one (a standby after a failover, a disk guard): writes are
# 503 with Retry-After, to be tried again, not 500; reads still work.
q "ALTER ROLE cora_app SET default_transaction_read_only = on" >/dev/null
q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'cora_app'" >/dev/null
sleep 0.5
for i in 1 2; do
	counted "read-only $i"
	is "$HTTP_STATUS" 503 "read-only database: register #$i is 503"
	json_eq "$HTTP_BODY" '{"detail":"Database unavailable"}' "... {\"detail\":\"Database unavailable\"}"
	is "$(hdr Retry-After)" 1 "... with Retry-After: 1"
done
http GET "/actors/$ID"
is "$HTTP_STATUS" 200 "read-only database: GET is 200"
ok "... the failure is logged as a warning with its SQLSTATE" \
	log_has db.statement_failed '.level == "warning" and .sqlstate == "25006"'
q "ALTER ROLE cora_app RESET default_transaction_read_only" >/dev/null
# The server's own statement_timeout ends a write waiting on a lock: 503
# too, with the X-Correlation-Id every answer has (the request's deadline,
# 30 s here, stays 504).
q "ALTER ROLE cora_app SET statement_timeout = '300ms'" >/dev/null
q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'cora_app'" >/dev/null
ok "both workers connect again" connect_workers 2 curl -s -o /dev/null "$BASE/actors/$ID"
ok "another session holds actor_profile" hold_lock actor_profile "ACCESS EXCLUSIVE"
counted "timed out"
release_holder
is "$HTTP_STATUS" 503 "the server's statement_timeout: register is 503"
json_eq "$HTTP_BODY" '{"detail":"Database unavailable"}' "... {\"detail\":\"Database unavailable\"}"
is "$(hdr Retry-After)" 1 "... with Retry-After: 1"
like "$(cid)" "$UUID_RE" "... and an X-Correlation-Id"
ok "... logged as a warning with SQLSTATE 57014" \
	log_has db.statement_failed '.level == "warning" and .sqlstate == "57014"'
q "ALTER ROLE cora_app RESET statement_timeout" >/dev/null
q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'cora_app'" >/dev/null
sleep 0.5
counted "writable again"
is "$HTTP_STATUS" 201 "writable again: register is 201"

# --- nothing half-written ----------------------------------------------------------
is "$(q "SELECT count(*) FROM events WHERE event_type = 'ActorRegisteredV2'")" "$CREATED" \
	"ActorRegisteredV2 events == 201 responses ($CREATED)"
is "$(q "SELECT count(*) FROM actor_profile")" "$CREATED" "actor_profile rows == 201 responses"
is "$(q "SELECT count(*) FROM entries_access_verdicts WHERE command_name = 'RegisterActor'")" "$CREATED" \
	"RegisterActor verdicts == 201 responses"
is "$(q "SELECT count(*) FROM events e WHERE event_type = 'ActorRegisteredV2'
	AND NOT EXISTS (SELECT 1 FROM actor_profile p WHERE p.actor_id = e.stream_id)")" 0 \
	"every registered actor has its profile"
is "$(q "SELECT count(*) FROM events WHERE event_type = 'ActorDeactivated'")" 1 "exactly one ActorDeactivated"
is "$(q "SELECT count(*) FROM events WHERE event_type = 'ActorProfileForgotten'")" 0 "no ActorProfileForgotten"

done_testing
