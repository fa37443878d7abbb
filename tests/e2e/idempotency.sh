#!/bin/bash
# Idempotency-Key on POST /actors and DELETE
# /actors/{id}/profile against a real PostgreSQL: replay of a stored result
# (201, 204, 400 and 403) without running the handler again, the scope
# (principal, key, surface), a different body under the same key (422),
# concurrent identical requests (exactly one actor; the others wait with 409
# and Retry-After: 1), key length validation and the takeover of a stale lock.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
need_tools sha256sum
db_setup

# nginx passes the principal a stand-in authentication service vouches for.
nginx_server_auth main
nginx_start || bail "nginx starts"

P3=0190a1f4-7c3e-7d2a-9b1c-0000000c0ffe
HTTP_SURFACE=00000000-0000-0000-0000-000000000020

# P2 may not register; everything else is allowed.
cat >"$T/policy.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["RegisterActor"],"effect":"deny"}]}
EOF
# Keys older than IDEMPOTENCY_TTL_HOURS (24) are pruned by the projector, at
# its start and hourly: one from 25 hours ago goes, one from an hour ago stays.
q "INSERT INTO idempotency_keys (principal_id, key, surface_id, command_name, request_hash,
    status, response_status, created_at, completed_at) VALUES
    ('$P1', 'old', '$HTTP_SURFACE', 'RegisterActor', 'x', 'completed', 201, now() - interval '25 hours', now()),
    ('$P1', 'recent', '$HTTP_SURFACE', 'RegisterActor', 'x', 'completed', 201, now() - interval '1 hour', now())"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=4 AUTHZ_POLICY_FILE="$T/policy.json" ||
	bail "corad serve starts"
pass "corad serve starts with a policy that denies RegisterActor to P2"
old_gone() { [[ $(q "SELECT count(*) FROM idempotency_keys WHERE key = 'old'") == 0 ]]; }
ok "pruning: the key older than IDEMPOTENCY_TTL_HOURS is deleted" wait_until 10 old_gone
is "$(q "SELECT count(*) FROM idempotency_keys WHERE key = 'recent'")" 1 "pruning: a younger key stays"
ok "pruning: log idempotency.pruned with deleted 1 and ttl_hours 24" \
	log_has idempotency.pruned '.deleted == 1 and .ttl_hours == 24'

# reg PRINCIPAL KEY JSON [curl options...]: POST /actors with that key.
reg() {
	local p=$1 k=$2 body=$3
	shift 3
	as "$p" POST /actors -H 'Content-Type: application/json' -H "Idempotency-Key: $k" \
		--data-binary "$body" "$@"
}
key_row() {	# key_row PRINCIPAL KEY: status|response_status of the HTTP-surface row
	q "SELECT status || '|' || coalesce(response_status::text, '') FROM idempotency_keys
	   WHERE principal_id = '$1' AND key = '$2' AND surface_id = '$HTTP_SURFACE'"
}
# log_fields EVENT KEY CID: the idempotency log line's fields for that request.
log_fields() {
	log_select "$1" ".key == \"$2\" and .correlation_id == \"$3\"" |
		jq -c '[.command_name, .principal_id, .correlation_id, .key]' 2>/dev/null
}

# --- first request and replay ------------------------------------------------------
reg "$P1" k1 '{"name":"Ada"}'
is "$HTTP_STATUS" 201 "k1: first POST /actors is 201"
BODY1=$HTTP_BODY
X=$(json_value "$BODY1" .actor_id)
like "$X" "$UUID_RE" "k1: 201 body has an actor_id"
CID1=$(cid)
is "$(log_fields idempotency.claimed k1 "$CID1")" "[\"RegisterActor\",\"$P1\",\"$CID1\",\"k1\"]" \
	"k1: idempotency.claimed logged with command_name, principal_id, correlation_id, key"

reg "$P1" k1 '{"name":"Ada"}'
is "$HTTP_STATUS" 201 "k1: the same request again is 201"
is "$HTTP_BODY" "$BODY1" "k1: the replay has the same body (same actor_id)"
CID2=$(cid)
is "$(log_fields idempotency.cache_hit k1 "$CID2")" "[\"RegisterActor\",\"$P1\",\"$CID2\",\"k1\"]" \
	"k1: idempotency.cache_hit logged for the replay with its fields"
