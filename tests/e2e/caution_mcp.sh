#!/bin/bash
# shellcheck disable=SC2016  # jq programs with $variables, in single quotes
# The Caution tools over MCP (POST /mcp): tools/list with the five tools and
# their generated input schemas; register_caution, supersede_caution,
# retire_caution, get_caution and list_cautions calling the same handlers as
# the HTTP routes (events, verdicts, logs), validation and domain errors as
# tool results with isError true, retire_caution answering {caution_id},
# idempotency_key on register_caution and supersede_caution, list_cautions
# with severity and status arrays (or the original's severities and
# statuses), null as no argument, and a denied call's deny verdict.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_caution.sh"
. "$E2E_DIR/lib_mcp.sh"
START_NS=$(date +%s%N)
db_setup

P3=0190a1f4-7c3e-7d2a-9b1c-0000000c0ffe
# P2 may not register, retire or get cautions; everything else is allowed.
cat >"$T/policy.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["RegisterCaution","RetireCaution","GetCaution"],"effect":"deny"}]}
EOF
nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 AUTHZ_POLICY_FILE="$T/policy.json" ||
	bail "corad serve starts as cora_app with a policy"
pass "corad serve starts as cora_app with a policy that denies P2 some Caution tools"

# --- helpers ---------------------------------------------------------------------------
# tool_error desc DETAIL: a tool result with isError true and {"detail": DETAIL}.
tool_error() {
	tool_result "$1" true
	is "$(jq -c . <<<"$SC")" "$(jq -cn --arg d "$2" '{detail: $d}')" "$1: detail"
}
# args JQ-FILTER [jq options]: cbody, as tool arguments.
args() { cbody "$@"; }

# --- tools/list ------------------------------------------------------------------------------
rpc "$P1" tools/list '{}'
is "$HTTP_STATUS" 200 "tools/list: HTTP 200"
TOOLS=$HTTP_BODY
json_is "$TOOLS" '[.result.tools[].name | select(test("caution"))] | sort' \
	'["get_caution","list_cautions","register_caution","retire_caution","supersede_caution"]' "tools/list: the five caution tools"
tool() { jq -c --arg n "$1" '.result.tools[] | select(.name == $n)' <<<"$TOOLS"; }
json_is "$(tool register_caution)" '[(.description | length > 0), .inputSchema.type]' '[true,"object"]' \
	"register_caution: a description, an object schema"
RS=$(tool register_caution)
json_is "$RS" '.inputSchema.required' '["target","category","severity","text","workaround"]' "register_caution: required fields"
json_is "$RS" '.inputSchema.properties | keys' \
	'["category","expires_at","idempotency_key","propagate_to_children","severity","tags","target","text","workaround"]' \
	"register_caution: the body's fields and idempotency_key"
json_is "$RS" '.inputSchema.properties.target | [.type, .properties.kind.enum, .properties.id.type, .properties.id.format, .required]' \
	'["object",["Asset","Procedure"],"string","uuid",["kind","id"]]' "register_caution: target is {kind enum, id uuid}"
json_is "$RS" '.inputSchema.properties.tags | [.maxItems, .items.type, .items.minLength, .items.maxLength]' '[50,"string",1,50]' \
	"register_caution: tags at most 50, each 1..50"
json_is "$RS" '.inputSchema.properties | [.text.minLength, .text.maxLength, .workaround.minLength, .workaround.maxLength]' \
	'[1,2000,1,2000]' "register_caution: text and workaround 1..2000"
json_is "$RS" '.inputSchema.properties | [.category.enum, .severity.enum, .expires_at.format, .propagate_to_children.type]' \
	'[["Wear","Calibration","Wiring","OperationalWindow","InterlockQuirk","ProcedureGotcha"],["Notice","Caution","Warning"],"date-time","boolean"]' \
	"register_caution: category and severity enums, expires_at date-time, propagate boolean"
json_is "$RS" '.inputSchema.properties.idempotency_key | [.type, .minLength, .maxLength]' '["string",1,255]' \
	"register_caution: idempotency_key 1..255"
SS=$(tool supersede_caution)
json_is "$SS" '[.inputSchema.required, .inputSchema.properties.parent_id.format]' \
	'[["parent_id","target","category","severity","text","workaround"],"uuid"]' "supersede_caution: parent_id (uuid) and the body"
