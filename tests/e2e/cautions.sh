#!/bin/bash
# shellcheck disable=SC2016  # jq programs with $variables, in single quotes
# The Caution commands and GET against a real PostgreSQL: register,
# supersede, retire and get a caution with their exact bodies and texts; the
# events each writes (payloads, envelope, the two streams of a supersede);
# the allow and deny verdict rows; the log lines; the 422 shapes of the
# schema and the domain's 400s (with the Python repr of the raw value) in
# their fixed order; expires_at offsets (GET in UTC, the payload in the
# caller's offset) and expiry; Idempotency-Key on register and supersede; a
# foreign writer's events; and that a refused request writes nothing.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_caution.sh"
START_NS=$(date +%s%N)
db_setup

P3=0190a1f4-7c3e-7d2a-9b1c-0000000c0ffe
# P2 may do nothing in the Caution context; everything else is allowed.
cat >"$T/policy.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["RegisterCaution","SupersedeCaution",
 "RetireCaution","GetCaution","ListCautions"],"effect":"deny"}]}
EOF

nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 AUTHZ_POLICY_FILE="$T/policy.json" ||
	bail "corad serve starts as cora_app with a policy"
pass "corad serve starts as cora_app with a policy that denies the Caution context to P2"

# Payload timestamps are Python's isoformat of the server clock: +00:00, the
# fraction only when not zero (doc/design.md, "The Caution context").
EV_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?\+00:00$'
REGISTERED_KEYS='["authored_by","category","caution_id","expires_at","occurred_at","parent_id","propagate_to_children","severity","tags","target","text","workaround"]'

# unchanged BEFORE desc: no event, projection row or verdict was added.
unchanged() { is "$(caution_rows)" "$1" "$2: no event, projection row or verdict added"; }
# no_verdict desc: the last request wrote no verdict row.
no_verdict() { is "$(q "SELECT count(*) FROM entries_access_verdicts WHERE correlation_id = '$(cid)'")" 0 "$1: no verdict row"; }
# ordered JSON: the document as compact JSON with its keys in the order sent.
ordered() { jq -c . <<<"$1" 2>/dev/null || echo "<invalid JSON: ${1:0:300}>"; }
# expected_get ID TARGET-KIND TARGET-ID CATEGORY SEVERITY TEXT WORKAROUND AUTHOR TAGS-JSON
#   EXPIRES-JSON PROPAGATE STATUS PARENT-JSON SUPERSEDED-BY-JSON REASON-JSON EXPIRED
expected_get() {
	jq -cn --arg id "$1" --arg kind "$2" --arg tid "$3" --arg cat "$4" --arg sev "$5" --arg text "$6" \
		--arg wa "$7" --arg author "$8" --argjson tags "$9" --argjson exp "${10}" --argjson prop "${11}" \
		--arg st "${12}" --argjson parent "${13}" --argjson sup "${14}" --argjson reason "${15}" \
		--argjson expired "${16}" \
		'{id: $id, target: {kind: $kind, id: $tid}, category: $cat, severity: $sev, text: $text,
		  workaround: $wa, authored_by: $author, tags: $tags, expires_at: $exp,
		  propagate_to_children: $prop, status: $st, parent_id: $parent,
		  superseded_by_caution_id: $sup, retired_reason: $reason, expired: $expired}'
}
# denied PRINCIPAL COMMAND VERB desc: the 403 in HTTP_*, its deny verdict
# row, its <verb>.denied log line, and no event with its correlation id.
denied() {
	local p=$1 cmd=$2 verb=$3 desc=$4 c v detail="$2 denied by policy rule 1"
	is "$HTTP_STATUS" 403 "$desc: 403"
	is "$(ordered "$HTTP_BODY")" "$(jq -cn --arg d "$detail" '{detail: $d}')" "$desc: body"
	c=$(cid)
	v=$(cverdict "$c")
	is "$(count_lines "$v")" 1 "$desc: one verdict row"
	json_is "$v" '[.decision, .command_name, .principal_id, .reason]' \
		"[\"deny\",\"$cmd\",\"$p\",\"$detail\"]" "$desc: deny verdict row"
	ok "$desc: $verb.denied logged with the reason" \
		log_has "$verb.denied" ".correlation_id == \"$c\" and .principal_id == \"$p\" and .reason == \"$detail\""
	nok "$desc: no $verb.success logged" log_has "$verb.success" ".correlation_id == \"$c\""
	is "$(q "SELECT count(*) FROM events WHERE correlation_id = '$c'")" 0 "$desc: no event with its correlation id"
}

# ==== register =====================================================================
BODY=$(cbody '.text = "  Stalls below 0.5 mm/s \n" | .workaround = "\tJog it first "
	| .tags = ["  beta", "alpha", "beta", "Alpha", "alpha "] | .expires_at = "2099-01-01T10:00:00.5+02:00"
	| .propagate_to_children = true | .authored_by = $p2 | .extra = {"x": 1}' --arg p2 "$P2")
before=$(caution_rows)
register_caution "$BODY" "$P1"
is "$HTTP_STATUS" 201 "POST /cautions: 201"
is "$(hdr Content-Type)" application/json "201 is application/json"
C1=$CID_NEW
like "$C1" "$UUID7_RE" "caution_id is a UUIDv7"
is "$(ordered "$HTTP_BODY")" "{\"caution_id\":\"$C1\"}" "the 201 body is {\"caution_id\"} only"
CID1=$(cid)
like "$CID1" "$UUID_RE" "201 has X-Correlation-Id"

is "$(q "SELECT count(*) FROM events WHERE stream_id = '$C1'")" 1 "register: one event in the caution's stream"
EV=$(cev_json "$C1" CautionRegistered)
json_is "$EV" '[.stream_type, .stream_id, .version, .event_type, .schema_version]' \
	"[\"Caution\",\"$C1\",1,\"CautionRegistered\",1]" "event: Caution/<id> version 1 CautionRegistered schema_version 1"
json_is "$EV" .metadata '{"command":"RegisterCaution"}' "event: metadata {command: RegisterCaution}"
json_is "$EV" '[.correlation_id, .causation_id, .principal_id]' "[\"$CID1\",null,\"$P1\"]" \
	"event: correlation_id is X-Correlation-Id, causation_id NULL, principal_id the caller"
json_like "$EV" .event_id "$UUID7_RE" "event: event_id is a UUIDv7"
isnt "$(json_value "$EV" .event_id)" "$C1" "event: event_id differs from the caution_id"
json_is "$EV" '.payload | keys' "$REGISTERED_KEYS" "event: the payload keys of CautionRegistered"
json_eq "$(json_value "$EV" '.payload | del(.occurred_at)')" "$(jq -cnS --arg id "$C1" --arg a "$ASSET" --arg p1 "$P1" \
	'{caution_id: $id, target: {kind: "Asset", id: $a}, category: "Wear", severity: "Caution",
	  text: "Stalls below 0.5 mm/s", workaround: "Jog it first", tags: ["Alpha", "alpha", "beta"],
	  authored_by: $p1, expires_at: "2099-01-01T10:00:00.500000+02:00", propagate_to_children: true,
	  parent_id: null}')" \
	"event: payload (trimmed text and workaround, tags trimmed/unique/sorted, authored_by the caller, expires_at in the caller's offset)"
json_like "$EV" .payload.occurred_at "$EV_RE" "event: payload.occurred_at is isoformat with +00:00"
is "$(q "SELECT (payload->>'occurred_at')::timestamptz = occurred_at FROM events WHERE stream_id = '$C1'")" t \
	"event: payload.occurred_at is the event's occurred_at"
