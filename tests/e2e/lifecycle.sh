#!/bin/bash
# shellcheck disable=SC2016  # the eval strings are expanded when evaluated
# Worker lifecycle against a real PostgreSQL:
# CORA_MAX_REQUESTS recycles workers without failing a request, each
# successor accepting before its predecessor leaves; CORA_REQUEST_TIMEOUT_
# SECONDS cancels a statement stuck behind a lock (JSON 504, nothing
# written, the worker lives on) and the master kills a worker still busy
# 5 s past the deadline (a very slow upload), logging what it was doing.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
db_setup

nginx_server main
# No body limit and no request buffering: corad reads the upload while it
# arrives (the worker is busy for as long as the client takes).
nginx_server stream \
	's|client_max_body_size 1m;|client_max_body_size 0; fastcgi_request_buffering off;|'
nginx_start || bail "nginx starts"
S=$(nginx_url stream)

metric_int() { local v; v=$(metric "$1"); printf '%d' "${v%%.*}" 2>/dev/null || echo "$v"; }
RECYCLE='cora_worker_restarts_total{reason="recycle"}'
TIMEOUT='cora_worker_restarts_total{reason="timeout"}'

# --- 8. CORA_MAX_REQUESTS ------------------------------------------------------------
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 CORA_MAX_REQUESTS=20 ||
	bail "corad starts with CORA_MAX_REQUESTS=20"
initial=$(worker_pids)
N=100
for ((i = 0; i < N; i++)); do
	curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' "$BASE/health"
done >"$T/statuses" 2>&1
is "$(wc -l <"$T/statuses")" "$N" "CORA_MAX_REQUESTS=20: all $N sequential GET /health were answered"
is "$(grep -vx 200 "$T/statuses" | sort | uniq -c | tr '\n' ' ')" "" "... all with 200"
recycles=$(log_count worker.recycle)
cmp_ok "$recycles" -ge 2 "log: worker.recycle ($recycles times)"
ok "log: worker.recycle says requests >= 20" log_has worker.recycle '.requests >= 20 and .requests <= 22'
nok "log: no worker recycled before 20 requests or after 22 (20 + 10 % jitter)" \
	log_has worker.recycle '.requests < 20 or .requests > 22'
ok "the recycled workers exited as retired (master.child_exited retired:true)" wait_until 5 eval \
	'[[ $(log_count master.child_exited ".kind == \"worker\" and .retired == true") -ge 2 ]]'
# Every worker that asked to be recycled has left, retired, not killed.
left=0
for p in $(log_select worker.recycle | jq -r .pid); do
	wait_until 5 log_has master.child_exited ".pid == $p and .retired == true and .exit_code == 0" &&
		left=$((left + 1))
done
is "$left" "$recycles" "each recycled worker exited 0 as retired"
now=$(worker_pids)
is "$(count_lines "$now")" 2 "two workers at the end"
now1=$(tr '\n' ' ' <<<"$now")
initial1=$(tr '\n' ' ' <<<"$initial")
isnt "$now1" "$initial1" "the set of worker pids changed (was $initial1, now $now1)"
ok "/metrics: $RECYCLE >= 2" wait_until 5 eval '[[ $(metric_int "$RECYCLE") -ge 2 ]]'
diag "$RECYCLE $(metric "$RECYCLE")"
# Successor first: in the master's log, a worker counts as accepting from
# master.worker_ready until master.child_exited. When a recycled (retired)
# worker exits, at least CORA_WORKERS=2 others accept.
short=$(jq -R -n -c '[inputs | fromjson? | select(type == "object") |
		select(.event == "master.worker_ready" or (.event == "master.child_exited" and .kind == "worker"))] |
	reduce .[] as $e ({ready: {}, short: []};
		($e.pid | tostring) as $p |
		if $e.event == "master.worker_ready" then .ready[$p] = true
		else .ready |= del(.[$p]) |
			if $e.retired == true and (.ready | length) < 2 then .short += [$e.pid] else . end
		end) | .short' "$CORAD_LOG")
is "$short" "[]" "every retired worker left only once two other workers accepted (its successor was ready)"
corad_stop TERM
is "$EXIT_STATUS" 0 "SIGTERM: exit 0"

# --- 9. CORA_REQUEST_TIMEOUT_SECONDS: a statement behind a lock -------------------------
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 CORA_REQUEST_TIMEOUT_SECONDS=1 ||
	bail "corad starts with CORA_REQUEST_TIMEOUT_SECONDS=1"
