#!/bin/bash
# shellcheck disable=SC2016  # the eval strings and patterns are not expanded here
# A million actors (doc/design.md, "Lists" and "Writes"): GET by id and every
# kind of list page (the first, a deep one, filtered by status, both) answer
# correctly, and the plans PostgreSQL runs for corad's own statements, read
# from its auto_explain log, walk an index: no sequential scan, no sort, and
# a page after a cursor starts at the cursor in the index instead of
# filtering its way there. The plans are the generic ones prepared
# statements settle on (plan_cache_mode = force_generic_plan for the app
# role), so they are what corad runs after its first few requests.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

N=${SCALE_ACTORS:-1000000}

# --- a million actors, half of them deactivated, already projected -------------------
t0=$(now_ms)
psql -qAtX -v ON_ERROR_STOP=1 -v n="$N" -f "$E2E_DIR/seed_actors.sql" "$DB" >/dev/null
is "$(q "SELECT count(*) FROM proj_access_actor_summary")" "$N" "$N actors loaded ($(($(now_ms) - t0)) ms)"
is "$(q "SELECT count(*) FROM events")" $((N + N / 2)) "... with $((N + N / 2)) events"

# Every statement of the app role is planned generically and logged with its plan.
q "ALTER ROLE cora_app SET plan_cache_mode = force_generic_plan" >/dev/null
q "ALTER ROLE cora_app SET session_preload_libraries = 'auto_explain'" >/dev/null
q "ALTER ROLE cora_app SET auto_explain.log_min_duration = 0" >/dev/null

nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 || bail "corad starts"

uid() { printf '%08x-0000-7000-8000-%012x' "$1" "$1"; }
at() { date -u -d "@$((1767225600 + $1 / 1000)).$(printf '%03d' $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3N000Z; }
cursor_of() { printf '%s|%s' "$(at "$1")" "$(uid "$1")" | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# walks PLAN DESC: the plan reads an index and neither scans the table nor sorts.
walks() {
	like "$1" 'Index (Only )?Scan using' "$2: an index scan"
	unlike "$1" 'Seq Scan|Sort' "$2: no sequential scan, no sort"
}

# --- GET by id: one statement --------------------------------------------------------
MID=$((N / 2 + 1))
off=$(pg_log_size)
as "$P1" GET "/actors/$(uid "$MID")"
is "$HTTP_STATUS" 200 "GET /actors/{id} of actor $MID: 200"
json_eq "$HTTP_BODY" "{\"id\":\"$(uid "$MID")\",\"name\":\"Actor $MID\",\"kind\":\"human\",\"active\":true}" \
	"... its name, kind and state"
sleep 0.2
PLAN=$(plan_since "$off" "SELECT e.version, e.event_type")
walks "$PLAN" "GET /actors/{id}"
like "$PLAN" 'events_stream_version_key' "GET /actors/{id}: the stream through its unique key"
like "$PLAN" 'actor_profile_pkey' "GET /actors/{id}: the profile through its primary key, in the same statement"
as "$P1" GET "/actors/$(uid 2)"
json_is "$HTTP_BODY" .active false "GET /actors/{id} of a deactivated actor: active false"

# --- list pages -----------------------------------------------------------------------
# page DESC QUERY FIRST-ITEM-NUMBER: GET /actors?QUERY answers 200 with 20
# items starting at that actor, and its plan walks an index.
page() {
	local off
	off=$(pg_log_size)
	as "$P1" GET "/actors?limit=20&$2"
	is "$HTTP_STATUS" 200 "$1: 200"
	json_is "$HTTP_BODY" '"\(.items | length) \(.items[0].actor_id) \(.next_cursor | type)"' \
		"20 $(uid "$3") string" "$1: 20 items from actor $3 and a next cursor"
	sleep 0.2
	PLAN=$(plan_since "$off" "SELECT actor_id, name, kind, status")
	walks "$PLAN" "$1"
}
page "first page" "" 1
like "$PLAN" 'proj_access_actor_summary_order_idx' "first page: the keyset index"
like "$PLAN" 'Index Cond: \(ROW\(created_at, actor_id\) > ROW' "first page: from the cursor before everything"
DEEP=$((N * 3 / 4))
page "a page $DEEP rows deep" "cursor=$(cursor_of "$DEEP")" $((DEEP + 1))
like "$PLAN" 'Index Cond: \(ROW\(created_at, actor_id\) > ROW' "deep page: the index starts at the cursor"
page "status=deactivated, first page" "status=deactivated" 2
like "$PLAN" 'proj_access_actor_summary_status_idx' "status filter: the status index"
page "status=active, $DEEP rows deep" "status=active&cursor=$(cursor_of "$DEEP")" $((DEEP + 1))
like "$PLAN" 'Index Cond: .*ROW\(status, created_at, actor_id\) > ROW.*status = \$2' \
	"status and cursor: both in the index condition"
as "$P1" GET "/actors?limit=20&cursor=$(cursor_of "$N")"
json_eq "$HTTP_BODY" '{"items":[],"next_cursor":null}' "a page after the last actor: empty, no cursor"

# --- writes still land at this size -----------------------------------------------------
register_name "Millionth and one"
is "$HTTP_STATUS" 201 "POST /actors at $N actors: 201"
ok "... and it is listed last" wait_until 5 eval \
	'[[ $(as "$P1" GET "/actors?limit=1&cursor=$(cursor_of "$N")"; json_value "$HTTP_BODY" ".items[0].actor_id") == "$RID" ]]'

q "ALTER ROLE cora_app RESET ALL" >/dev/null
done_testing