json_is "$SS" '.inputSchema.properties | has("idempotency_key")' true "supersede_caution: takes an idempotency_key"
is "$(json_value "$SS" .inputSchema.properties.target)" "$(json_value "$RS" .inputSchema.properties.target)" \
	"supersede_caution: the same target schema as register_caution"
json_is "$(tool retire_caution)" '[.inputSchema.required, .inputSchema.properties.reason.enum, (.inputSchema.properties | has("idempotency_key"))]' \
	'[["caution_id","reason"],["Resolved","NoLongerApplies","WrongTarget"],false]' "retire_caution: caution_id and reason; no idempotency_key"
json_is "$(tool get_caution)" '[.inputSchema.required, .inputSchema.properties.caution_id.format, (.inputSchema.properties | keys)]' \
	'[["caution_id"],"uuid",["caution_id"]]' "get_caution: caution_id only"
LS=$(tool list_cautions)
json_is "$LS" '.inputSchema.properties | keys' \
	'["authored_by","category","cursor","include_expired","limit","min_severity","severity","status","tag","target_id","target_kind"]' \
	"list_cautions: the HTTP query names (severity, status)"
json_is "$LS" '.inputSchema | [has("required"), .properties.severity.type, .properties.severity.items.enum, .properties.status.type, .properties.status.items.enum]' \
	'[false,"array",["Notice","Caution","Warning"],"array",["Active","Superseded","Retired","all"]]' \
	"list_cautions: nothing required; severity and status are arrays"
json_is "$LS" '.inputSchema.properties | [.limit.minimum, .limit.maximum, .limit.default, .tag.maxLength, .include_expired.type]' \
	'[1,100,50,50,"boolean"]' "list_cautions: limit 1..100 default 50, tag up to 50, include_expired boolean"

# --- register_caution ----------------------------------------------------------------------
call "$P1" register_caution "$(args '.tags = ["b", " a"] | .expires_at = "2099-01-01T10:00:00+02:00"')"
tool_result "register_caution" false
C1=$(json_value "$SC" .caution_id)
like "$C1" "$UUID7_RE" "register_caution: caution_id is a UUIDv7"
is "$(json_value "$SC" keys)" '["caution_id"]' "register_caution: structuredContent is {caution_id} like the 201 body"
EV=$(cev_json "$C1" CautionRegistered)
json_is "$EV" '[.version, .metadata.command, .principal_id, .correlation_id, .payload.tags, .payload.expires_at, .payload.authored_by]' \
	"[1,\"RegisterCaution\",\"$P1\",\"$CID\",[\"a\",\"b\"],\"2099-01-01T10:00:00+02:00\",\"$P1\"]" \
	"register_caution: the CautionRegistered event"
json_is "$(cverdict "$CID")" '[.decision, .command_name, .principal_id]' "[\"allow\",\"RegisterCaution\",\"$P1\"]" \
	"register_caution: allow verdict row"
ok "register_caution: register_caution.success logged" \
	log_has register_caution.success ".correlation_id == \"$CID\" and .caution_id == \"$C1\" and .event_count == 1"

before=$(caution_rows)
call "$P1" register_caution "$(args '.text = ""')"
tool_result "register_caution with an empty text" true
json_is "$SC" '.detail | map([.type, .loc])' '[["string_too_short",["body","text"]]]' \
	"register_caution with an empty text: string_too_short"
call "$P1" register_caution "$(args '.target.kind = "Equipment" | .expires_at = "2030-01-01T00:00:00"')"
tool_result "register_caution with a bad kind and a naive expires_at" true
json_is "$SC" '.detail | map([.type, .msg])' \
	"[[\"enum\",\"Input should be 'Asset' or 'Procedure'\"],[\"timezone_aware\",\"Input should have timezone info\"]]" \
	"... enum and timezone_aware"
call "$P1" register_caution "$(args '.tags = [range(51) | tostring]')"
tool_result "register_caution with 51 tags" true
json_is "$SC" '.detail[0].type' too_long "... too_long"
call "$P1" register_caution "$(args '.workaround = "\t \n"')"
tool_error "register_caution with a blank workaround" "Caution workaround must be 1-2000 chars after trimming (got: '\\t \\n')"
call "$P1" register_caution "$(args '.expires_at = "2001-01-01T00:00:00Z"')"
tool_error "register_caution with a past expires_at" "expires_at must be in the future"
is "$(caution_rows)" "$before" "the refused register_caution calls wrote nothing"

