#!/bin/bash
# shellcheck disable=SC2016,SC2034  # jq programs in single quotes; A1..S1C are read by names()
# GET /cautions, ListCautions: the list read from proj_caution_summary.
# Every filter (target_kind, target_id alone matching both kinds, category,
# repeated severity, the min_severity ladder, status by default, explicit and
# all, tag trimmed and exact, authored_by, include_expired), the two
# conflicts (422 before authorization), keyset paging with next_cursor in
# (registered_at, caution_id) order, query validation, bad cursors, and that
# each item says what GET /cautions/{id} says.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_caution.sh"
need_tools xargs
START_NS=$(date +%s%N)
db_setup

P3=0190a1f4-7c3e-7d2a-9b1c-0000000c0ffe
# P2 may not list cautions; everything else is allowed.
cat >"$T/policy.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["ListCautions"],"effect":"deny"}]}
EOF
nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 AUTHZ_POLICY_FILE="$T/policy.json" ||
	bail "corad serve starts"
pass "corad serve starts with a policy that denies ListCautions to P2"

SEV_CONFLICT='Pass either `severity` (one or more exact values) or `min_severity` (Notice<Caution<Warning ladder), not both.'
STATUS_CONFLICT='Pass either `status=all` (disable filter) or one or more explicit status values, not both.'

# --- empty --------------------------------------------------------------------------
as "$P1" GET /cautions
is "$HTTP_STATUS" 200 "GET /cautions with no caution: 200"
is "$(jq -c . <<<"$HTTP_BODY")" '{"items":[],"next_cursor":null}' "no caution: no items, next_cursor null"
is "$(hdr Content-Type)" application/json "GET /cautions is application/json"
LCID=$(cid)
is "$(q "SELECT count(*) FROM entries_access_verdicts WHERE correlation_id = '$LCID'")" 0 "an allowed list writes no verdict"
S=$(log_select list_cautions.success ".correlation_id == \"$LCID\"")
json_is "$S" '[.query_name, .principal_id, .returned, .has_next_page]' "[\"ListCautions\",\"$P1\",0,false]" \
	"log: list_cautions.success with returned 0, has_next_page false"
is "$(log_count list_cautions.start ".correlation_id == \"$LCID\" and .query_name == \"ListCautions\"")" 1 \
	"log: one list_cautions.start"