V=$(cverdict "$CID1")
is "$(count_lines "$V")" 1 "register: one verdict row"
json_is "$V" '[.decision, .command_name, .principal_id, .reason]' \
	"[\"allow\",\"RegisterCaution\",\"$P1\",\"RegisterCaution allowed by the policy default (no rule matched)\"]" \
	"register: allow verdict row (RegisterCaution, the caller)"
is "$(caution_rows)" "$(awk '{ print $1 + 1, $2 + 1, $3 + 1 }' <<<"$before")" \
	"register: one event, one projection row, one verdict"

S=$(log_select register_caution.start ".correlation_id == \"$CID1\"")
is "$(count_lines "$S")" 1 "log: one register_caution.start"
json_is "$S" '[.command_name, .principal_id, has("causation_id"), .causation_id]' \
	"[\"RegisterCaution\",\"$P1\",true,null]" "register_caution.start: command_name, principal_id, causation_id null"
S=$(log_select register_caution.success ".correlation_id == \"$CID1\"")
is "$(count_lines "$S")" 1 "log: one register_caution.success"
json_is "$S" '[.command_name, .principal_id, .caution_id, .event_count, .level]' \
	"[\"RegisterCaution\",\"$P1\",\"$C1\",1,\"info\"]" "register_caution.success: caution_id, event_count 1"

# ---- GET ---------------------------------------------------------------------------
get_caution "$C1" "$P1"
is "$HTTP_STATUS" 200 "GET /cautions/{id}: 200"
is "$(hdr Content-Type)" application/json "GET is application/json"
is "$(json_value "$HTTP_BODY" 'keys_unsorted')" "$GET_KEYS" "GET: the 14 keys in order, then expired"
is "$(ordered "$HTTP_BODY")" "$(expected_get "$C1" Asset "$ASSET" Wear Caution "Stalls below 0.5 mm/s" \
	"Jog it first" "$P1" '["Alpha","alpha","beta"]' '"2099-01-01T08:00:00.500000Z"' true Active null null null false)" \
	"GET: the whole body (expires_at in UTC with microseconds and Z)"
GCID=$(cid)
is "$(q "SELECT count(*) FROM entries_access_verdicts WHERE correlation_id = '$GCID'")" 0 "GET: an allowed query writes no verdict"
S=$(log_select get_caution.success ".correlation_id == \"$GCID\"")
is "$(count_lines "$S")" 1 "log: one get_caution.success"
json_is "$S" '[.query_name, .principal_id, .caution_id, .found, has("causation_id")]' \
	"[\"GetCaution\",\"$P1\",\"$C1\",true,false]" "get_caution.success: query_name, caution_id, found true"
is "$(log_count get_caution.start ".correlation_id == \"$GCID\" and .query_name == \"GetCaution\"")" 1 \
	"log: one get_caution.start"

# ---- defaults, null tags, no principal, Procedure -----------------------------------
register_caution "$(cbody '.target = {kind: "Procedure", id: $p} | .severity = "Notice" | .tags = null' --arg p "$PROC")"
is "$HTTP_STATUS" 201 "register without a principal, tags null, on a Procedure: 201"
C2=$CID_NEW
EV=$(cev_json "$C2" CautionRegistered)
json_is "$EV" '.payload | [.tags, .expires_at, .propagate_to_children, .parent_id, .authored_by]' \
	"[[],null,false,null,\"$SYSTEM\"]" "defaults: tags [], expires_at null, propagate false, parent_id null; authored_by the system principal"
json_is "$EV" .principal_id "$SYSTEM" "no principal: events.principal_id is the system principal"
get_caution "$C2"
is "$(ordered "$HTTP_BODY")" "$(expected_get "$C2" Procedure "$PROC" Wear Notice "The hexapod stalls below 0.5 mm/s" \
	"Jog it first" "$SYSTEM" '[]' null false Active null null null false)" "GET of the defaults: the whole body"
P1U=$(tr '[:lower:]' '[:upper:]' <<<"$P1")
register_caution "$(cbody '.tags = ["a", " a", "a ", "\u00a0a\u2003"]')" "$P1U"
is "$HTTP_STATUS" 201 "register as an upper-case principal, with tags equal once trimmed: 201"
json_is "$(cev_json "$CID_NEW" CautionRegistered)" '[.payload.tags, .payload.authored_by, .principal_id]' \
	"[[\"a\"],\"$P1\",\"$P1\"]" "the four tags collapse into one; authored_by lower-cased"

# ---- expires_at: the payload keeps the offset, GET answers UTC ------------------------
# expiry SENT PAYLOAD GET
expiry() {
	register_caution "$(cbody '.expires_at = $e' --arg e "$1")" "$P1"
	is "$HTTP_STATUS" 201 "expires_at $1: 201"
	json_is "$(cev_json "$CID_NEW" CautionRegistered)" .payload.expires_at "$2" "expires_at $1: payload $2"
	get_caution "$CID_NEW" "$P1"
	json_is "$HTTP_BODY" '[.expires_at, .expired]' "[\"$3\",false]" "expires_at $1: GET $3"
}
expiry 2099-06-01T00:00:00Z 2099-06-01T00:00:00+00:00 2099-06-01T00:00:00.000000Z
expiry 2099-06-01T00:00:00.123456-05:30 2099-06-01T00:00:00.123456-05:30 2099-06-01T05:30:00.123456Z
expiry 2099-12-31T23:30:00+00:00 2099-12-31T23:30:00+00:00 2099-12-31T23:30:00.000000Z
expiry 2099-01-01T00:00:00.000001+14:00 2099-01-01T00:00:00.000001+14:00 2098-12-31T10:00:00.000001Z

# An offset that carries the instant past 9999-12-31 in UTC: either refused,
# or answered as an RFC 3339 time like every other.
register_caution "$(cbody '.expires_at = "9999-12-31T23:00:00-12:00"')" "$P1"
if [[ $HTTP_STATUS == 201 ]]; then
	get_caution "$CID_NEW" "$P1"
	json_like "$HTTP_BODY" .expires_at "$TS_RE" \
		"expires_at 9999-12-31T23:00:00-12:00 accepted: GET answers an RFC 3339 UTC time"
else
	like "$HTTP_STATUS" '^(400|422)$' "expires_at 9999-12-31T23:00:00-12:00: refused (its UTC year is 10000)"
fi

# ---- a caution whose expires_at passes --------------------------------------------------
register_caution "$(cbody '.expires_at = $e' --arg e "$(utc_in 2)")" "$P1"
is "$HTTP_STATUS" 201 "register with expires_at 2 s ahead: 201"
CX=$CID_NEW
get_caution "$CX" "$P1"
json_is "$HTTP_BODY" '[.status, .expired]' '["Active",false]' "before expires_at: Active, expired false"
sleep 3
get_caution "$CX" "$P1"
is "$HTTP_STATUS" 200 "after expires_at: GET 200"
json_is "$HTTP_BODY" '[.status, .expired]' '["Active",true]' "after expires_at: still Active, expired true"
is "$(q "SELECT count(*) FROM events WHERE stream_id = '$CX'")" 1 "after expires_at: no event was written"

