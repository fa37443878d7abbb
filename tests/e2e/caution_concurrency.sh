#!/bin/bash
# shellcheck disable=SC2016  # jq programs with $variables, in single quotes
# Supersede writes two streams in one transaction: 50 rounds, each
# registering a parent and then firing 20 supersedes of it at once (distinct
# bodies, no Idempotency-Key; on odd rounds inserts into events are held back
# for 0.4 s so that several racers read the parent before any appends). Each round: exactly one 201 and 19 409s
# (the parent is no longer Active, or the optimistic concurrency conflict),
# exactly one child and one CautionSuperseded, and the child is the one the
# parent points at. Overall: no orphan child, no event from a loser.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_caution.sh"
need_tools flock
START_NS=$(date +%s%N)
db_setup

ROUNDS=${CAUTION_ROUNDS:-50}
RACERS=20

serve_db 4 LOG_LEVEL=INFO
wait_until 5 eval '[[ $(worker_count) == 4 ]]'

mkdir -p "$T/r"
: >"$T/rounds"
PARENT_BODY=$(cbody '.tags = ["race"]')
# The racers' bodies differ by their text (no jq per request: the machine
# has better things to do while the rounds run).
RACER_BODY=$(cbody '.text = "@TEXT@" | .severity = "Warning"')
bad=() five=0 stale=0 conflicts=0 CONFLICT_EXAMPLE=
for r in $(seq 1 "$ROUNDS"); do
	code=$(curl -sS --max-time 20 -o "$T/r/parent.body" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "$PARENT_BODY" "$BASE/cautions" 2>/dev/null)
	parent=$(jq -r .caution_id "$T/r/parent.body" 2>/dev/null)
	if [[ $code != 201 || ! $parent =~ $UUID7_RE ]]; then
		fail "round $r: the parent is registered" "got $code $(cat "$T/r/parent.body")"
		continue
	fi
	# On odd rounds a session holds events in EXCLUSIVE mode (reads go on,
	# inserts wait) for 0.4 s, so that several racers load the parent at
	# version 1 before any of them can append: they then race on the
	# append itself.
	holder=
	if [[ $((r % 2)) == 1 ]]; then
		psql -qAtX "$DB" -c "BEGIN" -c "LOCK TABLE events IN EXCLUSIVE MODE" -c "SELECT pg_sleep(0.4)" \
			-c "COMMIT" >/dev/null 2>&1 &
		holder=$!
		EXTRA_PIDS+=($!)
		wait_until 5 table_locked events ExclusiveLock || diag "round $r: the events lock was not seen"
	fi
	# The racers wait behind an exclusive flock the script holds until all
	# of them are started, then go at once.
	exec 9>"$T/r/gate"
	flock -x 9
	pids=()
	for i in $(seq 1 "$RACERS"); do
		flock -s "$T/r/gate" curl -s --max-time 20 -o "$T/r/$r.$i.body" -w '%{http_code}' -X POST \
			-H 'Content-Type: application/json' --data-binary "${RACER_BODY/@TEXT@/round $r racer $i}" \
			"$BASE/cautions/$parent/supersede" >"$T/r/$r.$i.code" 2>/dev/null 9>&- &
		pids+=($!)
		EXTRA_PIDS+=($!)
	done
	flock -u 9
	exec 9>&-
	for p in "${pids[@]}" $holder; do wait "$p" 2>/dev/null; done
	EXTRA_PIDS=()
	n201=0 n409=0 winner='' winner_text=''
	for i in $(seq 1 "$RACERS"); do
		code=$(<"$T/r/$r.$i.code")
		body=$(<"$T/r/$r.$i.body")
		case $code in
		201)
			n201=$((n201 + 1))
			[[ $body =~ \"caution_id\":\ ?\"([0-9a-f-]{36})\" ]] && winner=${BASH_REMATCH[1]}
			winner_text="round $r racer $i"
			;;
		409)
			n409=$((n409 + 1))
			if [[ $body =~ ^\{\"detail\":\ ?\"(.*)\"\}$ ]] &&
			    [[ ${BASH_REMATCH[1]} == "Caution $parent cannot be superseded: currently in status Superseded, supersede_caution requires Active" ]]; then
				stale=$((stale + 1))
			elif [[ ${BASH_REMATCH[1]:-} == "Optimistic concurrency conflict on stream Caution/$parent: expected version 1, found 2" ]]; then
				conflicts=$((conflicts + 1))
				CONFLICT_EXAMPLE=${BASH_REMATCH[1]}
			else
				bad+=("round $r racer $i: 409 $body")
			fi
			;;
		5*) five=$((five + 1)); bad+=("round $r racer $i: $code $body") ;;
		*) bad+=("round $r racer $i: $code $body") ;;
		esac
	done
	is "$n201 $n409" "1 $((RACERS - 1))" "round $r: one 201 and $((RACERS - 1)) 409s"
	echo "$r $parent ${winner:-none} $winner_text" >>"$T/rounds"
done
diag "409s: $stale saw the parent Superseded, $conflicts lost the append${CONFLICT_EXAMPLE:+ (e.g. $CONFLICT_EXAMPLE)}"
if [[ ${#bad[@]} -eq 0 ]]; then
	pass "every 409 names the Superseded parent or the optimistic concurrency conflict; no other status"
else
	fail "every 409 names the Superseded parent or the optimistic concurrency conflict; no other status" "${bad[@]:0:10}"
fi
is "$five" 0 "no 5xx in any round"
cmp_ok "$conflicts" -ge 1 "the append race happened: at least one racer got the optimistic concurrency 409"

# One query for every round: parent | children registered with its parent_id |
# CautionSuperseded in its stream | its superseded_by_caution_id | the child | the child's text.
VALUES=$(awk '{ printf "%s(%d, '"'"'%s'"'"'::uuid)", (NR > 1 ? "," : ""), $1, $2 }' "$T/rounds")
q "SELECT r.n, r.parent,
	(SELECT count(*) FROM events c WHERE c.event_type = 'CautionRegistered' AND c.payload->>'parent_id' = r.parent::text),
	(SELECT count(*) FROM events s WHERE s.stream_type = 'Caution' AND s.stream_id = r.parent AND s.event_type = 'CautionSuperseded'),
	(SELECT s.payload->>'superseded_by_caution_id' FROM events s WHERE s.stream_id = r.parent AND s.event_type = 'CautionSuperseded' LIMIT 1),
	(SELECT c.stream_id FROM events c WHERE c.event_type = 'CautionRegistered' AND c.payload->>'parent_id' = r.parent::text LIMIT 1),
	(SELECT c.payload->>'text' FROM events c WHERE c.event_type = 'CautionRegistered' AND c.payload->>'parent_id' = r.parent::text LIMIT 1)
	FROM (VALUES $VALUES) AS r(n, parent) ORDER BY r.n" >"$T/db.rounds"
while IFS='|' read -r n parent nchild nsup supby child text; do
	read -r _ _ winner wtext < <(awk -v n="$n" '$1 == n' "$T/rounds")
	is "$nchild $nsup" "1 1" "round $n: exactly one child event and one CautionSuperseded in the parent's stream"
	is "$supby $child" "$child $winner" "round $n: the parent's superseded_by_caution_id is the child, the one the 201 named"
	is "$text" "$wtext" "round $n: the child holds the winning request's body"
done <"$T/db.rounds"

is "$(q "SELECT count(*) FROM events c WHERE c.event_type = 'CautionRegistered' AND c.payload->>'parent_id' IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM events s WHERE s.stream_type = 'Caution' AND s.stream_id = (c.payload->>'parent_id')::uuid
	AND s.event_type = 'CautionSuperseded' AND s.payload->>'superseded_by_caution_id' = c.stream_id::text
	AND s.correlation_id = c.correlation_id)")" 0 \
	"no orphan child: every child's parent has a CautionSuperseded naming it, written by the same request"
is "$(q "SELECT count(*) FROM events WHERE stream_type = 'Caution'")" $((ROUNDS * 3)) \
	"$((ROUNDS * 3)) events: each round's parent, its CautionSuperseded and one child; nothing from a loser"
is "$(q "SELECT count(*) FROM entries_access_verdicts WHERE command_name = 'SupersedeCaution'")" "$ROUNDS" \
	"one SupersedeCaution verdict per round (the winner's)"
is "$(q "SELECT count(*) FROM events WHERE stream_type = 'Caution' AND version NOT IN (1, 2)")" 0 "no stream beyond version 2"
ok "the projection catches up" wait_until 10 caution_projected
is "$(q "SELECT status || ' ' || count(*) FROM proj_caution_summary GROUP BY status ORDER BY status" | tr '\n' ' ')" \
	"Active $ROUNDS Superseded $ROUNDS " "the projection: every parent Superseded, every child Active"
# --- supersede against retire ----------------------------------------------------------------
# 10 rounds: 5 supersedes and 5 retires of one parent at once (inserts held
# back on odd rounds as above). One of the ten wins; when a retire wins, no
# supersede may have left a child behind.
XR=${CAUTION_MIXED_ROUNDS:-10}
nsup_won=0 nret_won=0
: >"$T/mixed"
for r in $(seq 1 "$XR"); do
	code=$(curl -sS --max-time 20 -o "$T/r/parent.body" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "$PARENT_BODY" "$BASE/cautions" 2>/dev/null)
	parent=$(jq -r .caution_id "$T/r/parent.body" 2>/dev/null)
	[[ $code == 201 ]] || { fail "mixed round $r: the parent is registered" "got $code"; continue; }
	holder=
	if [[ $((r % 2)) == 1 ]]; then
		psql -qAtX "$DB" -c "BEGIN" -c "LOCK TABLE events IN EXCLUSIVE MODE" -c "SELECT pg_sleep(0.4)" \
			-c "COMMIT" >/dev/null 2>&1 &
		holder=$!
		EXTRA_PIDS+=($!)
		wait_until 5 table_locked events ExclusiveLock || diag "mixed round $r: the events lock was not seen"
	fi
	exec 9>"$T/r/gate"
	flock -x 9
	pids=()
	for i in $(seq 1 10); do
		if [[ $i -le 5 ]]; then
			url=$BASE/cautions/$parent/supersede
			data=${RACER_BODY/@TEXT@/mixed $r racer $i}
		else
			url=$BASE/cautions/$parent/retire
			data='{"reason":"NoLongerApplies"}'
		fi
		flock -s "$T/r/gate" curl -s --max-time 20 -o "$T/r/m$r.$i.body" -w '%{http_code}' -X POST \
			-H 'Content-Type: application/json' --data-binary "$data" "$url" >"$T/r/m$r.$i.code" 2>/dev/null 9>&- &
		pids+=($!)
		EXTRA_PIDS+=($!)
	done
	flock -u 9
	exec 9>&-
	for p in "${pids[@]}" $holder; do wait "$p" 2>/dev/null; done
	EXTRA_PIDS=()
	codes=$(for i in $(seq 1 10); do printf '%s ' "$(<"$T/r/m$r.$i.code")"; done)
	won=$(grep -oE '20[14]' <<<"$codes" | sort | tr '\n' ' ')
	n409=$(grep -oE '409' <<<"$codes" | grep -c . || true)
	is "$won$n409" "$(if [[ $won == "201 " ]]; then echo "201 9"; else echo "204 9"; fi)" \
		"mixed round $r: exactly one supersede or retire wins, 9 409s (codes: $codes)"
	[[ $won == "201 " ]] && nsup_won=$((nsup_won + 1))
	[[ $won == "204 " ]] && nret_won=$((nret_won + 1))
	echo "$r $parent ${won% }" >>"$T/mixed"
done
diag "mixed rounds: supersede won $nsup_won, retire won $nret_won"
VALUES=$(awk '{ printf "%s(%d, '"'"'%s'"'"'::uuid, '"'"'%s'"'"')", (NR > 1 ? "," : ""), $1, $2, $3 }' "$T/mixed")
is "$(q "SELECT string_agg(r.n || ':' || r.won, ' ' ORDER BY r.n) FROM (VALUES $VALUES) AS r(n, parent, won)
	WHERE (SELECT count(*) FROM events e WHERE e.stream_id = r.parent) <> 2
	   OR (SELECT count(*) FROM events c WHERE c.event_type = 'CautionRegistered'
		AND c.payload->>'parent_id' = r.parent::text) <> (CASE r.won WHEN '201' THEN 1 ELSE 0 END)
	   OR (SELECT event_type FROM events e WHERE e.stream_id = r.parent AND e.version = 2)
		<> (CASE r.won WHEN '201' THEN 'CautionSuperseded' ELSE 'CautionRetired' END)")" "" \
	"mixed rounds: each parent has exactly one transition, the winner's, and a child only when a supersede won"

is "$(q "SELECT count(*) FROM events c WHERE c.event_type = 'CautionRegistered' AND c.payload->>'parent_id' IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM events s WHERE s.stream_type = 'Caution' AND s.stream_id = (c.payload->>'parent_id')::uuid
	AND s.event_type = 'CautionSuperseded' AND s.payload->>'superseded_by_caution_id' = c.stream_id::text
	AND s.correlation_id = c.correlation_id)")" 0 "after every round: still no orphan child"

read -r _ P W _ < <(head -n 1 "$T/rounds")
http GET "/cautions/$P"
json_is "$HTTP_BODY" '[.status, .superseded_by_caution_id]' "[\"Superseded\",\"$W\"]" "GET the first parent: Superseded by its winner"
nok "no worker crashed" log_has master.child_exited '.kind == "worker"'
diag "elapsed: $((($(date +%s%N) - START_NS) / 1000000)) ms"

done_testing
