#!/bin/bash
# The projector child: two corad instances on one database
# elect one projector with the advisory lock, and the other takes over when
# the leader's instance stops; a reset projection is rebuilt identically from
# the event store; an event from a transaction that commits after a later
# position is never skipped; projection.advance is logged at DEBUG.
#
# No nginx: requests go straight to each instance's FastCGI socket.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
need_tools cgi-fcgi
db_setup

LOG_A=$T/corad-a.log
LOG_B=$T/corad-b.log
SOCK_A=$T/a.sock
SOCK_B=$T/b.sock

# start_instance a|b: a corad of its own (socket, runtime dir, log).
start_instance() {
	local sock=$T/$1.sock
	CORA_SOCK=$sock CORA_LISTEN=unix:$sock CORA_RUNTIME_DIR=$T/run-$1 CORAD_LOG=$T/corad-$1.log \
		corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 PROJECTION_POLL_INTERVAL_SECONDS=0.2 \
		LOG_LEVEL=DEBUG
}
start_instance a || bail "instance a starts"
PID_A=$CORAD_PID
pass "instance a starts"
start_instance b || bail "instance b starts"
PID_B=$CORAD_PID
pass "instance b starts"

# freg SOCK NAME: POST /actors on that socket; sets RID.
freg() {
	local body="{\"name\":\"$2\"}"
	printf '%s' "$body" >"$T/freg.json"	# not a pipe: fcgi must run in this shell
	FCGI_SOCK=$1 fcgi REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors \
		QUERY_STRING= CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} <"$T/freg.json"
	RID=$(json_value "$FCGI_BODY" .actor_id)
	[[ $FCGI_STATUS == 201 && $RID =~ $UUID_RE ]]
}
# listed SOCK ID...: GET /actors?limit=100 on that socket lists every ID.
listed() {
	local sock=$1 id
	shift
	FCGI_SOCK=$sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI='/actors?limit=100' \
		QUERY_STRING=limit=100 CONTENT_LENGTH= </dev/null
	[[ $FCGI_STATUS == 200 ]] || return 1
	for id in "$@"; do
		jq -e --arg id "$id" 'any(.items[]; .actor_id == $id)' <<<"$FCGI_BODY" >/dev/null 2>&1 || return 1
	done
}
leaders() {	# leaders: "a b" for each instance whose log has projection.leader
	local s=
	LOGFILE=$LOG_A log_has projection.leader && s+="a "
	LOGFILE=$LOG_B log_has projection.leader && s+="b "
	echo "$s"
}

# --- one leader ---------------------------------------------------------------------
ok "a projector logs projection.leader within 5 s" wait_until 5 eval '[[ -n $(leaders) ]]'
sleep 1	# five poll intervals: a second leader would have shown up by now
L=$(leaders)
is "$L" "$(echo "$L" | awk '{ print $1 }') " "exactly one instance logs projection.leader"
is "$(($(LOGFILE=$LOG_A log_count projection.leader) + $(LOGFILE=$LOG_B log_count projection.leader)))" 2 \
	"projection.leader is logged once for each of the two projections"
if [[ $L == "b " ]]; then
	LEADER=b LEADER_PID=$PID_B OTHER=a OTHER_SOCK=$SOCK_A OTHER_LOG=$LOG_A
else
	LEADER=a LEADER_PID=$PID_A OTHER=b OTHER_SOCK=$SOCK_B OTHER_LOG=$LOG_B
fi
diag "leader: instance $LEADER"
is "$(LOGFILE=$T/corad-$LEADER.log log_select projection.leader | jq -r .projection | sort | tr '\n' ' ')" \
	"access_actor_summary proj_caution_summary " "projection.leader names each projection"

# Which host leads shows in /status and /metrics: 1 over the hosts.
# leads SOCK: "true 1" when that instance's projector leads.
leads() {
	local s m
	FCGI_SOCK=$1 fcgi REQUEST_METHOD=GET DOCUMENT_URI=/status REQUEST_URI=/status </dev/null
	s=$(json_value "$FCGI_BODY" .processes.projector.leader)
	FCGI_SOCK=$1 fcgi REQUEST_METHOD=GET DOCUMENT_URI=/metrics REQUEST_URI=/metrics </dev/null
	m=$(awk '$1 == "cora_projector_leader" { print $2 }' <<<"$FCGI_BODY")
	echo "$s $m"
}
is "$(leads "$T/$LEADER.sock")" "true 1" "the leader's /status and cora_projector_leader say it leads"
is "$(leads "$OTHER_SOCK")" "false 0" "the standby's say it does not"

