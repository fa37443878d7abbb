#!/bin/bash
# The access log and the slow-request log: CORA_ACCESS_LOG=true writes one
# http.request line a request (method, path, route, status, bytes,
# duration_ms, correlation_id, principal_id), whatever LOG_LEVEL says, and
# none by default; every operation of a context ends with a closing line
# (<verb>.success, .denied or .failed with the status); a request still
# running past CORA_SLOW_REQUEST_SECONDS is logged once while it runs
# (worker.slow_request, with what the worker is doing), and /status shows
# the same.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

nginx_server_auth main
nginx_start || bail "nginx starts"

# access LINE-FILTER: the http.request lines matching it.
access() { log_select http.request "$1"; }

# --- off by default -------------------------------------------------------------
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 || bail "corad starts"
http GET /health
is "$HTTP_STATUS" 200 "default: GET /health 200"
register_name "Quiet"
is "$HTTP_STATUS" 201 "default: POST /actors 201"
nok "default: no http.request line" log_has http.request
corad_stop TERM

# --- one line a request ----------------------------------------------------------
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 CORA_ACCESS_LOG=true \
	CORA_SLOW_REQUEST_SECONDS=0.5 || bail "corad starts with CORA_ACCESS_LOG=true"
pass "corad starts with CORA_ACCESS_LOG=true and CORA_SLOW_REQUEST_SECONDS=0.5"

http GET /health
H_CID=$(cid)
H_BYTES=$(printf '%s' "$HTTP_BODY" | wc -c)
ok "GET /health: one http.request line" wait_until 3 eval '[[ $(count_lines "$(access ".correlation_id == \"$H_CID\"")") == 1 ]]'
L=$(access ".correlation_id == \"$H_CID\"")
json_is "$L" '[.level, .method, .path, .route, .status, .principal_id]' \
	'["info","GET","/health","/health",200,null]' \
	"GET /health: method, path, route, status, and no principal (health reads none)"
json_is "$L" .bytes "$H_BYTES" "GET /health: bytes is the body's length ($H_BYTES)"
json_is "$L" '.duration_ms | type == "number" and . >= 0 and . < 5000' true "GET /health: duration_ms"

http GET '/nope?x=1'
N_CID=$(cid)
is "$HTTP_STATUS" 404 "GET /nope: 404"
ok "GET /nope: its line, route null, the path without the query" wait_until 3 log_has http.request \
	".correlation_id == \"$N_CID\" and .status == 404 and .route == null and .path == \"/nope\""

# A path of 6,000 bytes (nginx passes up to 8 kB): its line still fits in
# one atomic write to a pipe (4,096 bytes), the path cut and marked.
LONG=/$(head -c 6000 /dev/zero | tr '\0' a)
http GET "$LONG"
L_CID=$(cid)
is "$HTTP_STATUS" 404 "GET of a 6,000-byte path: 404"
long_line() { access ".correlation_id == \"$L_CID\"" | head -n 1; }
ok "... its access line is written" wait_until 3 eval '[[ -n $(long_line) ]]'
cmp_ok "$(grep -F "\"$L_CID\"" "$CORAD_LOG" | grep -F '"http.request"' | wc -c)" -le 4096 \
	"... in at most 4,096 bytes as written"
json_is "$(long_line)" '[.truncated, (.path | startswith("/aaaa")), (.path | endswith("\u2026")), .status]' \
	'[true,true,true,404]' "... with the path's start, cut and marked"

as "$P1" GET "/actors/$UNKNOWN"
U_CID=$(cid)
is "$HTTP_STATUS" 404 "GET /actors/{unknown}: 404"
ok "GET /actors/{unknown}: its access line names the route template" wait_until 3 log_has http.request \
	".correlation_id == \"$U_CID\" and .status == 404 and .route == \"/actors/{actor_id}\" and .principal_id == \"$P1\""
ok "GET /actors/{unknown}: get_actor.start, then a closing get_actor.failed with status 404 (info)" \
	eval 'log_has get_actor.start ".correlation_id == \"$U_CID\"" && log_has get_actor.failed ".correlation_id == \"$U_CID\" and .status == 404 and .level == \"info\""'

register_name "Logged" "$P1"
R_CID=$(cid)
is "$HTTP_STATUS" 201 "POST /actors: 201"
ok "POST /actors: register_actor.success and an http.request line with 201" \
	eval 'log_has register_actor.success ".correlation_id == \"$R_CID\"" && log_has http.request ".correlation_id == \"$R_CID\" and .status == 201 and .method == \"POST\""'

post_json "$P1" /actors '{"name": 5}'
V_CID=$(cid)
is "$HTTP_STATUS" 422 "POST /actors with a bad body: 422"
ok "the 422 has its access line" wait_until 3 log_has http.request ".correlation_id == \"$V_CID\" and .status == 422"

