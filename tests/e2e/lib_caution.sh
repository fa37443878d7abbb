# shellcheck shell=bash disable=SC2034,SC2016
# lib_caution.sh: helpers for tests of the Caution context, sourced after
# lib.sh and pg.sh (and db_setup, for the helpers that query the database).

# Ids no test registers a caution under, and the targets the tests use.
UNKNOWN_CAUTION=01900000-0000-7000-8000-0000000000c1
ASSET=0190b000-0000-7000-8000-00000000a551
ASSET2=0190b000-0000-7000-8000-00000000a552
PROC=0190b000-0000-7000-8000-0000000000fc
SYSTEM=00000000-0000-0000-0000-000000000000
# Every timestamp corad answers with: UTC, microseconds, Z.
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'
# The 14 keys of GET /cautions/{id} in the original's order, then "expired".
GET_KEYS='["id","target","category","severity","text","workaround","authored_by","tags","expires_at","propagate_to_children","status","parent_id","superseded_by_caution_id","retired_reason","expired"]'
# The 16 keys of a list item in order, then "expired".
LIST_KEYS='["caution_id","target","category","severity","text","workaround","authored_by","tags","expires_at","propagate_to_children","status","parent_id","superseded_by_caution_id","retired_reason","registered_at","last_status_changed_at","expired"]'
CURSOR_SUFFIX=". Cursors must come from a previous response's next_cursor field."

# cbody [JQ-FILTER [jq options...]]: a valid register/supersede body (an
# Asset caution on $ASSET) with the filter applied, compact.
cbody() {
	local f=${1:-.}
	shift || true
	jq -cn --arg asset "$ASSET" "$@" '{target: {kind: "Asset", id: $asset}, category: "Wear",
		severity: "Caution", text: "The hexapod stalls below 0.5 mm/s",
		workaround: "Jog it first"} | '"$f"
}

# register_caution BODY [PRINCIPAL [curl options...]]: POST /cautions; sets
# CID_NEW to the new caution_id ("" unless 201). True on a 201.
register_caution() {
	post_json "${2:-}" /cautions "$1" "${@:3}"
	CID_NEW=
	[[ $HTTP_STATUS == 201 ]] || return 1
	CID_NEW=$(json_value "$HTTP_BODY" .caution_id)
}

# supersede_caution PARENT BODY [PRINCIPAL [curl options...]]: POST
# /cautions/PARENT/supersede; sets CID_NEW to the child's id ("" unless 201).
supersede_caution() {
	post_json "${3:-}" "/cautions/$1/supersede" "$2" "${@:4}"
	CID_NEW=
	[[ $HTTP_STATUS == 201 ]] || return 1
	CID_NEW=$(json_value "$HTTP_BODY" .caution_id)
}

# retire_caution ID REASON [PRINCIPAL [curl options...]]: true on a 204.
retire_caution() {
	post_json "${3:-}" "/cautions/$1/retire" "{\"reason\":\"$2\"}" "${@:4}"
	[[ $HTTP_STATUS == 204 ]]
}

# get_caution ID [PRINCIPAL]: GET /cautions/ID.
get_caution() { as "${2:-}" GET "/cautions/$1"; }

# The position of the last Caution event, and whether the projection's
# bookmark has reached it.
caution_projected() {
	[[ $(q "SELECT coalesce((SELECT last_position FROM projection_bookmarks
		WHERE projection_name = 'proj_caution_summary'), 0) >= coalesce((SELECT max(position)
		FROM events WHERE event_type IN ('CautionRegistered', 'CautionSuperseded', 'CautionRetired')), 0)") == t ]]
}

# caution_rows: "<events> <proj_caution_summary rows> <verdicts>", once the
# projection has caught up: the rows a write would move.
caution_rows() {
	wait_until 10 caution_projected
	q "SELECT (SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM proj_caution_summary)
		|| ' ' || (SELECT count(*) FROM entries_access_verdicts)"
}

# cev_json CAUTION_ID EVENT_TYPE: that event of the caution's stream as JSON.
cev_json() {
	q "SELECT row_to_json(e) FROM events e WHERE stream_type = 'Caution' AND stream_id = '$1' AND event_type = '$2'"
}

# cverdict CORRELATION_ID: the verdict rows of that request as JSON, one a line.
cverdict() { q "SELECT row_to_json(v) FROM entries_access_verdicts v WHERE correlation_id = '$1'"; }

# utc_in SECONDS: the UTC time SECONDS from now, RFC 3339 with microseconds.
utc_in() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%S.000000Z; }