is "$(q "SELECT count(*) FROM events WHERE stream_id = '$X'")" 1 "k1: still exactly one event for the actor"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Ada'")" 1 "k1: one actor named Ada"
is "$(log_count register_actor.success ".correlation_id == \"$CID2\"")" 0 "k1: the replay did not run the handler"
is "$(key_row "$P1" k1)" "completed|201" "k1: idempotency_keys row completed with response_status 201"
is "$(q "SELECT count(*) || ' ' || min(command_name) FROM idempotency_keys WHERE principal_id = '$P1' AND key = 'k1'")" \
	"1 RegisterActor" "k1: one row, command_name RegisterActor"

# --- same key, different body ----------------------------------------------------------
reg "$P1" k1 '{"name":"Bob"}'
is "$HTTP_STATUS" 422 "k1 with a different body: 422"
json_eq "$HTTP_BODY" '{"detail":"Idempotency-Key '"'k1'"' was previously used with a different request body"}' \
	"k1 with a different body: detail"
CID3=$(cid)
is "$(log_fields idempotency.conflict k1 "$CID3")" "[\"RegisterActor\",\"$P1\",\"$CID3\",\"k1\"]" \
	"k1 with a different body: idempotency.conflict logged"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Bob'")" 0 "k1 with a different body: no actor Bob"

# --- another principal: another scope -----------------------------------------------
reg "$P3" k1 '{"name":"Ada"}'
is "$HTTP_STATUS" 201 "k1 as another principal: 201"
Y=$(json_value "$HTTP_BODY" .actor_id)
like "$Y" "$UUID_RE" "k1 as another principal: an actor_id"
isnt "$Y" "$X" "k1 as another principal: a new actor"
is "$(key_row "$P3" k1)" "completed|201" "k1 as another principal: its own idempotency_keys row"

# --- 20 concurrent identical requests ------------------------------------------------
NAME20="Concurrent-$$-$RANDOM"
BODY20="{\"name\":\"$NAME20\"}"
mkdir -p "$T/c20"
pids=()
for i in $(seq 1 20); do
	curl -sS --max-time 30 -o "$T/c20/body.$i" -D "$T/c20/hdr.$i" -w '%{http_code}' \
		-X POST -H "X-Principal-Id: $P1" -H 'Content-Type: application/json' \
		-H 'Idempotency-Key: k20' --data-binary "$BODY20" "$BASE/actors" \
		>"$T/c20/code.$i" 2>"$T/c20/err.$i" &
	pids+=($!)
	EXTRA_PIDS+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
EXP409='{"detail":"A request with Idempotency-Key '"'k20'"' is still being processed; retry later"}'
n201=0 n409=0 bad=() first201=
for i in $(seq 1 20); do
	code=$(cat "$T/c20/code.$i")
	body=$(cat "$T/c20/body.$i")
	ra=$(hdr Retry-After "$(tr -d '\r' <"$T/c20/hdr.$i")")
	if [[ $code == 201 ]]; then
		n201=$((n201 + 1))
		[[ -z $first201 ]] && first201=$body
		[[ $body == "$first201" ]] || bad+=("#$i: 201 with a different body: $body (first: $first201)")
	elif [[ $code == 409 ]]; then
		n409=$((n409 + 1))
		[[ $ra == 1 ]] || bad+=("#$i: 409 with Retry-After '$ra'")
		[[ $(jq -cS . <<<"$body" 2>/dev/null) == "$(jq -cS . <<<"$EXP409")" ]] ||
			bad+=("#$i: 409 body $body")
	else
		bad+=("#$i: status $code body $body $(cat "$T/c20/err.$i")")
	fi
