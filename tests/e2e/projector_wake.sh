#!/bin/bash
# shellcheck disable=SC2016  # the eval strings are expanded when evaluated
# The projector wakes for every write (doc/design.md, "Projections" and
# "Writes"): after a burst of concurrent writes, plain and with
# Idempotency-Key, the actor list catches up within 1 s of the last write,
# with the default 5 s poll interval, on two instances sharing one database,
# on one alone, and on one that does not LISTEN. corad's writes send no
# NOTIFY: the leader's host wakes its projector over a socket, a standby's
# host relays at most one NOTIFY per 50 ms, and other writers still notify.
# A write that commits while the projector is inside its own transaction,
# or events held back behind a transaction that writes no event (a claim),
# must not leave it asleep until the next poll.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

nginx_server a
nginx_server b "s|unix:$T/corad.sock|unix:$T/b.sock|g"
nginx_start || bail "nginx starts"

start_instance() {	# name sock
	CORA_SOCK=$2 CORA_LISTEN=unix:$2 CORA_RUNTIME_DIR=$T/run-$1 CORAD_LOG=$T/corad-$1.log \
		corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 LOG_LEVEL=INFO
}
start_instance a "$T/corad.sock" || bail "instance a starts"
PID_A=$CORAD_PID
start_instance b "$T/b.sock" || bail "instance b starts"
PID_B=$CORAD_PID
pass "two instances share one database, each with the default poll interval (5 s)"

projected() { q "SELECT count(*) FROM proj_access_actor_summary"; }

# writer url n tag: n POST /actors, every other one with an Idempotency-Key;
# prints one status per line.
writer() {
	local url=$1 n=$2 tag=$3 i key
	for ((i = 0; i < n; i++)); do
		key=()
		((i % 2)) && key=(-H "Idempotency-Key: $tag-$i")
		curl -s -o /dev/null --max-time 20 -w '%{http_code}\n' -X POST "$url/actors" \
			-H 'Content-Type: application/json' "${key[@]}" \
			--data-binary "{\"name\":\"$tag $i\"}"
	done
}