json_is "$(log_select list_cautions.start ".correlation_id == \"$LCID\"")" \
	'[(.limit | type), .target_kind, .target_id, .category, .severities, .statuses, .tag, .authored_by, .has_cursor, .principal_id]' \
	"[\"number\",null,null,null,null,\"Active\",null,null,false,\"$P1\"]" \
	"log: list_cautions.start has the filters (none given: the Active ones) and has_cursor"

# --- the data set ----------------------------------------------------------------------
# reg P1|P3 JQ-FILTER [jq options]: registers, prints the id (bails on a non-201).
reg() {
	register_caution "$(cbody "$2" "${@:3}")" "$1"
	[[ $HTTP_STATUS == 201 ]] || bail "register $2" "got $HTTP_STATUS $HTTP_BODY"
}
reg "$P1" '.tags = ["alpha"] | .severity = "Notice"'; A1=$CID_NEW
reg "$P1" '.category = "Calibration" | .tags = ["Alpha", "beta"]'; A2=$CID_NEW
reg "$P3" '.target.id = $a | .category = "Wiring" | .severity = "Warning" | .tags = ["beta"]' --arg a "$ASSET2"; A3=$CID_NEW
reg "$P3" '.target = {kind: "Procedure", id: $p} | .category = "ProcedureGotcha" | .severity = "Notice"' --arg p "$PROC"; A4=$CID_NEW
# A Procedure whose id is that of the Asset $ASSET.
reg "$P1" '.target.kind = "Procedure" | .category = "OperationalWindow" | .severity = "Warning" | .tags = ["gamma", " spaced "]'; A5=$CID_NEW
reg "$P1" '.category = "InterlockQuirk" | .expires_at = $e' --arg e "$(utc_in 2)"; A6=$CID_NEW
reg "$P1" '.severity = "Warning" | .expires_at = "2099-01-01T10:00:00.5+02:00" | .propagate_to_children = true'; A7=$CID_NEW
reg "$P3" '.tags = ["old"]'; S1=$CID_NEW
reg "$P1" '.target.id = $a | .severity = "Warning"' --arg a "$ASSET2"; R1=$CID_NEW
reg "$P1" '.target.id = $a' --arg a "$ASSET2"; R2=$CID_NEW
supersede_caution "$S1" "$(cbody '.tags = ["new"] | .severity = "Warning"')" "$P1"
is "$HTTP_STATUS" 201 "a caution is superseded"
S1C=$CID_NEW
retire_caution "$R1" WrongTarget "$P1"
is "$HTTP_STATUS" 204 "a caution is retired (WrongTarget)"
retire_caution "$R2" Resolved "$P3"
is "$HTTP_STATUS" 204 "another is retired (Resolved)"
# 20 more, 4 at a time, for paging: tag "page", by P3, on a Procedure.
PB=$(cbody '.target = {kind: "Procedure", id: $p} | .tags = ["page"] | .text = "page {}"' --arg p "$PROC")
seq 1 20 | xargs -P4 -I{} curl -sS --max-time 30 -o /dev/null -w '%{http_code}\n' -X POST \
	-H "X-Principal-Id: $P3" -H 'Content-Type: application/json' --data-binary "$PB" "$BASE/cautions" \
	>"$T/bulk.codes" 2>"$T/bulk.err"
is "$(sort "$T/bulk.codes" | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')" "20x201 " "20 more registered: every POST 201"
NALL=$(q "SELECT count(*) FROM events WHERE event_type = 'CautionRegistered'")
is "$NALL" 31 "31 cautions in the event store"

ok "the projection catches up" wait_until 10 caution_projected
a6_expired() { get_caution "$A6" "$P1"; [[ $(json_value "$HTTP_BODY" .expired) == true ]]; }
ok "A6's expires_at passes" wait_until 10 a6_expired

# The truth: every caution as GET /cautions/{id} answers, plus registered_at
# (the CautionRegistered payload's occurred_at), in (registered_at, caution_id)
# order as the event store has them.
: >"$T/truth.jsonl"
while read -r id at; do
	get_caution "$id" "$P1"
	jq -c --arg at "$at" '. + {registered_at: $at}' <<<"$HTTP_BODY" >>"$T/truth.jsonl"
done < <(q "SELECT stream_id, to_char((payload->>'occurred_at')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
	FROM events WHERE event_type = 'CautionRegistered'
	ORDER BY (payload->>'occurred_at')::timestamptz, stream_id" | tr '|' ' ')
jq -s -c . "$T/truth.jsonl" >"$T/truth.json"
is "$(jq length "$T/truth.json")" 31 "31 cautions read back with GET"

# ids QUERY: the caution ids over every page of 100 of GET /cautions?QUERY.
ids() {
	list_all /cautions "$1" 100 "$T/ids.json" "${2:-$P1}"
	if [[ -n $LIST_ERR ]]; then echo "$LIST_ERR"; return; fi
	jq -r '.[].caution_id' "$T/ids.json" | tr '\n' ' '
}
# expected JQ-CONDITION: the ids of the truth that satisfy it, in order.
expected() { jq -r ".[] | select($1) | .id" "$T/truth.json" | tr '\n' ' '; }
# filter QUERY JQ-CONDITION desc
filter() {
	local want
	want=$(expected "$2")
	is "$(ids "$1")" "$want" "$3 ($(wc -w <<<"$want") items)"
}
# names: the ids above as names (for hard-coded expectations).
names() {
	local out='' id n
	for id in $1; do
		n=$id
		for v in A1 A2 A3 A4 A5 A6 A7 S1 S1C R1 R2; do
			[[ ${!v} == "$id" ]] && n=$v
		done
		[[ $n == "$id" ]] && n=page
		out+="$n "
	done
	echo "$out"
}

# --- status ----------------------------------------------------------------------------
filter "" '.status == "Active"' "no status: the Active ones"
is "$(names "$(ids "")")" "A1 A2 A3 A4 A5 A6 A7 S1C $(printf 'page %.0s' {1..20})" \
	"no status: A1..A7, the supersede child and the 20 page cautions, in registration order"
filter status=Active '.status == "Active"' "status=Active"
filter status=Superseded '.status == "Superseded"' "status=Superseded"
is "$(names "$(ids status=Superseded)")" "S1 " "status=Superseded: S1"
is "$(names "$(ids status=Retired)")" "R1 R2 " "status=Retired: R1 and R2"
filter 'status=Retired&status=Superseded' '.status == "Retired" or .status == "Superseded"' "status=Retired&status=Superseded"
is "$(names "$(ids 'status=Retired&status=Superseded')")" "S1 R1 R2 " "... S1, R1, R2 in order"
filter status=all true "status=all: every caution"
is "$(ids status=all)" "$(jq -r '.[].id' "$T/truth.json" | tr '\n' ' ')" "status=all: all 31 in (registered_at, caution_id) order"

# --- target, category, severity ------------------------------------------------------------
filter target_kind=Asset '.status == "Active" and .target.kind == "Asset"' "target_kind=Asset"
filter 'target_kind=Procedure&status=all' '.target.kind == "Procedure"' "target_kind=Procedure&status=all"
filter "target_id=$ASSET" ".status == \"Active\" and .target.id == \"$ASSET\"" "target_id alone"
is "$(names "$(ids "target_id=$ASSET")")" "A1 A2 A5 A6 A7 S1C " "target_id alone matches both kinds (A5 is a Procedure)"
# The log carries the filters as the client gave them: no kind, though the
# statement matches both.
as "$P1" GET "/cautions?target_id=$ASSET"
LCID=$(cid)
json_is "$(log_select list_cautions.start ".correlation_id == \"$LCID\"")" '[.target_kind, .target_id]' \
	"[null,\"$ASSET\"]" "log: target_id alone is logged with target_kind null"
is "$(names "$(ids "target_id=$ASSET&target_kind=Asset")")" "A1 A2 A6 A7 S1C " "target_id with target_kind=Asset"
as "$P1" GET "/cautions?target_id=$ASSET&target_kind=Asset"
LCID=$(cid)
json_is "$(log_select list_cautions.start ".correlation_id == \"$LCID\"")" '.target_kind' Asset \
	"log: a given target_kind is logged as given"
# Every filter on the start line, as given and as matched: a minimum
# severity as its ladder, status=all as no statuses, the tag trimmed.
as "$P1" GET "/cautions?min_severity=Caution&status=all&tag=%20alpha%20&category=Wear&authored_by=$P1&limit=1"
LCID=$(cid)
NEXT=$(json_value "$HTTP_BODY" .next_cursor)
json_is "$(log_select list_cautions.start ".correlation_id == \"$LCID\"")" \
	'[.limit, .severities, .statuses, .tag, .category, .authored_by, .has_cursor]' \
	"[1,\"Caution,Warning\",null,\"alpha\",\"Wear\",\"$P1\",false]" \
	"log: list_cautions.start names the filters as matched"
as "$P1" GET "/cautions?limit=1&cursor=$NEXT"
LCID=$(cid)
json_is "$(log_select list_cautions.start ".correlation_id == \"$LCID\"")" .has_cursor true \
	"log: ... and has_cursor true with a cursor"