# --- idempotency_key -----------------------------------------------------------------------
IA=$(args '.text = "Idem" | .idempotency_key = "m1"')
call "$P1" register_caution "$IA"
tool_result "register_caution with idempotency_key m1" false
I1=$(json_value "$SC" .caution_id)
call "$P1" register_caution "$IA"
tool_result "register_caution m1 again" false
json_is "$SC" .caution_id "$I1" "m1 again: the same caution_id"
ok "m1 again: idempotency.cache_hit logged" log_has idempotency.cache_hit ".correlation_id == \"$CID\" and .key == \"m1\""
is "$(q "SELECT count(*) FROM events WHERE payload->>'text' = 'Idem'")" 1 "m1: one event"
is "$(q "SELECT surface_id || ' ' || command_name FROM idempotency_keys WHERE principal_id = '$P1' AND key = 'm1'")" \
	"$MCP_SURFACE RegisterCaution" "m1: one idempotency_keys row, MCP surface, RegisterCaution"
call "$P1" register_caution "$(args '.text = "Idem 2" | .idempotency_key = "m1"')"
tool_error "m1 with another text" "Idempotency-Key 'm1' was previously used with a different request body"
post_json "$P1" /cautions "$(args '.text = "Idem"')" -H 'Idempotency-Key: m1'
is "$HTTP_STATUS" 201 "m1 through POST /cautions: 201 (another surface)"
isnt "$(json_value "$HTTP_BODY" .caution_id)" "$I1" "m1 through POST /cautions: another caution"
call "$P1" register_caution "$(args '.text = "No key"')"
N1=$(json_value "$SC" .caution_id)
call "$P1" register_caution "$(args '.text = "No key"')"
isnt "$(json_value "$SC" .caution_id)" "$N1" "without idempotency_key the same call registers twice"

# --- supersede_caution ---------------------------------------------------------------------
call "$P3" supersede_caution "$(args '.parent_id = $p | .text = "Corrected" | .severity = "Warning"' --arg p "$C1")"
tool_result "supersede_caution" false
CH=$(json_value "$SC" .caution_id)
like "$CH" "$UUID7_RE" "supersede_caution: the child's caution_id"
is "$(json_value "$SC" keys)" '["caution_id"]' "supersede_caution: structuredContent is {caution_id}"
is "$(q "SELECT string_agg(stream_id::text || ':' || event_type || ':' || (metadata->>'command'), ' ' ORDER BY position)
	FROM events WHERE correlation_id = '$CID'")" "$C1:CautionSuperseded:SupersedeCaution $CH:CautionRegistered:SupersedeCaution" \
	"supersede_caution: the parent's CautionSuperseded, then the child's CautionRegistered"
json_is "$(cev_json "$CH" CautionRegistered)" '.payload | [.parent_id, .authored_by, .tags, .expires_at]' \
	"[\"$C1\",\"$P3\",[],null]" "supersede_caution: the child's payload"
ok "supersede_caution: supersede_caution.success logged" \
	log_has supersede_caution.success ".correlation_id == \"$CID\" and .parent_id == \"$C1\" and .child_caution_id == \"$CH\""
call "$P1" supersede_caution "$(args '.parent_id = $p' --arg p "$C1")"
tool_error "supersede_caution of a superseded caution" \
	"Caution $C1 cannot be superseded: currently in status Superseded, supersede_caution requires Active"
call "$P1" supersede_caution "$(args '.parent_id = $p' --arg p "$UNKNOWN_CAUTION")"
tool_error "supersede_caution of an unknown caution" "Caution $UNKNOWN_CAUTION not found"
call "$P1" supersede_caution "$(args '.parent_id = $p | .target.id = $a' --arg p "$CH" --arg a "$ASSET2")"
tool_error "supersede_caution onto another target" "supersede preserves target; start a new caution to retarget"
call "$P1" supersede_caution "$(args '.')"
tool_result "supersede_caution without parent_id" true
json_is "$SC" '.detail | map([.type, .loc[-1]])' '[["missing","parent_id"]]' "... missing parent_id"
SA=$(args '.parent_id = $p | .text = "Idem child" | .idempotency_key = "s1"' --arg p "$CH")
call "$P1" supersede_caution "$SA"
tool_result "supersede_caution with idempotency_key s1" false
S1C=$(json_value "$SC" .caution_id)
call "$P1" supersede_caution "$SA"
tool_result "supersede_caution s1 again" false
json_is "$SC" .caution_id "$S1C" "s1 again: the same child (replayed, not 409)"
is "$(q "SELECT count(*) FROM events WHERE payload->>'parent_id' = '$CH'")" 1 "s1: one child"