# Hostile bytes in the path stay valid JSON in the log.
http GET '/%C3%28%ff?%00'
X_CID=$(cid)
ok "a path with bytes that are not UTF-8: its line is valid JSON with the path" \
	wait_until 3 log_has http.request ".correlation_id == \"$X_CID\" and (.path | type) == \"string\""

# --- the slow-request log ---------------------------------------------------------
# Both workers connected first (connect_workers, pg.sh): a worker that
# connects while the table is locked waits in preparing its statements, and
# says "connecting to the database" instead of the statement.
ok "both workers hold a database session" connect_workers 2 curl -s -o /dev/null "$BASE/actors?limit=1"
ok "another session holds actor_profile" hold_lock actor_profile "ACCESS EXCLUSIVE"
curl -s -o "$T/slow.body" -D "$T/slow.headers" --max-time 20 -X POST "$BASE/actors" \
	-H 'Content-Type: application/json' --data-binary '{"name":"Slow"}' &
slow=$!
EXTRA_PIDS+=("$slow")
ok "while it waits: worker.slow_request logged" wait_until 3 log_has worker.slow_request
S=$(log_select worker.slow_request | head -n 1)
DOING="database: profile_insert, append_event, insert_verdict"
json_is "$S" '[.level, .method, .route, .doing]' '["warning","POST","/actors","'"$DOING"'"]' \
	"worker.slow_request: method, route, and what it is doing (the transaction it waits for, statement by statement)"
json_is "$S" '.elapsed_seconds >= 0.5 and .elapsed_seconds < 2' true "worker.slow_request: elapsed past 0.5 s"
http GET /status
json_is "$HTTP_BODY" '[.. | objects | select(.doing? == "'"$DOING"'")] | length' 1 \
	"/status shows the busy worker doing $DOING"
release_holder
wait "$slow"
S_CID=$(tr -d '\r' <"$T/slow.headers" | awk -F': ' 'tolower($1) == "x-correlation-id" { print $2 }')
is "$(head -n 1 "$T/slow.headers" | awk '{ print $2 }')" 201 "the slow request ends 201"
json_is "$S" .correlation_id "$S_CID" "worker.slow_request names its correlation id"
is "$(log_count worker.slow_request ".correlation_id == \"$S_CID\"")" 1 "logged once, not every second"
ok "logged while it ran: before register_actor.success" eval \
	'[[ $(grep -n "\"worker.slow_request\"" "$CORAD_LOG" | head -n 1 | cut -d: -f1) -lt $(grep -n "\"register_actor.success\".*$S_CID" "$CORAD_LOG" | cut -d: -f1) ]]'
ok "... and its access line shows the time it took" wait_until 3 log_has http.request \
	".correlation_id == \"$S_CID\" and .duration_ms >= 500"
http GET /health
nok "a fast request is not slow" log_has worker.slow_request ".correlation_id == \"$(cid)\""

# A peer that never reads a large answer holds its worker in the write:
# /status says so, not that the operation still runs. Forty cautions of
# the largest size make a page of about 550 kB, past the socket's buffers.
jq -cn '{target: {kind: "Asset", id: "0190a1f4-7c3e-7d2a-9b1c-00000000b16e"}, category: "Wear",
	severity: "Warning", text: ("\u2603" * 2000), workaround: ("\u2603" * 2000),
	tags: [range(50) | tostring | . + ("t" * (50 - length))]}' >"$T/fat.json"
for i in $(seq 40); do
	as "$P1" POST /cautions -H 'Content-Type: application/json' --data-binary "@$T/fat.json"
done
is "$HTTP_STATUS" 201 "forty of the largest cautions registered"
forty() { as "$P1" GET '/cautions?limit=100'; [[ $(json_value "$HTTP_BODY" '.items | length') == 40 ]]; }
ok "... and listed" wait_until 5 forty
UNREAD_PATH='/cautions?limit=100' python3 "$E2E_DIR/fcgi_head_client.py" unread "unix:$T/corad.sock" 4 \
	"$T/unread.ready" >"$T/unread" 2>&1 &
EXTRA_PIDS+=($!)
sending() {
	http GET /status
	[[ $(json_value "$HTTP_BODY" '[.. | objects | select(.doing? == "sending the response")] | length') == 1 ]]
}
ok "/status: the worker whose peer does not read is sending the response" wait_until 3 sending
corad_stop TERM

# --- whatever LOG_LEVEL says ------------------------------------------------------------
rotate_log
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 CORA_ACCESS_LOG=true LOG_LEVEL=ERROR ||
	bail "corad starts with LOG_LEVEL=ERROR"
register_name "Errors only" "$P1"
E_CID=$(cid)
ok "LOG_LEVEL=ERROR: the access line is still written" wait_until 3 log_has http.request \
	".correlation_id == \"$E_CID\" and .status == 201"
nok "LOG_LEVEL=ERROR: register_actor.success (info) is not" log_has register_actor.success

done_testing