is "$(names "$(ids "target_id=$ASSET&target_kind=Procedure")")" "A5 " "target_id with target_kind=Procedure"
is "$(names "$(ids "target_id=$(tr a-f A-F <<<"$ASSET2")&status=all")")" "A3 R1 R2 " "an upper-case target_id matches"
is "$(ids "target_id=$UNKNOWN_CAUTION&status=all")" "" "an unknown target_id: nothing"
filter category=Calibration '.status == "Active" and .category == "Calibration"' "category=Calibration"
is "$(names "$(ids 'category=Wiring&status=all')")" "A3 " "category=Wiring"
filter severity=Notice '.status == "Active" and .severity == "Notice"' "severity=Notice"
filter 'severity=Notice&severity=Warning' '.status == "Active" and (.severity == "Notice" or .severity == "Warning")' \
	"severity=Notice&severity=Warning"
is "$(names "$(ids 'severity=Warning&severity=Notice&status=all')")" "A1 A3 A4 A5 A7 R1 S1C " \
	"repeated severity with status=all"
filter min_severity=Notice '.status == "Active"' "min_severity=Notice: every severity"
filter min_severity=Caution '.status == "Active" and (.severity == "Caution" or .severity == "Warning")' \
	"min_severity=Caution: Caution and Warning"