ok "register through instance a" freg "$SOCK_A" "Via A"
ID_A=$RID
ok "register through instance b" freg "$SOCK_B" "Via B"
ID_B=$RID
ok "both are listed by instance a within 3 s" wait_until 3 listed "$SOCK_A" "$ID_A" "$ID_B"
ok "both are listed by instance b" listed "$SOCK_B" "$ID_A" "$ID_B"

# --- the leader stops: the other takes over -----------------------------------------
CORAD_PID=$LEADER_PID
t0=$(date +%s%N)
corad_stop TERM 15
is "$EXIT_STATUS" 0 "the leader's instance ($LEADER) stops on SIGTERM with status 0"
t1=$(date +%s%N)
if wait_until 3 eval 'LOGFILE=$OTHER_LOG log_has projection.leader'; then
	pass "instance $OTHER logs projection.leader within 3 s of the leader's exit"
else
	fail "instance $OTHER logs projection.leader within 3 s of the leader's exit"
fi
diag "stop took $(((t1 - t0) / 1000000)) ms, takeover $((($(date +%s%N) - t1) / 1000000)) ms after the exit"
is "$(leads "$OTHER_SOCK")" "true 1" "instance $OTHER's /status and cora_projector_leader now say it leads"
ok "register through instance $OTHER" freg "$OTHER_SOCK" "After failover"
ID_C=$RID
ok "the new actor is listed within 3 s" wait_until 3 listed "$OTHER_SOCK" "$ID_A" "$ID_B" "$ID_C"
CORAD_PID=$([[ $OTHER == a ]] && echo "$PID_A" || echo "$PID_B")
for i in 1 2 3 4 5; do freg "$OTHER_SOCK" "More $i"; done

# --- reset and rebuild --------------------------------------------------------------------
SNAP_SQL="SELECT actor_id,name,kind,status,created_at,updated_at,last_position FROM proj_access_actor_summary ORDER BY actor_id"
max_pos() { q "SELECT max(position) FROM events"; }
caught_up() { [[ $(q "SELECT last_position FROM projection_bookmarks WHERE projection_name = 'access_actor_summary'") == "$(max_pos)" ]]; }
# Deactivate and forget one so the rebuild covers every event type.
FCGI_SOCK=$OTHER_SOCK fcgi REQUEST_METHOD=POST DOCUMENT_URI="/actors/$ID_A/deactivate" \
	REQUEST_URI="/actors/$ID_A/deactivate" QUERY_STRING= CONTENT_LENGTH=0 </dev/null
is "$FCGI_STATUS" 204 "deactivate an actor"
FCGI_SOCK=$OTHER_SOCK fcgi REQUEST_METHOD=DELETE DOCUMENT_URI="/actors/$ID_B/profile" \
	REQUEST_URI="/actors/$ID_B/profile" QUERY_STRING= CONTENT_LENGTH= </dev/null
is "$FCGI_STATUS" 204 "forget an actor"
ok "the projection catches up within 5 s" wait_until 5 caught_up
# No caution was written: the caution projection's bookmark still moves past
# every event, so that its next batch does not read them again.
caution_bookmark() {
	q "SELECT last_position FROM projection_bookmarks WHERE projection_name = 'proj_caution_summary'"
}
caution_caught_up() { [[ $(caution_bookmark) == "$(max_pos)" ]]; }
ok "the caution projection's bookmark moves past the actor events it does not read" \
	wait_until 3 caution_caught_up
is "$(q "SELECT count(*) FROM proj_caution_summary")" 0 "... and projects none of them"
BEFORE=$(q "$SNAP_SQL")
is "$(count_lines "$BEFORE")" 8 "8 actors projected"
is "$(q "SELECT status || ' ' || name FROM proj_access_actor_summary WHERE actor_id IN ('$ID_A', '$ID_B') ORDER BY status")" \
	"active <deleted user>"$'\n'"deactivated Via A" "the deactivated and forgotten actors are projected"
