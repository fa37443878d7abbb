#!/bin/bash
# Concurrent commands: two simultaneous deactivations
# (or forgets) of one actor give exactly one 204 and one 409 and exactly one
# event; simultaneous registrations give distinct actors, each written once.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

serve_db 4
wait_until 5 eval '[[ $(worker_count) == 4 ]]'

mkdir -p "$T/par"

# bg name method path [curl options...]: one request in the background; its
# status goes to $T/par/name.status, its body to $T/par/name.body.
BG_PIDS=()
bg() {
	local name=$1 method=$2 path=$3
	shift 3
	curl -s --max-time 20 -o "$T/par/$name.body" -w '%{http_code}' -X "$method" "$@" "$BASE$path" \
		>"$T/par/$name.status" 2>/dev/null &
	BG_PIDS+=($!)
	EXTRA_PIDS+=($!)
}
bg_wait() {	# waits for every background request (each has a 20 s limit)
	local p
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	BG_PIDS=()
}
st() { cat "$T/par/$1.status" 2>/dev/null; }
body() { cat "$T/par/$1.body" 2>/dev/null; }

# race verb method path-suffix event-type already-detail-suffix rounds:
# each round registers an actor and sends the same command twice at once.
race() {
	local verb=$1 method=$2 suffix=$3 evtype=$4 already=$5 rounds=$6
	local r id ids=() a b pair loser conflicts=0 five=0 CONFLICT_DETAIL=
	for r in $(seq 1 "$rounds"); do
		register_name "$verb race $r"
		id=$RID
		[[ $id =~ $UUID7_RE ]] || { fail "$verb round $r: register" "got $HTTP_STATUS $HTTP_BODY"; continue; }
		ids+=("$id")
		bg "$verb-$r-a" "$method" "/actors/$id$suffix"
		bg "$verb-$r-b" "$method" "/actors/$id$suffix"
		bg_wait
		a=$(st "$verb-$r-a")
		b=$(st "$verb-$r-b")
		pair=$(printf '%s\n%s\n' "$a" "$b" | sort | tr '\n' ' ')
		is "$pair" "204 409 " "$verb round $r: one 204 and one 409"
		loser=
		[[ $a == 409 ]] && loser=$(body "$verb-$r-a")
		[[ $b == 409 ]] && loser=$(body "$verb-$r-b")
		if [[ -n $loser ]]; then
			# The loser either saw the first command's event or lost the
			# append to it (optimistic concurrency).
			json_like "$loser" .detail \
				"^(Actor $id $already|Optimistic concurrency conflict on stream Actor/$id: expected version [0-9]+, found [0-9]+)\$" \
				"$verb round $r: the 409 body"
			if [[ $(json_value "$loser" .detail) == Optimistic* ]]; then
				conflicts=$((conflicts + 1))
				CONFLICT_DETAIL=$(json_value "$loser" .detail)
			fi
		fi
		[[ $a == 5* || $b == 5* ]] && five=$((five + 1))
	done
	diag "$verb: $conflicts of $rounds losers got the optimistic-concurrency 409${CONFLICT_DETAIL:+, e.g. $CONFLICT_DETAIL}"
	is "$five" 0 "$verb: no 5xx in any round"
	local list
	list=$(printf "'%s'," "${ids[@]}")
	list=${list%,}
	is "$(q "SELECT count(*) FROM events WHERE event_type = '$evtype' AND stream_id IN ($list)")" "${#ids[@]}" \
		"$verb: ${#ids[@]} $evtype events for ${#ids[@]} actors"
	is "$(q "SELECT count(*) FROM (SELECT stream_id FROM events WHERE event_type = '$evtype'
		AND stream_id IN ($list) GROUP BY stream_id HAVING count(*) = 1) s")" "${#ids[@]}" \
		"$verb: exactly one $evtype event per actor"
	is "$(q "SELECT count(*) FROM events WHERE stream_id IN ($list) AND version <> 2 AND event_type = '$evtype'")" 0 \
		"$verb: every $evtype is version 2"
	RACE_IDS=("${ids[@]}")
}

race deactivate POST /deactivate ActorDeactivated "is already deactivated" 10
http GET "/actors/${RACE_IDS[0]}"
json_is "$HTTP_BODY" .active false "deactivate: the actor reads as deactivated"

race forget DELETE /profile ActorProfileForgotten "profile is already forgotten" 5
list=$(printf "'%s'," "${RACE_IDS[@]}")
is "$(q "SELECT count(*) FROM actor_profile WHERE actor_id IN (${list%,})")" 0 "forget: every raced profile is gone"
http GET "/actors/${RACE_IDS[0]}"
json_is "$HTTP_BODY" .name "<deleted user>" "forget: the actor reads as forgotten"

# --- 20 registrations at once ------------------------------------------------------------
before_ev=$(q "SELECT count(*) FROM events")
before_pr=$(q "SELECT count(*) FROM actor_profile")
for i in $(seq 1 20); do
	bg "reg-$i" POST /actors -H 'Content-Type: application/json' --data-binary "{\"name\":\"Parallel $i\"}"
done
bg_wait
statuses=$(for i in $(seq 1 20); do st "reg-$i"; echo; done | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
is "$statuses" "201x20 " "20 concurrent registrations: all 201"
reg_ids=$(for i in $(seq 1 20); do json_value "$(body "reg-$i")" .actor_id; done)
is "$(grep -cE "$UUID7_RE" <<<"$reg_ids")" 20 "20 concurrent registrations: 20 UUIDv7 actor ids"
is "$(sort -u <<<"$reg_ids" | grep -cE "$UUID7_RE")" 20 "20 concurrent registrations: 20 distinct actor ids"
list=$(sed "s/.*/'&'/" <<<"$reg_ids" | paste -sd, -)
is "$(q "SELECT count(*) FROM events WHERE event_type = 'ActorRegisteredV2' AND stream_id IN ($list)")" 20 \
	"20 concurrent registrations: 20 ActorRegisteredV2 events, one per id"
is "$(q "SELECT count(DISTINCT stream_id) FROM events WHERE stream_id IN ($list)")" 20 \
	"20 concurrent registrations: 20 distinct streams"
is "$(q "SELECT count(*) FROM actor_profile WHERE actor_id IN ($list)")" 20 "20 concurrent registrations: 20 profile rows"
is "$(q "SELECT count(DISTINCT name) FROM actor_profile WHERE actor_id IN ($list)")" 20 \
	"20 concurrent registrations: each profile has its own name"
is "$(($(q "SELECT count(*) FROM events") - before_ev))" 20 "20 concurrent registrations: exactly 20 new events"
is "$(($(q "SELECT count(*) FROM actor_profile") - before_pr))" 20 "20 concurrent registrations: exactly 20 new profile rows"
is "$(q "SELECT count(*) = count(DISTINCT event_id) FROM events")" t "event ids are unique"
nok "no worker crashed" log_has master.child_exited '.kind == "worker"'

done_testing