filter min_severity=Warning '.status == "Active" and .severity == "Warning"' "min_severity=Warning"
is "$(names "$(ids min_severity=Warning)")" "A3 A5 A7 S1C " "min_severity=Warning: A3 A5 A7 S1C"

# --- tag, authored_by, include_expired ------------------------------------------------------
is "$(names "$(ids tag=alpha)")" "A1 " "tag=alpha: A1 only (case-sensitive)"
is "$(names "$(ids tag=Alpha)")" "A2 " "tag=Alpha: A2 only"
is "$(names "$(ids 'tag=%20alpha%09')")" "A1 " "tag=' alpha\\t': trimmed"
is "$(names "$(ids tag=spaced)")" "A5 " "tag=spaced: the stored tag was trimmed"
is "$(ids tag=alph)" "" "tag=alph: nothing (exact match)"
is "$(names "$(ids tag=beta)")" "A2 A3 " "tag=beta: A2 and A3"
is "$(names "$(ids 'tag=old&status=all')")" "S1 " "tag=old: only the parent (nothing inherited)"
filter tag=page '(.tags | index("page")) != null' "tag=page"
filter "authored_by=$P3" ".status == \"Active\" and .authored_by == \"$P3\"" "authored_by=P3"
filter "authored_by=$P3&status=all" ".authored_by == \"$P3\"" "authored_by=P3&status=all"
is "$(names "$(ids "authored_by=$P3&status=all&tag=beta")")" "A3 " "authored_by with a tag"
is "$(ids "authored_by=$P2")" "" "authored_by of a principal with no caution: nothing"
filter "" '.status == "Active"' "include_expired absent: the expired A6 is listed"
filter include_expired=true '.status == "Active"' "include_expired=true"
filter include_expired=false '.status == "Active" and (.expired | not)' "include_expired=false"
is "$(names "$(ids "include_expired=false&target_id=$ASSET")")" "A1 A2 A5 A7 S1C " "include_expired=false leaves out A6 only"
filter "status=all&target_id=$ASSET2&min_severity=Caution" ".target.id == \"$ASSET2\" and .severity != \"Notice\"" \
	"status=all, target_id and min_severity together"
is "$(names "$(ids "status=all&target_id=$ASSET2&min_severity=Caution")")" "A3 R1 R2 " "... A3 R1 R2"

# --- the items ---------------------------------------------------------------------------
list_all /cautions status=all 100 "$T/all.json"
is "$(jq -c '[.[] | keys_unsorted] | unique' "$T/all.json")" "[$LIST_KEYS]" "every item: the 16 keys in order, then expired"
is "$(jq -c --slurpfile t "$T/truth.json" '[.[] | .caution_id as $id | (del(.registered_at, .last_status_changed_at) | to_entries
	| map(if .key == "caution_id" then .key = "id" else . end) | from_entries) == ($t[0][] | select(.id == $id) | del(.registered_at))]
	| all' "$T/all.json")" true "every item says what GET /cautions/{id} says (expires_at in UTC alike)"
is "$(jq -r --slurpfile t "$T/truth.json" '[.[] | .caution_id as $id | .registered_at == ($t[0][] | select(.id == $id) | .registered_at)] | all' \
	"$T/all.json")" true "every registered_at is its CautionRegistered's occurred_at"
is "$(jq -r --arg re "$TS_RE" '[.[] | .registered_at, (.last_status_changed_at // empty), (.expires_at // empty)
	| select(test($re) | not)] | length' "$T/all.json")" 0 "every timestamp is RFC 3339 UTC with 6 fractional digits and Z"
A7I=$(jq -c --arg id "$A7" '.[] | select(.caution_id == $id)' "$T/all.json")
json_is "$A7I" '[.expires_at, .expired, .propagate_to_children, .last_status_changed_at]' \
	'["2099-01-01T08:00:00.500000Z",false,true,null]' "A7's item: expires_at in UTC, not expired, propagate true"
json_is "$(jq -c --arg id "$A6" '.[] | select(.caution_id == $id)' "$T/all.json")" '[.status, .expired]' '["Active",true]' \
	"A6's item: Active and expired"