done
diag "20 concurrent requests: $n201 x 201, $n409 x 409"
if [[ ${#bad[@]} -eq 0 ]]; then
	pass "k20: every response is 201 with the same body or 409 with Retry-After: 1 and the detail"
else
	fail "k20: every response is 201 with the same body or 409 with Retry-After: 1 and the detail" "${bad[@]}"
fi
cmp_ok "$n201" -ge 1 "k20: at least one 201"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = '$NAME20'")" 1 "k20: exactly one actor with that name"
A20=$(json_value "$first201" .actor_id)
is "$(q "SELECT count(*) FROM events e JOIN actor_profile p ON p.actor_id = e.stream_id WHERE p.name = '$NAME20'")" 1 \
	"k20: exactly one event for it"
is "$(q "SELECT actor_id FROM actor_profile WHERE name = '$NAME20'")" "$A20" "k20: the 201 body names that actor"
reg "$P1" k20 "$BODY20"
is "$HTTP_STATUS" 201 "k20: a retry after all finished is 201"
json_is "$HTTP_BODY" .actor_id "$A20" "k20: the retry replays the same actor_id"

# --- cached 4xx ------------------------------------------------------------------------
EXP400='{"detail":"Actor name must be 1-200 chars after trimming"}'
reg "$P1" k400 '{"name":"   "}'
is "$HTTP_STATUS" 400 "k400: whitespace-only name is 400"
json_eq "$HTTP_BODY" "$EXP400" "k400: detail"
B400=$HTTP_BODY
reg "$P1" k400 '{"name":"   "}'
is "$HTTP_STATUS" 400 "k400: again: 400"
is "$HTTP_BODY" "$B400" "k400: again: the same body"
CID=$(cid)
is "$(log_count idempotency.cache_hit ".key == \"k400\" and .correlation_id == \"$CID\"")" 1 \
	"k400: the second one is an idempotency.cache_hit"
is "$(key_row "$P1" k400)" "completed|400" "k400: stored with response_status 400"

deny_rows() {
	q "SELECT count(*) FROM entries_access_verdicts WHERE principal_id = '$P2' AND command_name = 'RegisterActor' AND decision = 'deny'"
}
reg "$P2" k403 '{"name":"Mallory"}'
is "$HTTP_STATUS" 403 "k403: P2 (denied by the policy) gets 403"
B403=$HTTP_BODY
json_is "$B403" '.detail | type' string "k403: detail is a string"
is "$(deny_rows)" 1 "k403: one deny verdict row"
reg "$P2" k403 '{"name":"Mallory"}'
is "$HTTP_STATUS" 403 "k403: again: 403"
is "$HTTP_BODY" "$B403" "k403: again: the same body"
CID=$(cid)
is "$(log_count idempotency.cache_hit ".key == \"k403\" and .correlation_id == \"$CID\"")" 1 \
	"k403: the second one is an idempotency.cache_hit"
is "$(deny_rows)" 1 "k403: still one deny verdict row (the replay was not authorized again)"
is "$(key_row "$P2" k403)" "completed|403" "k403: stored with response_status 403"

# --- key validation --------------------------------------------------------------------
EXPLEN='{"detail":"Idempotency-Key must be between 1 and 255 characters"}'
before=$(q "SELECT count(*) FROM events")
as "$P1" POST /actors -H 'Content-Type: application/json' -H 'Idempotency-Key;' \
	--data-binary '{"name":"Empty key"}'
is "$HTTP_STATUS" 400 "an empty Idempotency-Key: 400"
json_eq "$HTTP_BODY" "$EXPLEN" "an empty Idempotency-Key: detail"
K256=$(printf 'k%.0s' {1..256})
K255=${K256:1}
reg "$P1" "$K256" '{"name":"Long key"}'
is "$HTTP_STATUS" 400 "a 256-character Idempotency-Key: 400"
json_eq "$HTTP_BODY" "$EXPLEN" "a 256-character Idempotency-Key: detail"
is "$(q "SELECT count(*) FROM events")" "$before" "rejected keys wrote no event"
reg "$P1" "$K255" '{"name":"Long key"}'
is "$HTTP_STATUS" 201 "a 255-character Idempotency-Key: 201"
is "$(key_row "$P1" "$K255")" "completed|201" "the 255-character key is stored"
# The header's bytes are characters of Latin-1, as the original's
# framework decodes headers: a byte that is not UTF-8 is a character like
# any other, and two bytes of UTF-8 are two characters.
reg "$P1" $'caf\xe9' '{"name":"Latin key"}'
is "$HTTP_STATUS" 201 "an Idempotency-Key with the Latin-1 byte E9: 201"
LATIN_ID=$(json_value "$HTTP_BODY" .actor_id)
is "$(key_row "$P1" 'café')" "completed|201" "... stored as the character it is, é"
reg "$P1" $'caf\xe9' '{"name":"Latin key"}'
is "$HTTP_STATUS $(json_value "$HTTP_BODY" .actor_id)" "201 $LATIN_ID" "... and a retry replays it"
reg "$P1" 'café' '{"name":"Utf key"}'
is "$(key_row "$P1" 'cafÃ©')" "completed|201" "a key sent as UTF-8 é: the two characters Ã and ©"
K128=$(printf 'é%.0s' {1..128})
reg "$P1" "$K128" '{"name":"Long key"}'
is "$HTTP_STATUS" 400 "128 UTF-8 é (256 bytes, 256 characters to the original): 400"
json_eq "$HTTP_BODY" "$EXPLEN" "... with the length's detail"

# --- DELETE /actors/{id}/profile ---------------------------------------------------------
as "$P1" POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Forget me"}'
F1=$(json_value "$HTTP_BODY" .actor_id)
as "$P1" POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Forget me too"}'
F2=$(json_value "$HTTP_BODY" .actor_id)
forgotten() { q "SELECT count(*) FROM events WHERE stream_id = '$1' AND event_type = 'ActorProfileForgotten'"; }
as "$P1" DELETE "/actors/$F1/profile" -H 'Idempotency-Key: kdel'
is "$HTTP_STATUS" 204 "kdel: forget is 204"
as "$P1" DELETE "/actors/$F1/profile" -H 'Idempotency-Key: kdel'
is "$HTTP_STATUS" 204 "kdel: again with the same key: 204 (replayed, not 409)"
is "$HTTP_BODY" "" "kdel: the replay has no body"
CID=$(cid)
is "$(log_count idempotency.cache_hit ".key == \"kdel\" and .correlation_id == \"$CID\" and .command_name == \"ForgetActor\"")" 1 \
	"kdel: the replay is an idempotency.cache_hit for ForgetActor"