if q "BEGIN; DELETE FROM proj_access_actor_summary;
	UPDATE projection_bookmarks SET last_transaction_id = '0', last_position = 0; COMMIT;" >"$T/reset.log" 2>&1; then
	pass "the projection is reset"
else
	fail "the projection is reset" "$(cat "$T/reset.log")"
fi
rebuilt() { [[ $(q "$SNAP_SQL") == "$BEFORE" ]]; }
wait_until 10 rebuilt
AFTER=$(q "$SNAP_SQL")
if [[ $AFTER == "$BEFORE" ]]; then
	pass "the rebuilt projection is identical to the one before the reset"
else
	fail "the rebuilt projection is identical to the one before the reset" \
		"$(diff <(echo "$BEFORE") <(echo "$AFTER"))"
fi

# --- out-of-order commits -----------------------------------------------------------------
AID=$(q "SELECT gen_random_uuid()")
BID=$(q "SELECT gen_random_uuid()")
# ev_sql ID: the INSERTs of an actor_profile row and its ActorRegisteredV2.
ev_sql() {
	cat <<EOF
INSERT INTO actor_profile (actor_id, name) VALUES ('$1', 'Out of order $1');
INSERT INTO events (stream_type, stream_id, version, event_type, schema_version, payload, metadata, occurred_at, event_id)
VALUES ('Actor', '$1', 1, 'ActorRegisteredV2', 1,
        jsonb_build_object('actor_id', '$1', 'kind', 'human',
                           'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        '{"command":"RegisterActor"}', now(), gen_random_uuid())
RETURNING position;
EOF
}
{ echo 'BEGIN;'; ev_sql "$AID"; echo 'SELECT pg_sleep(3);'; echo 'COMMIT;'; } >"$T/slow.sql"
psql -qAtX -v ON_ERROR_STOP=1 "$DB" -f "$T/slow.sql" >"$T/slow.out" 2>&1 &
SLOW=$!
EXTRA_PIDS+=("$SLOW")
ts=$(date +%s%N)
sleep 0.5
POS_B=$(q "$(ev_sql "$BID")")
like "$POS_B" '^[0-9]+$' "B's event is committed while A's transaction is still open"
sleep 1
if [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$BID'") == 1 ]]; then
	diag "B was projected before A committed"
else
	diag "B was not projected before A committed (held back by A's open transaction)"
fi
ok "A's transaction is still open 1.5 s in" alive "$SLOW"
wait_exit "$SLOW" 10
is "$EXIT_STATUS" 0 "A's transaction commits after pg_sleep(3)"
POS_A=$(head -n 1 "$T/slow.out")
diag "A committed $((($(date +%s%N) - ts) / 1000000)) ms after it began; position A $POS_A, B $POS_B"
cmp_ok "$POS_A" -lt "$POS_B" "A has the lower position but committed last"
both() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id IN ('$AID', '$BID')") == 2 ]]; }
ok "within 2 s of A's commit both A and B are projected" wait_until 2 both
BM=$(q "SELECT last_position FROM projection_bookmarks WHERE projection_name = 'access_actor_summary'")
cmp_ok "$BM" -ge "$POS_A" "the bookmark's last_position is >= A's position"
cmp_ok "$BM" -ge "$POS_B" "the bookmark's last_position is >= B's position"
is "$(q "SELECT name FROM proj_access_actor_summary WHERE actor_id = '$AID'")" "Out of order $AID" \
	"A is projected with its name from actor_profile"

# --- transaction ids past a power of ten ---------------------------------------------------
# The projector orders by transaction id as a number, not as the text it
# reads it back in: a backlog of more than one batch on both sides of
# 999 -> 1000 (or the next power of ten) is projected whole. Transaction ids
# are burnt up to 60 short of the boundary; the projector is held inside a
# batch while 150 actors commit, two transactions each, across it.
XID=$(q "SELECT pg_current_xact_id()")
BOUND=1000
while ((BOUND - 60 <= XID)); do BOUND=$((BOUND * 10)); done
for ((i = XID; i < BOUND - 60; i++)); do echo "SELECT pg_current_xact_id();"; done |
	psql -qAtX -v ON_ERROR_STOP=1 "$DB" >/dev/null
mapfile -t MANY < <(q "SELECT gen_random_uuid() FROM generate_series(1, 150)")
for id in "${MANY[@]}"; do ev_sql "$id"; done >"$T/many.sql"
ok "another session locks the projection table" hold_lock proj_access_actor_summary EXCLUSIVE
psql -qAtX -v ON_ERROR_STOP=1 "$DB" -f "$T/many.sql" >/dev/null
ok "the 150 actors were written while the projector's batch waits for the lock" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"' AND wait_event_type = '"'Lock'"'") -ge 1 ]]'
IN_MANY="'$(IFS=,; echo "${MANY[*]}" | sed "s/,/','/g")'"
is "$(q "SELECT min(transaction_id) < '$BOUND' AND max(transaction_id) >= '$BOUND'
	 FROM events WHERE stream_id IN ($IN_MANY)")" t "150 actors committed on both sides of transaction id $BOUND"