# --- retire_caution --------------------------------------------------------------------------
call "$P1" retire_caution "{\"caution_id\":\"$S1C\",\"reason\":\"Resolved\"}"
tool_result "retire_caution" false
is "$(jq -c . <<<"$SC")" "{\"caution_id\":\"$S1C\"}" "retire_caution: structuredContent {caution_id}"
json_is "$(cev_json "$S1C" CautionRetired)" '[.version, .metadata.command, .payload.reason, .correlation_id]' \
	"[2,\"RetireCaution\",\"Resolved\",\"$CID\"]" "retire_caution: the CautionRetired event"
json_is "$(cverdict "$CID")" '[.decision, .command_name]' '["allow","RetireCaution"]' "retire_caution: allow verdict"
ok "retire_caution: retire_caution.success logged" \
	log_has retire_caution.success ".correlation_id == \"$CID\" and .caution_id == \"$S1C\""
call "$P1" retire_caution "{\"caution_id\":\"$S1C\",\"reason\":\"Resolved\"}"
tool_error "retire_caution again" "Caution $S1C cannot be retired: currently in status Retired, retire_caution requires Active"
call "$P1" retire_caution "{\"caution_id\":\"$UNKNOWN_CAUTION\",\"reason\":\"WrongTarget\"}"
tool_error "retire_caution of an unknown caution" "Caution $UNKNOWN_CAUTION not found"
call "$P1" retire_caution "{\"caution_id\":\"$N1\",\"reason\":\"Fixed\"}"
tool_result "retire_caution with reason Fixed" true
json_is "$SC" '.detail | map([.type, .loc[-1], .input])' '[["enum","reason","Fixed"]]' "... enum"

# --- get_caution -----------------------------------------------------------------------------
call "$P1" get_caution "{\"caution_id\":\"$S1C\"}"
tool_result "get_caution" false
GSC=$SC
is "$(json_value "$GSC" keys_unsorted)" "$GET_KEYS" "get_caution: the 14 keys in order, then expired"
get_caution "$S1C" "$P1"
is "$(jq -c . <<<"$GSC")" "$(jq -c . <<<"$HTTP_BODY")" "get_caution: the same as GET /cautions/{id}"
json_is "$GSC" '[.status, .retired_reason, .parent_id]' "[\"Retired\",\"Resolved\",\"$CH\"]" "get_caution: Retired, its parent"
call "$P1" get_caution "{\"caution_id\":\"$C1\"}"
json_is "$SC" '[.expires_at, .status, .superseded_by_caution_id]' "[\"2099-01-01T08:00:00.000000Z\",\"Superseded\",\"$CH\"]" \
	"get_caution: expires_at in UTC"
call "$P1" get_caution "{\"caution_id\":\"$UNKNOWN_CAUTION\"}"
tool_error "get_caution of an unknown caution" "Caution $UNKNOWN_CAUTION not found"
call "$P1" get_caution '{"caution_id":"nope"}'
tool_result "get_caution nope" true
json_is "$SC" '.detail[0].type' uuid_parsing "get_caution nope: uuid_parsing"
call "$P1" get_caution '{"caution_id":null}'
tool_result "get_caution with caution_id null" true
json_is "$SC" '[.detail[0].type, .detail[0].loc]' '["uuid_type",["path","caution_id"]]' \
	"... uuid_type: null is no value for a required argument"