# ==== validation: 422, nothing written =================================================
# bad422 BODY DETAIL-JSON desc: 422 with exactly that detail list.
bad422() {
	local before
	before=$(caution_rows)
	register_caution "$1" "$P1"
	is "$HTTP_STATUS" 422 "$3: 422"
	is "$(jq -c .detail <<<"$HTTP_BODY" 2>/dev/null)" "$(jq -c . <<<"$2")" "$3: detail"
	is "$(hdr Content-Type)" application/json "$3: application/json"
	unchanged "$before" "$3"
}
# err TYPE LOC-JSON MSG INPUT-JSON: one detail entry.
err() { jq -cn --arg t "$1" --argjson l "$2" --arg m "$3" --argjson i "$4" '{type: $t, loc: $l, msg: $m, input: $i}'; }

B=$(cbody 'del(.target)')
bad422 "$B" "[$(err missing '["body","target"]' "Field required" "$B")]" "missing target"
B=$(cbody 'del(.text, .workaround)')
bad422 "$B" "[$(err missing '["body","text"]' "Field required" "$B"),$(err missing '["body","workaround"]' "Field required" "$B")]" \
	"missing text and workaround (both reported, in body order)"
bad422 "$(cbody '.target.kind = "Equipment"')" \
	"[$(err enum '["body","target","kind"]' "Input should be 'Asset' or 'Procedure'" '"Equipment"')]" "target kind Equipment"
B=$(cbody '.target = {kind: "Asset"}')
bad422 "$B" "[$(err missing '["body","target","id"]' "Field required" '{"kind":"Asset"}')]" "target without id"
register_caution "$(cbody '.target.id = "nope"')" "$P1"
is "$(jq -c '.detail | map([.type, .loc, .input])' <<<"$HTTP_BODY")" '[["uuid_parsing",["body","target","id"],"nope"]]' \
	"target id nope: uuid_parsing at body.target.id"
bad422 "$(cbody '.category = "Rust"')" \
	"[$(err enum '["body","category"]' "Input should be 'Wear', 'Calibration', 'Wiring', 'OperationalWindow', 'InterlockQuirk' or 'ProcedureGotcha'" '"Rust"')]" \
	"category Rust"
bad422 "$(cbody '.severity = "Danger"')" \
	"[$(err enum '["body","severity"]' "Input should be 'Notice', 'Caution' or 'Warning'" '"Danger"')]" "severity Danger"
bad422 "$(cbody '.text = ""')" "[$(err string_too_short '["body","text"]' "String should have at least 1 character" '""')]" \
	"empty text"
T2001=$(printf 'é%.0s' {1..2001})
bad422 "$(cbody '.text = $t' --arg t "$T2001")" \
	"[$(err string_too_long '["body","text"]' "String should have at most 2000 characters" "\"$T2001\"")]" \
	"2001-code-point text"
PADDED=" $(printf 'a%.0s' {1..1999}) "
bad422 "$(cbody '.workaround = $t' --arg t "$PADDED")" \
	"[$(err string_too_long '["body","workaround"]' "String should have at most 2000 characters" "\"$PADDED\"")]" \
	"a workaround of 2001 code points before trimming"
bad422 "$(cbody '.text = 5')" "[$(err string_type '["body","text"]' "Input should be a valid string" 5)]" "text 5"
bad422 "$(cbody '.tags = "a"')" "[$(err list_type '["body","tags"]' "Input should be a valid list" '"a"')]" "tags a string"
TAGS51=$(jq -cn '[range(51) | "t\(.)"]')
bad422 "$(cbody '.tags = $t' --argjson t "$TAGS51")" \
	"[$(err too_long '["body","tags"]' "List should have at most 50 items after validation, not 51" "$TAGS51")]" "51 tags"
TAG51=$(printf 'x%.0s' {1..51})
bad422 "$(cbody '.tags = ["ok", $t]' --arg t "$TAG51")" \
	"[$(err string_too_long '["body","tags",1]' "String should have at most 50 characters" "\"$TAG51\"")]" \
	"a 51-character tag"
bad422 "$(cbody '.tags = ["", "ok", 7]')" \
	"[$(err string_too_short '["body","tags",0]' "String should have at least 1 character" '""'),$(err string_type '["body","tags",2]' "Input should be a valid string" 7)]" \
	"an empty tag and a number tag"
bad422 "$(cbody '.expires_at = 1700000000')" \
	"[$(err datetime_type '["body","expires_at"]' "Input should be a valid datetime" 1700000000)]" "expires_at an integer"
bad422 "$(cbody '.expires_at = "2030-01-01"')" \
	"[$(err timezone_aware '["body","expires_at"]' "Input should have timezone info" '"2030-01-01"')]" "expires_at a date"
bad422 "$(cbody '.expires_at = "2030-01-01T00:00:00"')" \
	"[$(err timezone_aware '["body","expires_at"]' "Input should have timezone info" '"2030-01-01T00:00:00"')]" \
	"expires_at without an offset"
bad422 "$(cbody '.expires_at = "2030-13-01T00:00:00Z"')" \
	"[$(err datetime_parsing '["body","expires_at"]' "Input should be a valid datetime, month value is outside expected range of 1-12" '"2030-13-01T00:00:00Z"')]" \
	"expires_at month 13"
register_caution "$(cbody '.expires_at = "next tuesday"')" "$P1"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc, (.msg | startswith("Input should be a valid datetime, ")), (.msg | length > 34)]' \
	'["datetime_parsing",["body","expires_at"],true,true]' "expires_at 'next tuesday': datetime_parsing with a reason"
bad422 "$(cbody '.propagate_to_children = "maybe"')" \
	"[$(err bool_parsing '["body","propagate_to_children"]' "Input should be a valid boolean, unable to interpret input" '"maybe"')]" \
	"propagate_to_children maybe"
B=$(cbody '.severity = "Danger" | .text = "" | .expires_at = "2030-01-01"')
bad422 "$B" "[$(err enum '["body","severity"]' "Input should be 'Notice', 'Caution' or 'Warning'" '"Danger"'),$(err string_too_short '["body","text"]' "String should have at least 1 character" '""'),$(err timezone_aware '["body","expires_at"]' "Input should have timezone info" '"2030-01-01"')]" \
	"three errors: every one, in body order"
before=$(caution_rows)
register_caution '{bad' "$P1"
is "$HTTP_STATUS" 422 "a body that is not JSON: 422"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc[0]]' '["json_invalid","body"]' "not JSON: json_invalid"
register_caution '[]' "$P1"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc]' '["model_attributes_type",["body"]]' "a JSON array: model_attributes_type"
register_caution "$(cbody '.text = "hexa" | .tags = ["t"]' | sed 's/"hexa"/"hexa\\ud800pod"/')" "$P1"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc[0]]' '["json_invalid","body"]' \
	"a lone surrogate escape in text: json_invalid (not stored as U+FFFD)"
no_verdict "a 422"
unchanged "$before" "malformed bodies"
# The schema comes before authorization: P2 gets the 422, not a 403.
register_caution "$(cbody '.text = ""')" "$P2"
is "$HTTP_STATUS" 422 "P2 with an empty text: 422 (the schema before authorization)"
no_verdict "P2 with an empty text"
unchanged "$before" "P2 with an empty text"

# ==== the domain: 400 after authorization, nothing written ================================
# bad400 BODY DETAIL desc
bad400() {
	local before
	before=$(caution_rows)
	register_caution "$1" "$P1"
	is "$HTTP_STATUS" 400 "$3: 400"
	is "$(ordered "$HTTP_BODY")" "$(jq -cn --arg d "$2" '{detail: $d}')" "$3: detail"
	no_verdict "$3"
	unchanged "$before" "$3"
}
bad400 "$(cbody '.text = "   "')" "Caution text must be 1-2000 chars after trimming (got: '   ')" "a blank text"
bad400 "$(cbody '.text = "\t\n "')" "Caution text must be 1-2000 chars after trimming (got: '\\t\\n ')" \
	"a text of tab, newline and space (repr escapes them)"