is "$(forgotten "$F1")" 1 "kdel: one ActorProfileForgotten event"
is "$(key_row "$P1" kdel)" "completed|204" "kdel: stored with response_status 204"
as "$P1" DELETE "/actors/$F2/profile" -H 'Idempotency-Key: kdel'
is "$HTTP_STATUS" 422 "kdel on another actor: 422 (a different command)"
json_eq "$HTTP_BODY" '{"detail":"Idempotency-Key '"'kdel'"' was previously used with a different request body"}' \
	"kdel on another actor: detail"
is "$(forgotten "$F2")" 0 "kdel on another actor: that actor was not forgotten"

nok "no worker crashed" log_has master.child_exited '.kind == "worker"'

# --- stale lock takeover ---------------------------------------------------------------
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 IDEMPOTENCY_LOCK_STALE_SECONDS=1 ||
	bail "corad restarts with IDEMPOTENCY_LOCK_STALE_SECONDS=1"
pass "corad restarts with IDEMPOTENCY_LOCK_STALE_SECONDS=1"
HASH=$(printf '%s' '{"kind": "human", "name": "Stale"}' | sha256sum | cut -d' ' -f1)
stale_row() {	# key: an in_progress claim as a worker leaves it
	q "INSERT INTO idempotency_keys (principal_id, key, surface_id, command_name, request_hash, status, locked_at)
		VALUES ('$P1', '$1', '$HTTP_SURFACE', 'RegisterActor', '$HASH', 'in_progress', now())" \
		>"$T/stale.log" 2>&1
}
advisory_locks() { q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7411003"; }

# The claimer's session is gone (a killed worker): its claim is taken over
# at once, without waiting for the stale time.
ok "kdead: an in_progress row whose session is gone" stale_row kdead
reg "$P1" kdead '{"name":"Stale"}'
is "$HTTP_STATUS" 201 "kdead: taken over at once: 201"
ok "kdead: logged as a takeover of a session that is gone" \
	log_has idempotency.claimed '.key == "kdead" and .reason == "took over the claim of a session that is gone"'
is "$(key_row "$P1" kdead)" "completed|201" "kdead: the row is completed with 201"
is "$(advisory_locks)" 0 "kdead: no advisory lock is left held once answered"

# The claimer's session is alive but stuck: 409 until the stale time.
ok "kstale: an in_progress row" stale_row kstale
psql -qAtX "$DB" -c "SELECT pg_advisory_lock(7411003, hashtext('$P1/$HTTP_SURFACE/kstale'))" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
EXTRA_PIDS+=($!)
HOLDER=$!
ok "kstale: a live session holds the key's lock" wait_until 10 eval '[[ $(advisory_locks) == 1 ]]'
reg "$P1" kstale '{"name":"Stale"}'
is "$HTTP_STATUS" 409 "kstale: while the lock is fresh: 409"
is "$(hdr Retry-After)" 1 "kstale: 409 has Retry-After: 1"
json_eq "$HTTP_BODY" '{"detail":"A request with Idempotency-Key '"'kstale'"' is still being processed; retry later"}' \
	"kstale: 409 detail"
sleep 1.5
reg "$P1" kstale '{"name":"Stale"}'
is "$HTTP_STATUS" 201 "kstale: after 1.5 s the stale lock is taken over: 201"
ok "kstale: logged as a stale takeover" \
	log_has idempotency.claimed '.key == "kstale" and .reason == "took over a stale lock"'
SID=$(json_value "$HTTP_BODY" .actor_id)
like "$SID" "$UUID_RE" "kstale: an actor_id"
is "$(key_row "$P1" kstale)" "completed|201" "kstale: the row is completed with 201"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Stale'")" 2 "kstale: one actor named Stale (and kdead's)"
reg "$P1" kstale '{"name":"Stale"}'
json_is "$HTTP_BODY" .actor_id "$SID" "kstale: a retry replays the same actor"
q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7411003" >/dev/null
wait "$HOLDER" 2>/dev/null
ok "kstale: once the holder is gone no advisory lock is held" wait_until 10 eval '[[ $(advisory_locks) == 0 ]]'

