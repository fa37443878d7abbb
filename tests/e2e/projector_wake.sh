#!/bin/bash
# shellcheck disable=SC2016  # the eval strings are expanded when evaluated
# The projector wakes for every write (design notes, "Projections"): after
# a burst of concurrent writes, plain and with Idempotency-Key, the actor
# list catches up within 1 s of the last write, with the default 5 s poll
# interval, on two instances sharing one database and on one alone. A
# notification that arrives with the projector's own COMMIT reply, or
# events held back behind a transaction that writes no event (a claim),
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

corad_stop TERM
is "$EXIT_STATUS" 0 "instance b stops"
CORAD_PID=$PID_A
LAGS=()
for r in 4 5 6; do burst "$r" "$A"; done
diag "one instance: catch-up after the last write (ms): ${LAGS[*]}"
is "$(q "SELECT count(*) FROM idempotency_keys WHERE status <> 'completed'")" 0 \
	"no Idempotency-Key is left in progress"

is_projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$1'") == 1 ]]; }
# caught desc id holder-pid: once the holder's transaction ended, the actor
# must be listed within 1 s (the poll interval is 5 s).
caught() {
	local t0
	wait "$3" 2>/dev/null
	t0=$(now_ms)
	if wait_until 6 is_projected "$2"; then
		cmp_ok "$(($(now_ms) - t0))" -le 1000 "$1: listed $(($(now_ms) - t0)) ms after the other session ended"
	else
		fail "$1: listed within 6 s"
	fi
}

# A write that commits while the projector is inside its own transaction:
# its NOTIFY comes together with the projector's COMMIT reply. A session
# locks the projection table so that the projector's batch waits in it.
psql -qAtX "$DB" >/dev/null 2>&1 <<'SQL' &
BEGIN;
LOCK TABLE proj_access_actor_summary IN EXCLUSIVE MODE;
SELECT pg_sleep(2);
COMMIT;
SQL
holder=$!
EXTRA_PIDS+=("$holder")
ok "another session locks the projection table" \
	wait_until 5 table_locked proj_access_actor_summary ExclusiveLock
register_name "During a batch 1"
first=$RID
ok "the projector's batch waits for the lock" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"' AND wait_event_type = '"'Lock'"'") -ge 1 ]]'
register_name "During a batch 2"
second=$RID
like "$second" "$UUID_RE" "a second actor is written while the batch waits"
caught "a write during the projector's transaction" "$second" "$holder"
ok "... and the first one too" is_projected "$first"

# Events held back behind a transaction that writes no event: it ends
# without a NOTIFY, and the projector must look again on its own.
psql -qAtX "$DB" >/dev/null 2>&1 <<'SQL' &
BEGIN;
SELECT pg_current_xact_id();
SELECT pg_sleep(2);
COMMIT;
SQL
holder=$!
EXTRA_PIDS+=("$holder")
ok "another transaction holds the snapshot horizon back" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND query LIKE '"'%pg_sleep(2)%'"'") -ge 1 ]]'
register_name "Held back"
held=$RID
sleep 0.5
nok "the held-back actor is not listed while that transaction runs" is_projected "$held"
caught "an event held back behind a transaction without events" "$held" "$holder"
nok "no projection.error on instance a" eval 'LOGFILE=$T/corad-a.log log_has projection.error'

done_testing