bad400 "$(cbody '.workaround = " \u00a0\u2003"')" \
	"Caution workaround must be 1-2000 chars after trimming (got: ' \\xa0\\u2003')" "a workaround of Unicode whitespace"
bad400 "$(cbody '.tags = ["ok", "  "]')" "Caution tag must be 1-50 chars after trimming (got: '  ')" "a blank tag"
bad400 "$(cbody '.tags = ["b", " ", "\t", "  "]')" "Caution tag must be 1-50 chars after trimming (got: '\\t')" \
	"several blank tags: the first in code-point order of the raw values"
bad400 "$(cbody '.tags = ["b", "  ", " "]')" "Caution tag must be 1-50 chars after trimming (got: ' ')" \
	"' ' before '  '"
bad400 "$(cbody '.text = "a\u0000b"')" "Caution text must not contain NUL characters" "a text with NUL"
bad400 "$(cbody '.workaround = "\u0000"')" "Caution workaround must not contain NUL characters" "a workaround of NUL"
bad400 "$(cbody '.tags = ["x\u0000"]')" "Caution tag must not contain NUL characters" "a tag with NUL"
# A NUL inside a key does not end it: "text\u0000" is not text.
register_caution "$(cbody '. + {"text\u0000": "Unchecked"}')" || fail "a key text\\u0000: 201" "$HTTP_STATUS $HTTP_BODY"
get_caution "$CID_NEW"
json_is "$HTTP_BODY" .text "The hexapod stalls below 0.5 mm/s" "a key text\\u0000: the text given is kept"
bad400 "$(cbody '.expires_at = "2000-01-01T00:00:00Z"')" "expires_at must be in the future" "expires_at in 2000"
bad400 "$(cbody '.expires_at = $e' --arg e "$(utc_in -1)")" "expires_at must be in the future" "expires_at a second ago"
# The fixed order: text, workaround, tags, expires_at.
bad400 "$(cbody '.text = " " | .workaround = " " | .tags = [" "] | .expires_at = "2000-01-01T00:00:00Z"')" \
	"Caution text must be 1-2000 chars after trimming (got: ' ')" "everything wrong: text first"
bad400 "$(cbody '.workaround = "  " | .tags = [" "] | .expires_at = "2000-01-01T00:00:00Z"')" \
	"Caution workaround must be 1-2000 chars after trimming (got: '  ')" "workaround, tags, expires_at wrong: workaround"
bad400 "$(cbody '.tags = ["\n"] | .expires_at = "2000-01-01T00:00:00Z"')" \
	"Caution tag must be 1-50 chars after trimming (got: '\\n')" "tags and expires_at wrong: the tag"
# Authorization before the domain: P2 gets 403, not 400.
register_caution "$(cbody '.text = "   "')" "$P2"
denied "$P2" RegisterCaution register_caution "P2 registers a blank text (403 before 400)"

# Lengths at the bounds are stored.
T2000=$(printf 'é%.0s' {1..2000})
register_caution "$(cbody '.text = $t | .workaround = $p' --arg t "$T2000" --arg p " $(printf 'w%.0s' {1..1998}) ")" "$P1"
is "$HTTP_STATUS" 201 "a 2000-code-point text and a 2000-code-point padded workaround: 201"
json_is "$(cev_json "$CID_NEW" CautionRegistered)" '.payload | [(.text | length), (.workaround | length)]' '[2000,1998]' \
	"stored: the text as sent, the workaround trimmed to 1998"
TAG50=$(printf 'y%.0s' {1..50})
TAGS50=$(jq -cn --arg t "$TAG50" '[range(49) | "t\(. + 100)"] + [$t]')
register_caution "$(cbody '.tags = $t' --argjson t "$TAGS50")" "$P1"
is "$HTTP_STATUS" 201 "50 tags, one of 50 characters: 201"
json_is "$(cev_json "$CID_NEW" CautionRegistered)" ".payload.tags | [length, (. == sort), (index(\"$TAG50\") != null)]" \
	'[50,true,true]' "50 tags stored sorted"
get_caution "$CID_NEW" "$P1"
json_is "$HTTP_BODY" '.tags | [length, . == sort]' '[50,true]' "GET: the 50 tags, sorted"

# ==== supersede ==========================================================================
register_caution "$(cbody '.tags = ["old"] | .expires_at = "2099-01-01T00:00:00Z" | .propagate_to_children = true
	| .severity = "Warning"')" "$P1"
PARENT=$CID_NEW
CHILD_BODY=$(cbody '.category = "Calibration" | .severity = "Notice" | .text = " Recalibrate weekly "
	| .authored_by = $p' --arg p "$P1")
before=$(caution_rows)
supersede_caution "$PARENT" "$CHILD_BODY" "$P3"
is "$HTTP_STATUS" 201 "POST /cautions/{parent_id}/supersede: 201"
CHILD=$CID_NEW
like "$CHILD" "$UUID7_RE" "supersede: the child's caution_id is a UUIDv7"
isnt "$CHILD" "$PARENT" "supersede: the child is a new caution"
is "$(ordered "$HTTP_BODY")" "{\"caution_id\":\"$CHILD\"}" "supersede: the 201 body is {\"caution_id\": child}"
SCID=$(cid)
is "$(caution_rows)" "$(awk '{ print $1 + 2, $2 + 1, $3 + 1 }' <<<"$before")" \
	"supersede: two events, one projection row, one verdict"
PEV=$(cev_json "$PARENT" CautionSuperseded)
CEV=$(cev_json "$CHILD" CautionRegistered)
is "$(count_lines "$PEV")" 1 "supersede: one CautionSuperseded in the parent's stream"
json_is "$PEV" '[.version, .metadata, .principal_id, .correlation_id, .causation_id]' \
	"[2,{\"command\":\"SupersedeCaution\"},\"$P3\",\"$SCID\",null]" "CautionSuperseded: version 2, metadata, principal, correlation"
json_is "$PEV" '.payload | keys' '["caution_id","occurred_at","superseded_by_caution_id"]' "CautionSuperseded: payload keys"
json_is "$PEV" '.payload | [.caution_id, .superseded_by_caution_id]' "[\"$PARENT\",\"$CHILD\"]" \
	"CautionSuperseded: caution_id the parent, superseded_by_caution_id the child"
is "$(count_lines "$CEV")" 1 "supersede: the child's stream holds one CautionRegistered"
json_is "$CEV" '[.version, .metadata, .principal_id, .correlation_id, .causation_id]' \
	"[1,{\"command\":\"SupersedeCaution\"},\"$P3\",\"$SCID\",null]" "child CautionRegistered: version 1, metadata SupersedeCaution"
json_eq "$(json_value "$CEV" '.payload | del(.occurred_at)')" "$(jq -cnS --arg id "$CHILD" --arg a "$ASSET" --arg p3 "$P3" --arg par "$PARENT" \
	'{caution_id: $id, target: {kind: "Asset", id: $a}, category: "Calibration", severity: "Notice",
	  text: "Recalibrate weekly", workaround: "Jog it first", tags: [], authored_by: $p3, expires_at: null,
	  propagate_to_children: false, parent_id: $par}')" \
	"child payload: the request's fields only (defaults, nothing inherited), authored_by the superseder, parent_id"