# burst round urls...: 8 writers of 50 spread over the urls; then the time
# from the last answer until the projection holds every actor.
burst() {
	local round=$1 want got t_end t_caught w=0 pids=() u
	shift
	want=$(($(projected) + 400))
	for ((w = 0; w < 8; w++)); do
		u=${*:$((w % $# + 1)):1}
		writer "$u" 50 "r$round-w$w" >"$T/burst-$round-$w.out" 2>&1 &
		pids+=("$!")
		EXTRA_PIDS+=("$!")
	done
	for u in "${pids[@]}"; do wait "$u"; done
	t_end=$(now_ms)
	got=$(cat "$T"/burst-"$round"-*.out | grep -cx 201)
	is "$got" 400 "round $round: 400 writes answered 201"
	if wait_until 6 eval '[[ $(projected) -ge $want ]]'; then
		t_caught=$(now_ms)
		LAGS+=("$((t_caught - t_end))")
		cmp_ok "$((t_caught - t_end))" -le 1000 \
			"round $round: the list caught up $((t_caught - t_end)) ms after the last write (<= 1000)"
	else
		fail "round $round: the list caught up within 6 s" "projected $(projected) of $want"
	fi
}

LAGS=()
A=$(nginx_url a)
B=$(nginx_url b)
for r in 1 2 3; do burst "$r" "$A" "$B"; done
diag "two instances: catch-up after the last write (ms): ${LAGS[*]}"

# --- writes do not NOTIFY (design notes, "Writes") -------------------------------
# listen SECS FILE: a session that LISTENs events for SECS seconds, in the
# background (LISTENER), once it is listening.
listen() {
	psql -qAtX "$DB" >"$2" 2>&1 <<SQL &
LISTEN events;
SELECT pg_sleep($1);
SQL
	LISTENER=$!
	EXTRA_PIDS+=("$LISTENER")
	wait_until 5 eval '[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = '"'SELECT pg_sleep($1);'"'") == 1 ]]'
}
notifications() { grep -c '^Asynchronous notification "events"' "$1"; }
# sequential URL N TAG: N POST /actors one after the other; prints how many got 201.
sequential() {
	local i n=0
	for ((i = 0; i < $2; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$1/actors" -H 'Content-Type: application/json' \
			--data-binary "{\"name\":\"$3 $i\"}") == 201 ]] && n=$((n + 1))
	done
	echo "$n"
}
if LOGFILE=$T/corad-a.log log_has projection.leader; then LEAD=$A STANDBY=$B; else LEAD=$B STANDBY=$A; fi

ok "a session listens on events" listen 2 "$T/listen-leader.out"
want=$(($(projected) + 30))
is "$(sequential "$LEAD" 30 "Quiet")" 30 "30 writes through the leader's host: 201"
wait "$LISTENER"
is "$(notifications "$T/listen-leader.out")" 0 \
	"... and not one NOTIFY: the leader's own projector was woken over its socket"
ok "... and listed within 1 s" wait_until 1 eval '[[ $(projected) -ge $want ]]'

ok "a session listens on events again" listen 3 "$T/listen-standby.out"
want=$(($(projected) + 30))
t0=$(now_ms)
is "$(sequential "$STANDBY" 30 "Relayed")" 30 "30 writes through the standby's host: 201"
elapsed=$(($(now_ms) - t0))
ok "... listed within 1 s: the standby passed the wake-ups on" wait_until 1 eval '[[ $(projected) -ge $want ]]'
wait "$LISTENER"
n=$(notifications "$T/listen-standby.out")
cmp_ok "$n" -ge 1 "... as NOTIFY events ($n)"
cmp_ok "$n" -le $((elapsed / 50 + 2)) "... at most one per 50 ms ($n in $elapsed ms, not 30)"
is "$(grep '^Asynchronous notification "events"' "$T/listen-standby.out" | grep -vc 'payload "{}"')" 0 \
	"... each with the payload {}"

ok "a session listens on events once more" listen 1 "$T/listen-other.out"
q "INSERT INTO events (stream_type, stream_id, version, event_type, payload, occurred_at, event_id)
   VALUES ('Probe', gen_random_uuid(), 1, 'ProbeWritten', '{}', now(), gen_random_uuid())" >/dev/null
wait "$LISTENER"
like "$(cat "$T/listen-other.out")" 'payload "\{"position" : [0-9]+, "stream_type" : "Probe"' \
	"a writer other than corad still notifies, with the original payload"

corad_stop TERM
is "$EXIT_STATUS" 0 "instance b stops"
CORAD_PID=$PID_A
LAGS=()
for r in 4 5 6; do burst "$r" "$A"; done
diag "one instance: catch-up after the last write (ms): ${LAGS[*]}"
is "$(q "SELECT count(*) FROM idempotency_keys WHERE status <> 'completed'")" 0 \
	"no Idempotency-Key is left in progress"

# Without LISTEN the wake-up over the socket is all there is.
corad_stop TERM
is "$EXIT_STATUS" 0 "instance a stops"
CORAD_LOG=$T/corad-a.log CORA_SOCK=$T/corad.sock CORA_LISTEN=unix:$T/corad.sock \
	CORA_RUNTIME_DIR=$T/run-a corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 LOG_LEVEL=DEBUG \
	PROJECTION_USE_LISTEN_NOTIFY=false || bail "instance a starts without LISTEN"
LAGS=()
batches() { LOGFILE=$T/corad-a.log log_select projection.advance '.projection == "access_actor_summary"' | wc -l; }
before=$(batches)
t0=$(now_ms)
burst 7 "$A"
diag "one instance without LISTEN: catch-up after the last write (ms): ${LAGS[*]}"
# Every commit wakes the leader, but a round starts at most every 20 ms
# (doc/design.md, "Projections"): the burst's 400 actors come in batches.
n=$(($(batches) - before))
elapsed=$(($(now_ms) - t0))
cmp_ok "$n" -le $((elapsed / 20 + 2)) \
	"the burst was projected in $n batches over $elapsed ms: at most one round per 20 ms"

is_projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$1'") == 1 ]]; }
# caught desc id: once the holder's transaction ended (release_holder), the
# actor must be listed within 1 s (the poll interval is 5 s).
caught() {
	local t0
	release_holder
	t0=$(now_ms)
	if wait_until 6 is_projected "$2"; then
		cmp_ok "$(($(now_ms) - t0))" -le 1000 "$1: listed $(($(now_ms) - t0)) ms after the other session ended"
	else
		fail "$1: listed within 6 s"
	fi
}

# A write that commits while the projector is inside its own transaction:
# its wake-up comes while the projector waits for its batch. A session
# locks the projection table so that the projector's batch waits in it.
ok "another session locks the projection table" hold_lock proj_access_actor_summary EXCLUSIVE
register_name "During a batch 1"
first=$RID
ok "the projector's batch waits for the lock" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"' AND wait_event_type = '"'Lock'"'") -ge 1 ]]'
register_name "During a batch 2"
second=$RID
like "$second" "$UUID_RE" "a second actor is written while the batch waits"
caught "a write during the projector's transaction" "$second"
ok "... and the first one too" is_projected "$first"

# Events held back behind a transaction that writes no event: it ends
# without a wake-up, and the projector must look again on its own.
hold "SELECT pg_current_xact_id()"
ok "another transaction holds the snapshot horizon back" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND application_name = '"'corad-test-holder'"'") -ge 1 ]]'
register_name "Held back"
held=$RID
sleep 0.5
nok "the held-back actor is not listed while that transaction runs" is_projected "$held"
caught "an event held back behind a transaction without events" "$held"
nok "no projection.error on instance a" eval 'LOGFILE=$T/corad-a.log log_has projection.error'

done_testing