# The claim taken over while the command's transaction runs: the fence
# (doc/design.md, "Writes") reads the result row's count before COMMIT is
# sent, so nothing of the command is written, and the client hears 409.
# The lock is let go once the claim has been taken over, however long that
# takes. Both workers are connected first: a worker that connects while the
# table is locked waits in preparing its statements, before its claim.
ok "klost: both workers hold a database session" connect_workers 2 as "$P1" GET "/actors?limit=1"
ok "klost: another session holds actor_profile" hold_lock actor_profile "ACCESS EXCLUSIVE"
(
	if wait_until 10 eval '[[ -n $(key_row "$P1" klost) ]]'; then
		q "UPDATE idempotency_keys SET locked_at = locked_at - interval '1 hour' WHERE key = 'klost'"
	else
		echo "# klost: no claim row within 10 s" >&2
	fi
	release_holder >/dev/null
) &
TAKER=$!
EVENTS_BEFORE=$(q "SELECT count(*) FROM events")
reg "$P1" klost '{"name":"Lost"}'
wait "$TAKER"
release_holder
is "$HTTP_STATUS" 409 "klost: the claim was taken over while it waited: 409"
is "$(hdr Retry-After)" 1 "klost: 409 has Retry-After: 1"
json_eq "$HTTP_BODY" '{"detail":"A request with Idempotency-Key '"'klost'"' is still being processed; retry later"}' \
	"klost: 409 detail"
ok "klost: logged idempotency.claim_lost" log_has idempotency.claim_lost '.key == "klost"'
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Lost'")" 0 "klost: no profile row was committed"
is "$(q "SELECT count(*) FROM events")" "$EVENTS_BEFORE" "klost: no event was committed"
is "$(key_row "$P1" klost)" "in_progress|" "klost: the row stays the taker's, in progress"

# A 4xx whose settling fails (here the row cannot be updated) still reaches
# the client, and the log says the key stays in progress.
q "REVOKE UPDATE ON idempotency_keys FROM cora_app" >/dev/null
as "$P1" DELETE "/actors/01900000-0000-7000-8000-00000000dead/profile" -H 'Idempotency-Key: kunsettled'
is "$HTTP_STATUS" 404 "kunsettled: forget of an unknown actor is 404"
ok "... idempotency.settle_failed is logged" \
	log_has idempotency.settle_failed '.key == "kunsettled" and .level == "warning"'
is "$(key_row "$P1" kunsettled)" "in_progress|" "... and the key stays in progress"
q "GRANT UPDATE ON idempotency_keys TO cora_app" >/dev/null

nok "no worker crashed after the restart" log_has master.child_exited '.kind == "worker"'

done_testing