# --- list_cautions ----------------------------------------------------------------------------
call "$P1" register_caution "$(args '.target = {kind: "Procedure", id: $p} | .severity = "Notice" | .tags = ["proc"]' --arg p "$PROC")"
PN=$(json_value "$SC" .caution_id)
ok "the projection catches up" wait_until 10 caution_projected
# same_list ARGS-JSON QUERY desc: list_cautions with ARGS answers what GET /cautions?QUERY does.
same_list() {
	call "$P1" list_cautions "$1"
	tool_result "list_cautions $1" false
	LSC=$SC
	as "$P1" GET "/cautions?$2"
	is "$(jq -c . <<<"$LSC")" "$(jq -c . <<<"$HTTP_BODY")" "$3"
}
same_list '{}' "" "list_cautions {}: the Active ones, as GET /cautions"
json_is "$LSC" '[.items[].caution_id] | length' 5 "list_cautions {}: 5 Active cautions"
same_list '{"status":["all"]}' status=all "status [all]: as GET /cautions?status=all"
json_is "$LSC" '.items | length' 8 "status [all]: 8 cautions"
json_is "$LSC" '[.items[0] | keys_unsorted]' "[$LIST_KEYS]" "list_cautions items: the list keys in order"
same_list '{"status":["Superseded","Retired"]}' 'status=Superseded&status=Retired' "status [Superseded, Retired]"
json_is "$LSC" '[.items[].caution_id]' "[\"$C1\",\"$CH\",\"$S1C\"]" "status [Superseded, Retired]: C1, its child and grandchild"
same_list '{"severity":["Warning","Notice"],"status":["all"]}' 'severity=Warning&severity=Notice&status=all' "severity [Warning, Notice]"
json_is "$LSC" '[.items[].caution_id]' "[\"$CH\",\"$PN\"]" "severity [Warning, Notice]: the two"
same_list '{"min_severity":"Warning","status":["all"]}' 'min_severity=Warning&status=all' "min_severity Warning"
# An empty list is no filter: status [] is every status, severity [] every
# severity, and severity [] next to min_severity is no conflict.
same_list '{"status":[]}' status=all "status []: as status=all"
json_is "$LSC" '.items | length' 8 "status []: 8 cautions"
same_list '{"severity":[]}' "" "severity []: as no severity"
same_list '{"severity":[],"min_severity":"Warning","status":["all"]}' 'min_severity=Warning&status=all' \
	"severity [] with min_severity Warning: no conflict, the ladder"
ok "no worker crashed on the empty lists" eval '! log_has master.child_exited ".signal != null"'
# The original's names for the two lists, severities and statuses, work too.
same_list '{"statuses":["Superseded","Retired"]}' 'status=Superseded&status=Retired' \
	"statuses [Superseded, Retired]: the original's name for status"
json_is "$LSC" '.items | length' 3 "statuses [Superseded, Retired]: 3 cautions"
same_list '{"severities":["Warning","Notice"],"statuses":["all"]}' 'severity=Warning&severity=Notice&status=all' \
	"severities [Warning, Notice]: the original's name for severity"
json_is "$LSC" '[.items[].caution_id]' "[\"$CH\",\"$PN\"]" "severities [Warning, Notice]: the two"
# null is no argument for every optional one, as in the original's tools.
same_list '{"cursor":null,"limit":null,"target_kind":null,"target_id":null,"category":null,"severity":null,"min_severity":null,"status":null,"tag":null,"authored_by":null,"include_expired":null}' \
	"" "every optional argument null: as GET /cautions"
json_is "$LSC" '.items | length' 5 "... the 5 Active cautions"
same_list '{"tag":" proc ","target_kind":"Procedure"}' 'tag=proc&target_kind=Procedure' "tag ' proc ' (trimmed), target_kind"
json_is "$LSC" '[.items[].caution_id]' "[\"$PN\"]" "tag proc: the Procedure caution"
same_list "{\"limit\":2,\"authored_by\":\"$P1\",\"include_expired\":false}" "limit=2&authored_by=$P1&include_expired=false" \
	"limit, authored_by, include_expired"
json_is "$LSC" '[(.items | length), (.next_cursor | type)]' '[2,"string"]' "limit 2: two items and a next_cursor"
NEXT=$(json_value "$LSC" .next_cursor)
same_list "{\"limit\":2,\"authored_by\":\"$P1\",\"cursor\":\"$(json_value "$LSC" .next_cursor)\"}" \
	"limit=2&authored_by=$P1&cursor=$(json_value "$LSC" .next_cursor)" "the next page through the cursor"
call "$P1" list_cautions '{"severity":["Notice"],"min_severity":"Caution"}'
tool_error "list_cautions with severity and min_severity" \
	'Pass either `severity` (one or more exact values) or `min_severity` (Notice<Caution<Warning ladder), not both.'
