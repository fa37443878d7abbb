#!/bin/bash
# Plans that follow the data, read from PostgreSQL's auto_explain log:
#  - the projector's reads of the events after a bookmark (doc/design.md,
#    "Projections") keep walking the (transaction_id, position) index after
#    the store has grown from empty, without waiting for an ANALYZE of
#    events. Prepared, they kept the plan of the projector's first rounds on
#    an empty table, a sequential scan and a sort, until autovacuum's next
#    ANALYZE;
#  - a filtered page of GET /cautions ("The Caution context") is planned for
#    its filters and reads the index that serves them (a status other than
#    Active: the index of the cautions no longer active). Prepared, after a few
#    requests the worker settled on the generic plan, which cannot tell
#    which filters are given: it walked the keyset index and filtered every
#    row, the whole table for an author of three cautions.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
db_setup

N=20000
# Nothing analyzes events behind the test's back: an ANALYZE would
# invalidate a cached plan and hide the difference.
q "ALTER TABLE events SET (autovacuum_enabled = off)" >/dev/null
q "ALTER ROLE cora_app SET session_preload_libraries = 'auto_explain'" >/dev/null
q "ALTER ROLE cora_app SET auto_explain.log_min_duration = 0" >/dev/null
nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 PROJECTION_POLL_INTERVAL_SECONDS=0.1 ||
	bail "corad starts"
pass "corad starts"

# walks PLAN INDEX DESC [NOT]: the plan reads that index and does not show
# NOT (an ERE; default: neither a sequential scan nor a sort).
walks() {
	like "$1" "$2" "$3: $2"
	unlike "$1" "${4:-Seq Scan|Sort}" "$3: no ${4:-Seq Scan|Sort}"
}

# --- the projector ----------------------------------------------------------------------
LAG="SELECT count(*) FILTER"
BATCH="SELECT position, transaction_id::text"
# More rounds on the empty store than the five custom plans after which
# PostgreSQL may settle on a generic plan for a prepared statement.
counted() { [[ $(grep -cF "Query Text: $LAG" "$PG_DIR/server.log") -ge 20 ]]; }
ok "the projector counts its lag 20 times on the empty store" wait_until 10 counted
is "$(plan_since 0 "$LAG" | grep -c 'Seq Scan on events')" 1 \
	"... where a sequential scan is the plan for it"

# N registrations from one transaction, none of them projected yet.
off=$(pg_log_size)
q "INSERT INTO events (stream_type, stream_id, version, event_type, payload, metadata, occurred_at, event_id)
	SELECT 'Actor', id, 1, 'ActorRegisteredV2',
	       jsonb_build_object('actor_id', id, 'occurred_at', now(), 'kind', 'human'),
	       '{\"command\": \"RegisterActor\"}', now(), gen_random_uuid()
	FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $N)) AS s" >/dev/null
projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary") == "$N" ]]; }
ok "the $N events are projected" wait_until 30 projected
sleep 0.5	# rounds after the last batch, with nothing left to read
walks "$(plan_since "$off" "$LAG")" events_transaction_position_idx "the lag count at $N events"
walks "$(plan_since "$off" "$BATCH")" events_transaction_position_idx "the batch read at $N events"

# --- filtered pages of GET /cautions ---------------------------------------------------
# N active cautions on 1,000 assets by one author, and three by another.
AUTHOR=0190c000-0000-7000-8000-0000000000a1
RARE=0190c000-0000-7000-8000-0000000000a2
ASSET_7=0190b000-0000-7000-8000-000000000007
q "INSERT INTO proj_caution_summary (caution_id, target_kind, target_id, category, severity, text,
	workaround, authored_by, status, registered_at)
	SELECT gen_random_uuid(), 'Asset', ('0190b000-0000-7000-8000-' || lpad(to_hex(i % 1000), 12, '0'))::uuid,
	       'Wear', 'Caution', 'caution ' || i, '',
	       CASE WHEN i <= 3 THEN '$RARE' ELSE '$AUTHOR' END::uuid, 'Active',
	       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 s'
	FROM generate_series(1, $N) AS i" >/dev/null
q "ANALYZE proj_caution_summary" >/dev/null
CAUTION_LIST="SELECT caution_id, target_kind"

# page DESC QUERY ITEMS INDEX [NOT]: GET /cautions?QUERY eight times, ITEMS
# items each time; the plan of the last walks INDEX (walks' NOT).
page() {
	local i off items= want=
	off=$(pg_log_size)
	for ((i = 0; i < 8; i++)); do
		as "$P1" GET "/cautions?limit=20&$2"
		[[ $HTTP_STATUS == 200 ]] || break
		items+="$(jq '.items | length' <<<"$HTTP_BODY") "
		want+="$3 "
	done
	is "$HTTP_STATUS $items" "200 $want" "$1: 200 and $3 items, eight times"
	sleep 0.2
	walks "$(plan_since "$off" "$CAUTION_LIST")" "$4" "$1" "${5:-}"
}
# Pages of a category no caution has: no index serves a category, so their
# custom plans read the whole table, and next to these the generic plan
# looks cheap. A worker that prepares the statement settles on it after
# five.
none=
for ((i = 0; i < 6; i++)); do
	as "$P1" GET "/cautions?limit=20&category=Calibration"
	none+="$HTTP_STATUS:$(jq '.items | length' <<<"$HTTP_BODY") "
done
is "$none" "200:0 200:0 200:0 200:0 200:0 200:0 " "category=Calibration: 200 and no items, six times"
# A filtered page sorts the few rows its index finds.
page "authored_by an author of three" "authored_by=$RARE" 3 proj_caution_summary_author_idx "Seq Scan"
page "one target" "target_kind=Asset&target_id=$ASSET_7" 20 proj_caution_summary_target_active_idx \
	"Seq Scan"
# A target id alone names both kinds: the target index, whose first
# column is the kind, is descended once for each, not read whole.
off=$(pg_log_size)
page "a target id alone" "target_id=$ASSET_7" 20 proj_caution_summary_target_active_idx "Seq Scan"
like "$(plan_since "$off" "$CAUTION_LIST" | grep 'Index Cond')" \
	"target_kind = ANY \\('[{]Asset,Procedure[}]'::text\\[\\]\\)\\) AND \\(target_id = " \
	"a target id alone: the index condition is both kinds, then the id"
# A status other than Active, which few cautions have: the index of the
# cautions no longer active, not a walk of every caution.
q "UPDATE proj_caution_summary SET status = 'Retired' WHERE authored_by = '$RARE'" >/dev/null
page "the retired, three of them" "status=Retired" 3 proj_caution_summary_inactive_idx "Seq Scan"
page "the superseded or retired" "status=Superseded&status=Retired" 3 proj_caution_summary_inactive_idx \
	"Seq Scan"
page "no filter" "" 20 proj_caution_summary_keyset_idx

q "ALTER ROLE cora_app RESET ALL" >/dev/null
done_testing