S1I=$(jq -c --arg id "$S1" '.[] | select(.caution_id == $id)' "$T/all.json")
json_is "$S1I" '[.status, .superseded_by_caution_id, .retired_reason]' "[\"Superseded\",\"$S1C\",null]" "S1's item: Superseded by its child"
is "$(json_value "$S1I" .last_status_changed_at)" \
	"$(q "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM events WHERE stream_id = '$S1' AND event_type = 'CautionSuperseded'")" \
	"S1's last_status_changed_at is its CautionSuperseded's occurred_at"
json_is "$(jq -c --arg id "$S1C" '.[] | select(.caution_id == $id)' "$T/all.json")" '[.parent_id, .tags, .authored_by]' \
	"[\"$S1\",[\"new\"],\"$P1\"]" "the child's item: parent_id, its own tags, the superseder"
R1I=$(jq -c --arg id "$R1" '.[] | select(.caution_id == $id)' "$T/all.json")
json_is "$R1I" '[.status, .retired_reason, (.last_status_changed_at | type)]' '["Retired","WrongTarget","string"]' \
	"R1's item: Retired, WrongTarget, last_status_changed_at set"

# b64url_decode TEXT: unpadded base64url decoded.
b64url_decode() {
	local s
	s=$(tr -- '-_' '+/' <<<"$1")
	while [[ $((${#s} % 4)) != 0 ]]; do s+='='; done
	base64 -d <<<"$s" 2>/dev/null
}

# --- paging ------------------------------------------------------------------------------
list_all /cautions status=all 3 "$T/p3.json"
is "$LIST_ERR" "" "status=all in pages of 3: every page 200"
is "$PAGES" 11 "31 cautions in pages of 3: 11 pages"
is "$LAST_CURSOR" null "the last page has next_cursor null"
is "$(jq -r '.[].caution_id' "$T/p3.json" | tr '\n' ' ')" "$(jq -r '.[].id' "$T/truth.json" | tr '\n' ' ')" \
	"pages of 3: each caution exactly once, in (registered_at, caution_id) order"
is "$(jq -c '[.[] | [.registered_at, .caution_id]] | . == sort' "$T/p3.json")" true "pages of 3: keys ascending"
is "$(jq -c '[.[].caution_id] | unique | length' "$T/p3.json")" 31 "pages of 3: 31 distinct ids"
list_all /cautions tag=page 3 "$T/page.json"
is "$PAGES" 7 "tag=page (20 cautions) in pages of 3: 7 pages"
is "$(jq -r '.[].caution_id' "$T/page.json" | tr '\n' ' ')" "$(expected '(.tags | index("page")) != null')" \
	"tag=page in pages of 3: each once, in order"
as "$P1" GET "/cautions?min_severity=Warning&limit=4"
json_is "$HTTP_BODY" '[(.items | length), .next_cursor]' '[4,null]' "exactly limit items left: no next_cursor"
as "$P1" GET "/cautions?min_severity=Warning&limit=3"
json_is "$HTTP_BODY" '[(.items | length), (.next_cursor | type)]' '[3,"string"]' "one more than limit: a next_cursor"
LCID=$(cid)
json_is "$(log_select list_cautions.success ".correlation_id == \"$LCID\"")" '[.returned, .has_next_page]' '[3,true]' \
	"log: list_cautions.success returned 3, has_next_page true"
CURSOR=$(json_value "$HTTP_BODY" .next_cursor)
like "$CURSOR" '^[A-Za-z0-9_-]+$' "next_cursor is unpadded base64url"
# registered_at's isoformat() in UTC, as the original writes its cursors:
# +00:00, and no fraction when it is zero.
LAST_AT=$(jq -r --arg id "$(json_value "$HTTP_BODY" '.items[2].caution_id')" \
	'.[] | select(.id == $id) | .registered_at' "$T/truth.json")
LAST_ID=$(json_value "$HTTP_BODY" '.items[2].caution_id')
ISO_AT=$(sed -e 's/\.000000Z$/Z/' -e 's/Z$/+00:00/' <<<"$LAST_AT")
is "$(b64url_decode "$CURSOR")" "$ISO_AT|$LAST_ID" \
	"next_cursor is '<registered_at isoformat>|<caution_id>' of the last item"
as "$P1" GET "/cautions?min_severity=Warning&limit=3&cursor=$CURSOR"
is "$(names "$(json_value "$HTTP_BODY" '[.items[].caution_id] | join(" ")') ")" "S1C " "the cursor's page: the rest"
REST=$HTTP_BODY
# b64url TEXT: unpadded base64url.
b64url() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
# Any RFC 3339 time with an offset for the same instant pages on alike:
# corad's own answers' form, and another offset.
for at in "$LAST_AT" "$(TZ=Etc/GMT+5 date -d "$LAST_AT" +%Y-%m-%dT%H:%M:%S.%6N-05:00)"; do
	as "$P1" GET "/cautions?min_severity=Warning&limit=3&cursor=$(b64url "$at|$LAST_ID")"
	is "$HTTP_BODY" "$REST" "a cursor of '$at': the same page"
done
as "$P1" GET "/cautions?status=all"
json_is "$HTTP_BODY" '[(.items | length), .next_cursor]' '[31,null]' "no limit: up to 50 items (31)"
as "$P1" GET "/cautions?status=all&limit=100"
json_is "$HTTP_BODY" '.items | length' 31 "limit=100: 31 items"
as "$P1" GET "/cautions?status=all&limit=1"
json_is "$HTTP_BODY" '[(.items | length), (.next_cursor | type)]' '[1,"string"]' "limit=1: one item and a cursor"

# --- validation ----------------------------------------------------------------------------
# bad_query QUERY TYPE LOC-JSON desc
bad_query() {
	as "$P1" GET "/cautions?$1"
	is "$HTTP_STATUS" 422 "$4: 422"
	json_is "$HTTP_BODY" '.detail | map([.type, .loc])' "[[\"$2\",$3]]" "$4: type $2 at $3"
}
bad_query limit=0 greater_than_equal '["query","limit"]' "limit=0"
bad_query limit=101 less_than_equal '["query","limit"]' "limit=101"
bad_query limit=abc int_parsing '["query","limit"]' "limit=abc"
bad_query target_kind=Equipment enum '["query","target_kind"]' "target_kind=Equipment"
bad_query target_id=nope uuid_parsing '["query","target_id"]' "target_id=nope"
bad_query category=Rust enum '["query","category"]' "category=Rust"
bad_query min_severity=Danger enum '["query","min_severity"]' "min_severity=Danger"
bad_query tag= string_too_short '["query","tag"]' "tag empty"
bad_query "tag=$(printf 'x%.0s' {1..51})" string_too_long '["query","tag"]' "a 51-character tag"
bad_query authored_by=me uuid_parsing '["query","authored_by"]' "authored_by=me"
bad_query include_expired=maybe bool_parsing '["query","include_expired"]' "include_expired=maybe"
as "$P1" GET "/cautions?severity=Danger"
is "$HTTP_STATUS" 422 "severity=Danger: 422"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc[0], .loc[1], .input]' '["enum","query","severity","Danger"]' "severity=Danger: enum"
as "$P1" GET "/cautions?status=gone"
is "$HTTP_STATUS" 422 "status=gone: 422"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc[0], .loc[1], .msg]' \
	"[\"enum\",\"query\",\"status\",\"Input should be 'Active', 'Superseded', 'Retired' or 'all'\"]" "status=gone: enum"

# conflict QUERY DETAIL PRINCIPAL desc
conflict() {
	as "$3" GET "/cautions?$1"
	is "$HTTP_STATUS" 422 "$4: 422"
	is "$(jq -c . <<<"$HTTP_BODY")" "$(jq -cn --arg d "$2" '{detail: $d}')" "$4: detail"
	is "$(q "SELECT count(*) FROM entries_access_verdicts WHERE correlation_id = '$(cid)'")" 0 "$4: no verdict row"
}
conflict 'severity=Notice&min_severity=Caution' "$SEV_CONFLICT" "$P1" "severity with min_severity"
conflict 'min_severity=Warning&severity=Warning&severity=Caution' "$SEV_CONFLICT" "$P1" "min_severity with two severities"
conflict 'status=all&status=Active' "$STATUS_CONFLICT" "$P1" "status=all with Active"
conflict 'status=Retired&status=all' "$STATUS_CONFLICT" "$P1" "status=Retired with all"
conflict 'severity=Notice&min_severity=Caution' "$SEV_CONFLICT" "$P2" "P2 (denied): the severity conflict comes before the 403"
conflict 'status=all&status=Superseded' "$STATUS_CONFLICT" "$P2" "P2 (denied): the status conflict comes before the 403"

# bad_cursor RAW desc
bad_cursor() {
	local d
	as "$P1" GET "/cautions?cursor=$1"
	is "$HTTP_STATUS" 422 "$2: 422"
	d=$(json_value "$HTTP_BODY" .detail)
	if [[ $d == "Invalid cursor '$1': "* && $d == *"$CURSOR_SUFFIX" && ${#d} -gt $((${#1} + 22 + ${#CURSOR_SUFFIX})) ]]; then
		pass "$2: detail names the cursor, a reason and where cursors come from"
	else
		fail "$2: detail names the cursor, a reason and where cursors come from" "got: $HTTP_BODY"
	fi
}
bad_cursor abc "cursor abc"
bad_cursor "${CURSOR:0:${#CURSOR}-3}" "a real cursor without its last 3 characters"
bad_cursor "${CURSOR:4}" "a real cursor without its first 4 characters"
bad_cursor "$(b64url "2024-01-01T00:00:00.000000Z|nope")" "a cursor whose id is not a UUID"
# Dates the calendar does not have never reach the database (a 500 there).
for at in 2026-13-01T00:00:00.000000Z 2026-02-30T00:00:00.000000Z 0000-01-01T00:00:00.000000Z \
	2026-01-01T24:00:00.000000Z 2026-01-01T00:00:00 2026-01-01; do
	bad_cursor "$(b64url "$at|$A1")" "a cursor whose time is $at"
	json_like "$HTTP_BODY" .detail ": invalid registered_at\\." "... invalid registered_at"
done

# --- authorization ------------------------------------------------------------------------
as "$P2" GET /cautions
is "$HTTP_STATUS" 403 "P2 lists: 403"
is "$(jq -c . <<<"$HTTP_BODY")" '{"detail":"ListCautions denied by policy rule 1"}' "P2 lists: detail"
V=$(cverdict "$(cid)")
is "$(count_lines "$V")" 1 "P2 lists: one verdict row"
json_is "$V" '[.decision, .command_name, .principal_id]' "[\"deny\",\"ListCautions\",\"$P2\"]" "P2 lists: deny verdict row"
ok "P2 lists: list_cautions.denied logged" log_has list_cautions.denied ".correlation_id == \"$(cid)\" and .principal_id == \"$P2\""
as "$P2" GET /cautions?cursor=abc
is "$HTTP_STATUS" 403 "P2 with a bad cursor: 403 (authorization before the cursor)"

# --- eventual consistency: a retirement shows up ------------------------------------------------
retire_caution "$A1" NoLongerApplies "$P1"
is "$HTTP_STATUS" 204 "retire A1"
a1_retired() { [[ $(names "$(ids status=Retired)") == "A1 R1 R2 " ]]; }
ok "status=Retired lists A1 within 5 s" wait_until 5 a1_retired
is "$(names "$(ids tag=alpha)")" "" "tag=alpha (Active by default): A1 is gone"

# Bytes that are not UTF-8 in the tag are read as U+FFFD, as the
# original's framework decodes a query string.
reg "$P1" '.tags = ["d\ufffd"]'; U1=$CID_NEW
u1_listed() { [[ $(ids 'tag=d%EF%BF%BD') == "$U1 " ]]; }
ok "tag=d U+FFFD lists the caution tagged so within 5 s" wait_until 5 u1_listed
is "$(ids 'tag=d%FF')" "$U1 " "tag=d%FF (not UTF-8): the same caution"
is "$(ids 'tag=d%FF%FE')" "" "tag=d%FF%FE (two U+FFFD): nothing"

nok "no projection.error logged" log_has projection.error
nok "no worker crashed" log_has master.child_exited '.kind == "worker"'
diag "elapsed: $((($(date +%s%N) - START_NS) / 1000000)) ms"

done_testing