call "$P1" list_cautions '{"status":["all","Active"]}'
tool_error "list_cautions with status all and Active" \
	'Pass either `status=all` (disable filter) or one or more explicit status values, not both.'
call "$P1" list_cautions '{"severity":"Warning"}'
tool_result "list_cautions with severity a string" true
json_is "$SC" '.detail[0].type' list_type "... list_type"
call "$P1" list_cautions '{"severities":"Warning"}'
tool_result "list_cautions with severities a string" true
json_is "$SC" '[.detail[0].type, .detail[0].loc]' '["list_type",["query","severities"]]' \
	"... list_type, at the name the caller gave"
call "$P1" list_cautions '{"status":["all"],"statuses":["Active"]}'
tool_result "list_cautions with both status and statuses" true
json_is "$SC" '[.detail[0].type, .detail[0].loc, .detail[0].msg]' \
	'["value_error",["query","statuses"],"Value error, pass either status or statuses, not both"]' \
	"... value_error: one of the two names"
call "$P1" list_cautions '{"limit":0}'
tool_result "list_cautions limit 0" true
json_is "$SC" '.detail[0].type' greater_than_equal "... greater_than_equal"
call "$P1" list_cautions '{"cursor":"abc"}'
tool_result "list_cautions with a bad cursor" true
json_like "$SC" .detail "^Invalid cursor 'abc': .+\\. Cursors must come from a previous response's next_cursor field\\.\$" \
	"... the cursor detail"
# A NUL in a tag or a cursor does not end it: no stored tag holds one, and
# a next_cursor with more after it is no next_cursor.
call "$P1" list_cautions '{"tag":"proc\u0000x","target_kind":"Procedure"}'
tool_result "list_cautions with a NUL in the tag" false
json_eq "$SC" '{"items":[],"next_cursor":null}' "... matches nothing (not the tag proc)"
ok "... list_cautions.start shows the tag whole" \
	log_has list_cautions.start ".correlation_id == \"$CID\" and .tag == \"proc\\ufffdx\""
call "$P1" list_cautions "{\"limit\":2,\"authored_by\":\"$P1\",\"cursor\":\"$NEXT\\u0000x\"}"
tool_result "list_cautions with a NUL after a next_cursor" true
json_is "$SC" .detail "Invalid cursor '$NEXT"$'\xef\xbf\xbd'"x': not unpadded base64url. Cursors must come from a previous response's next_cursor field." \
	"... an invalid cursor, shown whole (U+FFFD for the NUL)"

# --- authorization ------------------------------------------------------------------------------
before=$(caution_rows)
call "$P2" register_caution "$(args '.')"
tool_error "P2 register_caution (denied)" "RegisterCaution denied by policy rule 1"
V=$(cverdict "$CID")
is "$(count_lines "$V")" 1 "P2 register_caution: one verdict row"
json_is "$V" '[.decision, .command_name, .principal_id, .reason]' \
	"[\"deny\",\"RegisterCaution\",\"$P2\",\"RegisterCaution denied by policy rule 1\"]" "P2 register_caution: deny verdict row"
ok "P2 register_caution: register_caution.denied logged" \
	log_has register_caution.denied ".correlation_id == \"$CID\" and .principal_id == \"$P2\""
call "$P2" retire_caution "{\"caution_id\":\"$PN\",\"reason\":\"Resolved\"}"
tool_error "P2 retire_caution (denied)" "RetireCaution denied by policy rule 1"
json_is "$(cverdict "$CID")" '[.decision, .command_name]' '["deny","RetireCaution"]' "P2 retire_caution: deny verdict row"
call "$P2" get_caution "{\"caution_id\":\"$PN\"}"
tool_error "P2 get_caution (denied)" "GetCaution denied by policy rule 1"
json_is "$(cverdict "$CID")" '[.decision, .command_name]' '["deny","GetCaution"]' "P2 get_caution: deny verdict row"
is "$(caution_rows)" "$(awk '{ print $1, $2, $3 + 3 }' <<<"$before")" "the denied calls wrote three deny verdicts and nothing else"
call "$P2" list_cautions '{}'
tool_result "P2 list_cautions (allowed)" false

nok "no worker crashed" log_has master.child_exited '.kind == "worker"'
diag "elapsed: $((($(date +%s%N) - START_NS) / 1000000)) ms"

done_testing