release_holder
many_projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id IN ($IN_MANY)") == 150 ]]; }
ok "all 150 are projected within 5 s of the lock's end" wait_until 5 many_projected

# --- projection.advance at DEBUG -------------------------------------------------------------
ADV=$(LOGFILE=$OTHER_LOG log_select projection.advance '.batch_size | type == "number" and . >= 1')
cmp_ok "$(count_lines "$ADV")" -ge 1 "projection.advance lines at LOG_LEVEL=DEBUG with a numeric batch_size >= 1"
json_is "$(head -n 1 <<<"$ADV")" .level debug "projection.advance is logged at level debug"
json_is "$(head -n 1 <<<"$ADV")" .projection access_actor_summary "projection.advance names the projection"
ok "projection.advance counts the events read, of every type, and those applied" \
	eval 'LOGFILE=$OTHER_LOG log_has projection.advance \
	"(.projection == \"proj_caution_summary\") and .batch_size == 0 and .events_read >= 1"'
ok "the rebuild advanced in one batch of all 10 events" \
	eval 'LOGFILE=$OTHER_LOG log_has projection.advance ".batch_size == 10"'

# --- a projector that does not wake up ------------------------------------------------
# Stopped while it waits (no step to be stuck in): /status and
# cora_projector_busy_seconds show it late within a second or two of its
# wait's end (0.2 s), and the master logs projector.stalled once it is 10 s
# late.
PROJ=$(children_named corad-projector "$CORAD_PID")
late() {
	FCGI_SOCK=$OTHER_SOCK fcgi REQUEST_METHOD=GET DOCUMENT_URI=/status REQUEST_URI=/status </dev/null
	LATE=$(json_value "$FCGI_BODY" .processes.projector.late_seconds)
	FCGI_SOCK=$OTHER_SOCK fcgi REQUEST_METHOD=GET DOCUMENT_URI=/metrics REQUEST_URI=/metrics </dev/null
	BUSY=$(awk '$1 == "cora_projector_busy_seconds" { print $2 }' <<<"$FCGI_BODY")
	[[ $LATE != null ]] && awk -v b="$BUSY" 'BEGIN { exit !(b >= 1) }'
}
is "$(late; echo "$LATE")" null "a waiting projector is not late"
kill -STOP "$PROJ"
ok "stopped: /status late_seconds and cora_projector_busy_seconds say it is late" wait_until 4 late
stalled() { LOGFILE=$OTHER_LOG log_has projector.stalled ".doing == \"not waking up from its wait\" and .late_seconds >= 10"; }
ok "... and the master logs projector.stalled once it is 10 s late" wait_until 15 stalled
kill -CONT "$PROJ"
ok "woken again, it is on time" wait_until 4 eval '! late && [[ $LATE == null ]]'

nok "no child of the surviving instance crashed" eval 'LOGFILE=$OTHER_LOG log_has master.child_exited'
nok "no projection.error logged" eval 'LOGFILE=$OTHER_LOG log_has projection.error'

done_testing