worker=$(worker_pids)
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Warm-up"}'
is "$HTTP_STATUS" 201 "timeout 1 s: POST /actors is 201 without contention"
events_before=$(q "SELECT count(*) FROM events")
ok "another session holds ACCESS EXCLUSIVE on actor_profile" hold_lock actor_profile "ACCESS EXCLUSIVE"
t0=$(date +%s%N)
http POST /actors -H 'Content-Type: application/json' -H 'Idempotency-Key: slow-1' \
	--data-binary '{"name":"Slow"}'
ms=$((($(date +%s%N) - t0) / 1000000))
is "$HTTP_STATUS" 504 "POST /actors behind the lock: 504"
cmp_ok "$ms" -ge 900 "... after about 1 s (${ms} ms)"
cmp_ok "$ms" -lt 3500 "... not much later (${ms} ms)"
is "$(hdr Content-Type)" application/json "504 is application/json"
SCID=$(hdr X-Correlation-Id)
like "$SCID" "$UUID_RE" "504 has X-Correlation-Id"
json_is "$HTTP_BODY" .detail "Request exceeded 1 s and was cancelled (correlation id $SCID)" \
	"504 detail: Request exceeded 1 s and was cancelled (correlation id <X-Correlation-Id>)"
is "$(json_value "$HTTP_BODY" 'keys')" '["detail"]' "504 body has only detail"
ok "log: worker.deadline with the correlation id" wait_until 3 log_has worker.deadline \
	".correlation_id == \"$SCID\" and .method == \"POST\" and .path == \"/actors\""
release_holder
ok "the lock is gone" wait_until 10 eval '! table_locked actor_profile AccessExclusiveLock'
# Nothing of the cancelled request shows up once the lock is gone.
sleep 0.5
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Slow'")" 0 "no actor_profile row for Slow"
is "$(q "SELECT count(*) FROM events WHERE correlation_id = '$SCID'")" 0 "no event with the 504's correlation id"
is "$(q "SELECT count(*) FROM events")" "$events_before" "no event was added by the cancelled request"
diag "access verdicts with the 504's correlation id: $(q "SELECT count(*) FROM entries_access_verdicts WHERE correlation_id = '$SCID'")"
# a 5xx caches nothing, so the same key runs the command again.
is "$(q "SELECT count(*) FROM idempotency_keys WHERE key = 'slow-1'")" 0 \
	"the 504 left no idempotency row for its key"
http POST /actors -H 'Content-Type: application/json' -H 'Idempotency-Key: slow-1' \
	--data-binary '{"name":"Slow"}'
is "$HTTP_STATUS" 201 "a retry with the same Idempotency-Key runs again (201, not a replayed 504)"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Slow'")" 1 "... and registers the actor once"
is "$(worker_pids)" "$worker" "the worker survived the deadline (same pid $worker)"
nok "log: no master.worker_killed" log_has master.worker_killed
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Fast"}'
is "$HTTP_STATUS" 201 "a later POST /actors succeeds (201)"
FID=$(json_value "$HTTP_BODY" .actor_id)
is "$(q "SELECT name FROM actor_profile WHERE actor_id = '$FID'")" Fast "... and its actor_profile row exists"
is "$(worker_pids)" "$worker" "... served by the same worker ($worker, the only one)"
is "$(metric "$TIMEOUT")" 0 "/metrics: $TIMEOUT is 0 (nobody was killed)"

# --- 9b. the deadline covers a fresh worker's connect and prepare ------------------------
# A table locked by another session blocks a new worker's prepare: its
# warm-up gives up after 1 s (warm_up.sh), and its first request that
# needs the database connects and prepares again. That wait is inside the
# deadline like any statement: JSON 504 at the deadline, not a kill 5 s
# later (nginx's 502).
corad_stop TERM
ok "another session holds ACCESS EXCLUSIVE on events" hold_lock events "ACCESS EXCLUSIVE"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 CORA_REQUEST_TIMEOUT_SECONDS=2 ||
	bail "corad starts with CORA_REQUEST_TIMEOUT_SECONDS=2"
worker=$(worker_pids)
t0=$(date +%s%N)
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"First use"}'
ms=$((($(date +%s%N) - t0) / 1000000))
is "$HTTP_STATUS" 504 "a fresh worker's first POST /actors behind the lock: corad's 504"
is "$(hdr Content-Type)" application/json "... as JSON"
json_like "$HTTP_BODY" .detail '^Request exceeded 2 s and was cancelled' "... with corad's detail"
cmp_ok "$ms" -ge 1900 "... at the deadline (${ms} ms)"
cmp_ok "$ms" -lt 3500 "... not at the kill 5 s later (${ms} ms)"
ok "log: db.setup_cancelled for the prepare" log_has db.setup_cancelled
nok "log: no master.worker_killed" log_has master.worker_killed
is "$(worker_pids)" "$worker" "the worker lives on (same pid)"
release_holder
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"After lock"}'
is "$HTTP_STATUS" 201 "once the lock is gone the same worker connects and registers (201)"