is "$(q "SELECT count(DISTINCT occurred_at) || ' ' || count(DISTINCT payload->>'occurred_at') || ' ' || count(DISTINCT event_id)
	|| ' ' || count(DISTINCT transaction_id::text) FROM events WHERE correlation_id = '$SCID'")" "1 1 2 1" \
	"supersede: both events share occurred_at and the transaction, each has its own event_id"
is "$(q "SELECT string_agg(stream_id::text || ':' || event_type, ' ' ORDER BY position) FROM events WHERE correlation_id = '$SCID'")" \
	"$PARENT:CautionSuperseded $CHILD:CautionRegistered" "supersede: the parent's event comes first"
V=$(cverdict "$SCID")
is "$(count_lines "$V")" 1 "supersede: one verdict row"
json_is "$V" '[.decision, .command_name, .principal_id]' "[\"allow\",\"SupersedeCaution\",\"$P3\"]" "supersede: allow verdict"
S=$(log_select supersede_caution.success ".correlation_id == \"$SCID\"")
is "$(count_lines "$S")" 1 "log: one supersede_caution.success"
json_is "$S" '[.command_name, .principal_id, .parent_id, .child_caution_id, .parent_event_count, .child_event_count]' \
	"[\"SupersedeCaution\",\"$P3\",\"$PARENT\",\"$CHILD\",1,1]" \
	"supersede_caution.success: parent_id, child_caution_id, parent_event_count 1, child_event_count 1"
is "$(log_count supersede_caution.start ".correlation_id == \"$SCID\" and .parent_id == \"$PARENT\"")" 1 \
	"log: one supersede_caution.start with parent_id"
get_caution "$PARENT" "$P1"
is "$(ordered "$HTTP_BODY")" "$(expected_get "$PARENT" Asset "$ASSET" Wear Warning "The hexapod stalls below 0.5 mm/s" \
	"Jog it first" "$P1" '["old"]' '"2099-01-01T00:00:00.000000Z"' true Superseded null "\"$CHILD\"" null false)" \
	"GET parent: Superseded, superseded_by_caution_id the child, content unchanged"
get_caution "$CHILD" "$P1"
is "$(ordered "$HTTP_BODY")" "$(expected_get "$CHILD" Asset "$ASSET" Calibration Notice "Recalibrate weekly" \
	"Jog it first" "$P3" '[]' null false Active "\"$PARENT\"" null null false)" "GET child: Active, parent_id"

# ---- supersede refusals ----------------------------------------------------------------------
# refused STATUS DETAIL desc (after a supersede/retire call): the body and nothing written.
refused() {
	is "$HTTP_STATUS" "$1" "$3: $1"
	is "$(ordered "$HTTP_BODY")" "$(jq -cn --arg d "$2" '{detail: $d}')" "$3: detail"
	is "$(hdr Content-Type)" application/json "$3: application/json"
	no_verdict "$3"
	is "$(q "SELECT count(*) FROM events WHERE correlation_id = '$(cid)'")" 0 "$3: no event"
}
before=$(caution_rows)
NOT_ACTIVE="Caution $PARENT cannot be superseded: currently in status Superseded, supersede_caution requires Active"
supersede_caution "$PARENT" "$CHILD_BODY" "$P1"
refused 409 "$NOT_ACTIVE" "supersede a superseded caution"
supersede_caution "$PARENT" "$(cbody '.text = "   " | .target.id = $a' --arg a "$ASSET2")" "$P1"
refused 409 "$NOT_ACTIVE" "supersede a superseded caution with a blank text and another target (409 before 400)"
supersede_caution "$UNKNOWN_CAUTION" "$CHILD_BODY" "$P1"
refused 404 "Caution $UNKNOWN_CAUTION not found" "supersede an unknown caution"
supersede_caution "$UNKNOWN_CAUTION" "$(cbody '.text = "  "')" "$P1"
refused 404 "Caution $UNKNOWN_CAUTION not found" "supersede an unknown caution with a blank text (404 before 400)"
supersede_caution nope "$CHILD_BODY" "$P1"
is "$HTTP_STATUS" 422 "supersede with a bad parent id: 422"
is "$(jq -c '.detail | map([.type, .loc])' <<<"$HTTP_BODY")" '[["uuid_parsing",["path","parent_id"]]]' \
	"supersede with a bad parent id: uuid_parsing at path.parent_id"
supersede_caution "$UNKNOWN_CAUTION" "$(cbody '.severity = "Danger"')" "$P1"
is "$HTTP_STATUS" 422 "supersede an unknown caution with a bad body: 422 (the schema first)"
is "$(jq -c '.detail | map([.type, .loc])' <<<"$HTTP_BODY")" '[["enum",["body","severity"]]]' "... enum at body.severity"
supersede_caution "$UNKNOWN_CAUTION" "$CHILD_BODY" "$P2"
denied "$P2" SupersedeCaution supersede_caution "P2 supersedes an unknown caution (403 before 404)"
supersede_caution "$CHILD" "$CHILD_BODY" "$P2"
denied "$P2" SupersedeCaution supersede_caution "P2 supersedes an Active caution"
supersede_caution "$CHILD" "$(cbody '.target.id = $a' --arg a "$ASSET2")" "$P1"
refused 400 "supersede preserves target; start a new caution to retarget" "supersede onto another Asset"
supersede_caution "$CHILD" "$(cbody '.target.kind = "Procedure"')" "$P1"
refused 400 "supersede preserves target; start a new caution to retarget" "supersede onto a Procedure with the same id"
supersede_caution "$CHILD" "$(cbody '.text = "  " | .target.id = $a' --arg a "$ASSET2")" "$P1"
refused 400 "Caution text must be 1-2000 chars after trimming (got: '  ')" "a blank text and another target: the text first"
supersede_caution "$CHILD" "$(cbody '.tags = ["\t"]')" "$P1"
refused 400 "Caution tag must be 1-50 chars after trimming (got: '\\t')" "supersede with a blank tag"
supersede_caution "$CHILD" "$(cbody '.expires_at = "2001-01-01T00:00:00+01:00"')" "$P1"
refused 400 "expires_at must be in the future" "supersede with a past expires_at"
supersede_caution "$CHILD" "$(cbody '.expires_at = "2030-01-01T00:00:00"')" "$P1"
is "$HTTP_STATUS" 422 "supersede with a naive expires_at: 422"
json_is "$HTTP_BODY" '.detail[0].type' timezone_aware "... timezone_aware"
unchanged "$(awk '{ print $1, $2, $3 + 2 }' <<<"$before")" "the refused supersedes (two deny verdicts only)"
is "$(q "SELECT count(*) FROM events WHERE stream_id = '$CHILD'")" 1 "the refused supersedes left the child's stream alone"
get_caution "$CHILD" "$P1"
json_is "$HTTP_BODY" .status Active "the child is still Active"

# A chain: the child is superseded in turn, with a Procedure caution for a change.
supersede_caution "$CHILD" "$(cbody '.tags = ["z", "a"] | .expires_at = "2099-02-02T02:02:02.020202+02:00"')" "$P1"
is "$HTTP_STATUS" 201 "supersede the child: 201"
GRAND=$CID_NEW
json_is "$(cev_json "$GRAND" CautionRegistered)" '.payload | [.parent_id, .tags, .expires_at, .authored_by]' \
	"[\"$CHILD\",[\"a\",\"z\"],\"2099-02-02T02:02:02.020202+02:00\",\"$P1\"]" "the grandchild: parent_id the child, its own fields"
get_caution "$GRAND" "$P1"
json_is "$HTTP_BODY" '[.parent_id, .expires_at, .status]' "[\"$CHILD\",\"2099-02-02T00:02:02.020202Z\",\"Active\"]" \
	"GET grandchild"
register_caution "$(cbody '.target = {kind: "Procedure", id: $p}' --arg p "$PROC")" "$P1"
PR=$CID_NEW
supersede_caution "$PR" "$(cbody '.target = {kind: "Procedure", id: $p} | .text = "Step 3 first"' --arg p "$PROC")" "$P1"
is "$HTTP_STATUS" 201 "supersede a Procedure caution on the same Procedure: 201"
PR2=$CID_NEW
supersede_caution "$(tr a-f A-F <<<"$PR2")" "$(cbody '.target = {kind: "Procedure", id: $p}' --arg p "$(tr a-f A-F <<<"$PROC")")" "$P1"
is "$HTTP_STATUS" 201 "supersede with an upper-case parent id and target id: 201 (the same target)"
json_is "$(cev_json "$CID_NEW" CautionRegistered)" '.payload | [.parent_id, .target.id]' "[\"$PR2\",\"$PROC\"]" \
	"... the payload holds both ids in canonical form"
supersede_caution "$PR" "$(cbody '.target = {kind: "Procedure", id: $p}' --arg p "$PROC")" "$P1"
is "$HTTP_STATUS" 409 "supersede the first Procedure caution again: 409"
get_caution "$(tr a-f A-F <<<"$PR")" "$P1"
json_is "$HTTP_BODY" '[.id, .status]' "[\"$PR\",\"Superseded\"]" "GET with an upper-case id: 200, the id in canonical form"

# ==== retire =============================================================================
register_caution "$(cbody)" "$P1"
R1=$CID_NEW
before=$(caution_rows)
retire_caution "$R1" Resolved "$P3"
is "$HTTP_STATUS" 204 "POST /cautions/{id}/retire: 204"
is "$HTTP_BODY" "" "retire: empty body"
RCID=$(cid)
like "$RCID" "$UUID_RE" "204 has X-Correlation-Id"
is "$(caution_rows)" "$(awk '{ print $1 + 1, $2, $3 + 1 }' <<<"$before")" "retire: one event, one verdict, no new projection row"
EV=$(cev_json "$R1" CautionRetired)
is "$(count_lines "$EV")" 1 "retire: one CautionRetired"
json_is "$EV" '[.version, .metadata, .principal_id, .correlation_id, .causation_id]' \
	"[2,{\"command\":\"RetireCaution\"},\"$P3\",\"$RCID\",null]" "CautionRetired: version 2, metadata, envelope"
json_is "$EV" '.payload | keys' '["caution_id","occurred_at","reason"]' "CautionRetired: payload keys"
json_is "$EV" '.payload | [.caution_id, .reason]' "[\"$R1\",\"Resolved\"]" "CautionRetired: caution_id, reason"
json_is "$(cverdict "$RCID")" '[.decision, .command_name, .principal_id]' "[\"allow\",\"RetireCaution\",\"$P3\"]" \
	"retire: allow verdict"
S=$(log_select retire_caution.success ".correlation_id == \"$RCID\"")
is "$(count_lines "$S")" 1 "log: one retire_caution.success"
json_is "$S" '[.command_name, .principal_id, .caution_id, .event_count]' "[\"RetireCaution\",\"$P3\",\"$R1\",1]" \
	"retire_caution.success: caution_id, event_count"
get_caution "$R1" "$P1"
is "$(ordered "$HTTP_BODY")" "$(expected_get "$R1" Asset "$ASSET" Wear Caution "The hexapod stalls below 0.5 mm/s" \
	"Jog it first" "$P1" '[]' null false Retired null null '"Resolved"' false)" "GET: Retired, retired_reason Resolved"

before=$(caution_rows)
retire_caution "$R1" Resolved "$P1"
refused 409 "Caution $R1 cannot be retired: currently in status Retired, retire_caution requires Active" "retire again"
retire_caution "$PARENT" NoLongerApplies "$P1"
refused 409 "Caution $PARENT cannot be retired: currently in status Superseded, retire_caution requires Active" \
	"retire a superseded caution"
supersede_caution "$R1" "$(cbody '.text = " "')" "$P1"
refused 409 "Caution $R1 cannot be superseded: currently in status Retired, supersede_caution requires Active" \
	"supersede a retired caution (with a blank text)"
retire_caution "$UNKNOWN_CAUTION" Resolved "$P1"
refused 404 "Caution $UNKNOWN_CAUTION not found" "retire an unknown caution"
retire_caution nope Resolved "$P1"
is "$HTTP_STATUS" 422 "retire with a bad id: 422"
is "$(jq -c '.detail | map([.type, .loc, .input])' <<<"$HTTP_BODY")" '[["uuid_parsing",["path","caution_id"],"nope"]]' \
	"retire with a bad id: uuid_parsing at path.caution_id"
retire_caution "$GRAND" Fixed "$P1"
is "$HTTP_STATUS" 422 "retire with reason Fixed: 422"
is "$(jq -c .detail <<<"$HTTP_BODY")" \
	"[$(err enum '["body","reason"]' "Input should be 'Resolved', 'NoLongerApplies' or 'WrongTarget'" '"Fixed"')]" \
	"retire with reason Fixed: enum"
post_json "$P1" "/cautions/$UNKNOWN_CAUTION/retire" ''
is "$(jq -c .detail <<<"$HTTP_BODY")" '[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]' \
	"retire with no body: 422 missing body"
post_json "$P1" "/cautions/$UNKNOWN_CAUTION/retire" '{}'
is "$(jq -c .detail <<<"$HTTP_BODY")" "[$(err missing '["body","reason"]' "Field required" '{}')]" \
	"retire without a reason: 422 missing (before the 404)"
retire_caution "$UNKNOWN_CAUTION" Resolved "$P2"
denied "$P2" RetireCaution retire_caution "P2 retires an unknown caution (403 before 404)"
retire_caution "$GRAND" WrongTarget "$P2"
denied "$P2" RetireCaution retire_caution "P2 retires an Active caution"
unchanged "$(awk '{ print $1, $2, $3 + 2 }' <<<"$before")" "the refused retires (two deny verdicts only)"

# Retire takes no Idempotency-Key: the header is ignored.
retire_caution "$GRAND" WrongTarget "$P1" -H 'Idempotency-Key: rk1'
is "$HTTP_STATUS" 204 "retire with an Idempotency-Key: 204"
retire_caution "$GRAND" WrongTarget "$P1" -H 'Idempotency-Key: rk1'
is "$HTTP_STATUS" 409 "retire again with the same key: 409 (nothing replayed)"
is "$(q "SELECT count(*) FROM idempotency_keys WHERE key = 'rk1'")" 0 "retire: no idempotency_keys row"
register_caution "$(cbody)" "$P1"
retire_caution "$CID_NEW" NoLongerApplies "$P1"
is "$HTTP_STATUS" 204 "retire with NoLongerApplies: 204"
get_caution "$CID_NEW" "$P1"
json_is "$HTTP_BODY" '[.status, .retired_reason]' '["Retired","NoLongerApplies"]' "GET: retired_reason NoLongerApplies"