# --- 9c. a server that does not answer at all ------------------------------------------
# PostgreSQL stopped (SIGSTOP; a database host cut off by the network looks
# the same): the cancel is never answered, and the statement would wait for
# good. A second after the deadline it loses its session, and the request
# gets corad's JSON 504, not nginx's 502 after the kill 5 s later.
PM=$(head -n 1 "$PG_DIR/data/postmaster.pid")
PG_ALL=$(echo "$PM" $(pgrep -P "$PM"))
kill -STOP $PG_ALL
t0=$(date +%s%N)
http GET "/actors/$FID"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT $PG_ALL
is "$HTTP_STATUS" 504 "GET /actors/{id} while PostgreSQL is stopped: corad's 504"
json_like "$HTTP_BODY" .detail '^Request exceeded 2 s and was cancelled' "... with corad's detail"
cmp_ok "$ms" -ge 1900 "... no sooner than the deadline (${ms} ms)"
cmp_ok "$ms" -lt 4500 "... a second after it, not at the kill (${ms} ms)"
nok "log: no master.worker_killed" log_has master.worker_killed
is "$(worker_pids)" "$worker" "the worker lives on (same pid)"
http GET "/actors/$FID"
is "$HTTP_STATUS" 200 "once PostgreSQL runs again the worker connects anew: 200"
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 CORA_REQUEST_TIMEOUT_SECONDS=1 ||
	bail "corad starts again with CORA_REQUEST_TIMEOUT_SECONDS=1"

# --- 10. a worker stuck past deadline + 5 s is killed -----------------------------------
# 100 KB at 10 KB/s: the worker reads the body for ~10 s, before any
# database work, so its own statement timer never starts.
head -c 100000 /dev/zero | tr '\0' ' ' >"$T/upload.body"
worker=$(worker_pids)
t0=$(date +%s%N)
curl -sS --max-time 30 -o "$T/upload.out" -w '%{http_code}' -X POST --limit-rate 10K \
	-H 'Content-Type: application/json' --data-binary "@$T/upload.body" "$S/actors" \
	>"$T/upload.status" 2>"$T/upload.err" &
up=$!
EXTRA_PIDS+=("$up")
if wait_until 12 log_has master.worker_killed; then
	s=$((($(date +%s%N) - t0) / 1000000))
	pass "log: master.worker_killed (after ${s} ms)"
	cmp_ok "$s" -le 9000 "... within ~7 s of the upload's start (${s} ms; deadline 1 s + grace 5 s, checked every second)"
else
	fail "log: master.worker_killed within 12 s"
fi
K=$(log_select master.worker_killed | head -n 1)
diag "$K"
json_is "$K" .pid "$worker" "worker_killed: pid is the worker's"
json_is "$K" .method POST "worker_killed: method POST"
json_is "$K" 'has("route")' true "worker_killed: has route (it is $(json_value "$K" .route))"
json_is "$K" 'has("principal_id")' true "worker_killed: has principal_id, the key every line uses"
json_like "$K" .correlation_id "$UUID_RE" "worker_killed: correlation_id is a UUID"
json_is "$K" '.elapsed_seconds | type == "number" and . >= 6' true \
	"worker_killed: elapsed_seconds >= 6 (got $(json_value "$K" .elapsed_seconds))"
json_is "$K" '.elapsed_seconds < 8' true "worker_killed: elapsed_seconds < 8 (the master checks every second)"
ok "log: master.child_exited for the killed worker (SIGKILL)" wait_until 5 log_has master.child_exited \
	".pid == ${worker:-0} and .signal == \"SIGKILL\""
ok "a new worker replaced it" wait_until 5 eval '[[ $(worker_count) -eq 1 && $(worker_pids) != "$worker" ]]'
nok "the killed worker is gone" alive "$worker"
ok "/metrics: $TIMEOUT is 1" wait_until 5 eval '[[ $(metric "$TIMEOUT") == 1 ]]'
wait_exit "$up" 30
isnt "$EXIT_STATUS" timeout "the slow upload's curl finished (HTTP $(cat "$T/upload.status" 2>/dev/null), body $(head -c 200 "$T/upload.out" 2>/dev/null))"
http GET /health
is "$HTTP_STATUS" 200 "the replacement worker serves GET /health"
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"After kill"}'
is "$HTTP_STATUS" 201 "... and POST /actors (201)"
corad_stop TERM
is "$EXIT_STATUS" 0 "SIGTERM: exit 0"

done_testing