# ==== GET errors ==========================================================================
get_caution "$UNKNOWN_CAUTION" "$P1"
is "$HTTP_STATUS" 404 "GET an unknown caution: 404"
is "$(ordered "$HTTP_BODY")" "{\"detail\":\"Caution $UNKNOWN_CAUTION not found\"}" "GET an unknown caution: detail"
GCID=$(cid)
json_is "$(log_select get_caution.success ".correlation_id == \"$GCID\"")" '[.caution_id, .found]' \
	"[\"$UNKNOWN_CAUTION\",false]" "log: the miss is get_caution.success with found false"
is "$(log_count get_caution.failed ".correlation_id == \"$GCID\"")" 0 "... and no get_caution.failed"
get_caution nope "$P1"
is "$HTTP_STATUS" 422 "GET a bad id: 422"
is "$(jq -c '.detail | map([.type, .loc, .input])' <<<"$HTTP_BODY")" '[["uuid_parsing",["path","caution_id"],"nope"]]' \
	"GET a bad id: uuid_parsing at path.caution_id"
post_json "$P1" /actors '{"name":"Not a caution"}'
ACTOR=$(json_value "$HTTP_BODY" .actor_id)
like "$ACTOR" "$UUID_RE" "an actor is registered"
get_caution "$ACTOR" "$P1"
is "$HTTP_STATUS" 404 "GET /cautions/<an actor's id>: 404 (another stream type counts as missing)"
json_is "$HTTP_BODY" .detail "Caution $ACTOR not found" "... Caution <id> not found"
retire_caution "$ACTOR" Resolved "$P1"
is "$HTTP_STATUS" 404 "retire <an actor's id>: 404"
get_caution "$C1" "$P2"
denied "$P2" GetCaution get_caution "P2 GETs a caution"
get_caution "$UNKNOWN_CAUTION" "$P2"
is "$HTTP_STATUS" 403 "P2 GETs an unknown caution: 403 (before the 404)"

# ==== Idempotency-Key on register and supersede ============================================
IB=$(cbody '.text = "Idempotent"')
register_caution "$IB" "$P1" -H 'Idempotency-Key: r1'
is "$HTTP_STATUS" 201 "register with key r1: 201"
IBODY=$HTTP_BODY
I1=$CID_NEW
register_caution "$IB" "$P1" -H 'Idempotency-Key: r1'
is "$HTTP_STATUS" 201 "register r1 again: 201"
is "$HTTP_BODY" "$IBODY" "register r1 again: the same body (same caution_id)"
ok "register r1 again: idempotency.cache_hit logged" \
	log_has idempotency.cache_hit ".key == \"r1\" and .correlation_id == \"$(cid)\" and .command_name == \"RegisterCaution\""
is "$(log_count register_caution.success ".correlation_id == \"$(cid)\"")" 0 "register r1 again: the handler did not run"
is "$(q "SELECT count(*) FROM events WHERE payload->>'text' = 'Idempotent'")" 1 "register r1: one event"
register_caution "$(cbody '.text = "Idempotent?"')" "$P1" -H 'Idempotency-Key: r1'
is "$HTTP_STATUS" 422 "register r1 with another body: 422"
is "$(ordered "$HTTP_BODY")" "{\"detail\":\"Idempotency-Key 'r1' was previously used with a different request body\"}" \
	"register r1 with another body: detail"
register_caution "$(cbody '.text = "   "')" "$P1" -H 'Idempotency-Key: r400'
is "$HTTP_STATUS" 400 "register a blank text with key r400: 400"
B400=$HTTP_BODY
register_caution "$(cbody '.text = "   "')" "$P1" -H 'Idempotency-Key: r400'
is "$(ordered "$HTTP_BODY")" "$(ordered "$B400")" "register r400 again: the 400 replayed"

supersede_caution "$I1" "$(cbody '.text = "Idempotent child"')" "$P1" -H 'Idempotency-Key: s1'
is "$HTTP_STATUS" 201 "supersede with key s1: 201"
SBODY=$HTTP_BODY
SCHILD=$CID_NEW
supersede_caution "$I1" "$(cbody '.text = "Idempotent child"')" "$P1" -H 'Idempotency-Key: s1'
is "$HTTP_STATUS" 201 "supersede s1 again (the parent is Superseded by now): 201 replayed"
is "$HTTP_BODY" "$SBODY" "supersede s1 again: the same child"
is "$(q "SELECT count(*) FROM events WHERE stream_id IN ('$I1', '$SCHILD')")" 3 \
	"supersede s1: the parent's two events and the child's one"
is "$(log_count supersede_caution.success ".parent_id == \"$I1\"")" 1 "supersede s1: the handler ran once"
supersede_caution "$I1" "$(cbody '.text = "Another child"')" "$P1" -H 'Idempotency-Key: s1'
is "$HTTP_STATUS" 422 "supersede s1 with another body: 422"
json_is "$HTTP_BODY" .detail "Idempotency-Key 's1' was previously used with a different request body" \
	"supersede s1 with another body: detail"
# The hash is over the command (tags as a set, expires_at as kept), not
# the body as written: the same caution with its tags in another order, or
# with expires_at null rather than absent, is the same request.
register_caution "$(cbody '.text = "Tag order" | .tags = ["a", "b"]')" "$P1" -H 'Idempotency-Key: r2'
is "$HTTP_STATUS" 201 "register with key r2, tags [a, b]: 201"
TBODY=$HTTP_BODY
register_caution "$(cbody '.text = "Tag order" | .tags = ["b", "a"] | .authored_by = $p' --arg p "$P3")" "$P1" \
	-H 'Idempotency-Key: r2'
is "$HTTP_STATUS $HTTP_BODY" "201 $TBODY" "r2 again with tags [b, a] (and an ignored authored_by): the same command, replayed"
register_caution "$(cbody '.text = "Null expiry"')" "$P1" -H 'Idempotency-Key: r3'
is "$HTTP_STATUS" 201 "register with key r3, no expires_at: 201"
TBODY=$HTTP_BODY
register_caution "$(cbody '.text = "Null expiry" | .expires_at = null | .propagate_to_children = false')" "$P1" \
	-H 'Idempotency-Key: r3'
is "$HTTP_STATUS $HTTP_BODY" "201 $TBODY" "r3 again with expires_at null and propagate false: the same command, replayed"
is "$(q "SELECT count(*) FROM events WHERE payload->>'text' IN ('Tag order', 'Null expiry')")" 2 "r2, r3: one event each"

supersede_caution "$SCHILD" "$(cbody '.text = "Idempotent child"')" "$P1" -H 'Idempotency-Key: s1'
is "$HTTP_STATUS" 422 "key s1 on another parent: 422 (the parent is part of the request)"
is "$(q "SELECT string_agg(command_name, ' ' ORDER BY command_name) FROM idempotency_keys WHERE key IN ('r1', 's1') AND principal_id = '$P1'")" \
	"RegisterCaution SupersedeCaution" "the keys are stored under RegisterCaution and SupersedeCaution"
# The row keeps the result as the original does, the caution's id as a JSON
# string, so that either implementation replays the other's keys.
is "$(q "SELECT string_agg(response_body::text, ' ' ORDER BY key) FROM idempotency_keys WHERE key IN ('r1', 's1') AND principal_id = '$P1'")" \
	"\"$I1\" \"$SCHILD\"" "the rows keep the caution ids as JSON strings"
# A row a build before this one wrote ({"caution_id": ...}) replays alike.
q "UPDATE idempotency_keys SET response_body = jsonb_build_object('caution_id', response_body)
	WHERE key = 'r1' AND principal_id = '$P1'" >/dev/null
register_caution "$IB" "$P1" -H 'Idempotency-Key: r1'
is "$HTTP_STATUS $HTTP_BODY" "201 $IBODY" "r1 again from a row holding the whole body: the same answer"

# ==== a foreign writer's events =============================================================
F1=$(q "SELECT gen_random_uuid()")
FT=$(printf 'f%.0s' {1..2500})
# foreign STREAM VERSION TYPE PAYLOAD-JSON COMMAND: an event as another writer appends it.
foreign() {
	q "INSERT INTO events (stream_type, stream_id, version, event_type, payload, metadata, correlation_id,
		principal_id, occurred_at, event_id)
	   VALUES ('Caution', '$1', $2, '$3', '$4'::jsonb, '{\"command\": \"$5\"}'::jsonb, gen_random_uuid(),
		'$P3', now(), gen_random_uuid())" >/dev/null
}
# A CautionRegistered without expires_at, parent_id or propagate_to_children,
# with a key of its own, a text over the limits and its tags out of order
# (returned sorted, as every caution's are).
FP1=$(jq -cn --arg id "$F1" --arg a "$ASSET" --arg t "$FT" --arg p3 "$P3" \
	'{caution_id: $id, target: {kind: "Asset", id: $a}, category: "InterlockQuirk", severity: "Warning",
	  text: $t, workaround: "Ask the agent", tags: ["promoted", "agent", "promoted"], authored_by: $p3,
	  occurred_at: "2024-05-01T12:00:00+00:00", source_proposal_id: "p-17"}')
ok "a foreign CautionRegistered is appended" foreign "$F1" 1 CautionRegistered "$FP1" PromoteCautionProposal
get_caution "$F1" "$P1"
is "$HTTP_STATUS" 200 "GET a foreign writer's caution: 200"
is "$(ordered "$HTTP_BODY")" "$(expected_get "$F1" Asset "$ASSET" InterlockQuirk Warning "$FT" "Ask the agent" "$P3" \
	'["agent","promoted"]' null false Active null null null false)" \
	"GET: missing optional keys read as null/false, the extra key ignored, the stored text not re-validated, the tags a sorted set"
ok "an event of a type this version does not know is appended to its stream" \
	foreign "$F1" 2 CautionAnnotated '{"note": "from the future"}' AnnotateCaution
get_caution "$F1" "$P1"
is "$HTTP_STATUS" 200 "GET after an unknown event type: 200 (not 500)"
json_is "$HTTP_BODY" .status Active "GET after an unknown event: still Active"
ok "log: caution.event_skipped names the unknown type" \
	log_has caution.event_skipped ".event_type == \"CautionAnnotated\" and .caution_id == \"$F1\""
supersede_caution "$F1" "$(cbody '.text = "Corrected"')" "$P1"
is "$HTTP_STATUS" 201 "supersede a foreign caution past its unknown event: 201"
FC=$CID_NEW
json_is "$(cev_json "$F1" CautionSuperseded)" '[.version, .payload.superseded_by_caution_id]' "[3,\"$FC\"]" \
	"the parent's CautionSuperseded is version 3"
get_caution "$F1" "$P1"
json_is "$HTTP_BODY" '[.status, .superseded_by_caution_id]' "[\"Superseded\",\"$FC\"]" "GET the foreign caution: Superseded"

# A foreign writer with isoformat offsets and a severity this version does not know.
F2=$(q "SELECT gen_random_uuid()")
FP2=$(jq -cn --arg id "$F2" --arg p "$PROC" --arg p3 "$P3" \
	'{caution_id: $id, target: {kind: "Procedure", id: $p}, category: "ProcedureGotcha", severity: "Danger",
	  text: "t", workaround: "w", tags: [], authored_by: $p3, expires_at: "2099-03-01T12:00:00+01:00",
	  propagate_to_children: false, parent_id: null, occurred_at: "2024-05-01T12:00:00.250000+00:00"}')
ok "a foreign CautionRegistered with severity Danger is appended" foreign "$F2" 1 CautionRegistered "$FP2" caution_promoter
get_caution "$F2" "$P1"
is "$HTTP_STATUS" 200 "GET it: 200"
json_is "$HTTP_BODY" '[.severity, .expires_at, .expired]' '["Danger","2099-03-01T11:00:00.000000Z",false]' \
	"GET: the severity as stored, expires_at in UTC"
retire_caution "$F2" Resolved "$P1"
is "$HTTP_STATUS" 204 "retire it: 204"
# A transition with no CautionRegistered before it.
F3=$(q "SELECT gen_random_uuid()")
ok "a CautionRetired alone in a stream is appended" \
	foreign "$F3" 1 CautionRetired "{\"caution_id\": \"$F3\", \"reason\": \"Resolved\", \"occurred_at\": \"2024-05-01T12:00:00+00:00\"}" Other
get_caution "$F3" "$P1"
is "$HTTP_STATUS" 404 "GET a stream with a transition and no registration: 404 (not 500)"
retire_caution "$F3" Resolved "$P1"
is "$HTTP_STATUS" 404 "retire it: 404"
ok "the projection catches up past the foreign events" wait_until 10 caution_projected
is "$(q "SELECT severity || ' ' || status || ' ' || to_char(registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
	FROM proj_caution_summary WHERE caution_id = '$F2'")" "Danger Retired 2024-05-01 12:00:00.250000" \
	"the projection holds the foreign caution as stored (registered_at its occurred_at) and its retirement"
is "$(q "SELECT status || ' ' || array_to_string(tags, ',') FROM proj_caution_summary WHERE caution_id = '$F1'")" \
	"Superseded agent,promoted" "the projection: F1 Superseded, its tags a sorted set as GET shows them"
nok "no projection.error logged" log_has projection.error

# ==== OpenAPI ===================================================================================
http GET /openapi.json
is "$HTTP_STATUS" 200 "GET /openapi.json: 200"
json_is "$HTTP_BODY" '[.paths | to_entries[] | select(.key | startswith("/cautions")) | .key] | sort' \
	'["/cautions","/cautions/{caution_id}","/cautions/{caution_id}/retire","/cautions/{parent_id}/supersede"]' \
	"the document has the four caution paths"
json_is "$HTTP_BODY" '[.paths["/cautions"].post, .paths["/cautions"].get, .paths["/cautions/{caution_id}"].get,
	.paths["/cautions/{caution_id}/retire"].post, .paths["/cautions/{parent_id}/supersede"].post | .tags] | unique' \
	'[["caution"]]' "every caution route is tagged caution"
json_is "$HTTP_BODY" '[(.paths["/cautions/{caution_id}"].get.responses | has("403")),
	(.paths["/cautions/{caution_id}/retire"].post.responses | has("409"))]' '[true,true]' \
	"GET lists 403, retire lists 409"

# ==== overall ==================================================================================
is "$(q "SELECT count(*) FROM events WHERE stream_type = 'Caution' AND event_type = 'CautionRegistered'
	AND metadata->>'command' IN ('RegisterCaution', 'SupersedeCaution')")" \
	"$(($(log_count register_caution.success) + $(log_count supersede_caution.success)))" \
	"one CautionRegistered per register_caution.success and supersede_caution.success"
is "$(q "SELECT count(*) FROM events e JOIN entries_access_verdicts v USING (correlation_id)
	WHERE e.metadata->>'command' IN ('RegisterCaution', 'SupersedeCaution', 'RetireCaution') AND v.decision = 'deny'")" 0 \
	"no event carries the correlation id of a denial"
nok "no worker crashed" log_has master.child_exited '.kind == "worker"'
diag "elapsed: $((($(date +%s%N) - START_NS) / 1000000)) ms"

done_testing
