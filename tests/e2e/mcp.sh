#!/bin/bash
# POST /mcp: MCP over Streamable
# HTTP, stateless, JSON responses only. JSON-RPC 2.0 envelopes (initialize,
# ping, notifications, tools/list, tools/call), the five actor tools calling
# the same handlers as the HTTP routes (events, verdict rows, logs, trace ids,
# authorization), domain and validation errors as tool results with isError
# true, idempotency with the MCP surface id, the JSON-RPC error codes, the
# request metric, and the principal step (401 when a principal is required).
#
# The principal reaches corad the way production sends it: nginx's
# auth_request (enabled in a copy of deploy/nginx/corad.conf) asks a stand-in
# authentication service, which vouches for the X-Principal-Id the client sent.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
. "$E2E_DIR/lib_mcp.sh"
START_NS=$(date +%s%N)
db_setup

HTTP_SURFACE=00000000-0000-0000-0000-000000000020
MISSING="Missing X-Principal-Id header; this deployment requires an authenticated principal."

# P2 may not register; everything else is allowed.
cat >"$T/policy.json" <<EOF
{"default":"allow","rules":[{"principals":["$P2"],"commands":["RegisterActor"],"effect":"deny"}]}
EOF

nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 AUTHZ_POLICY_FILE="$T/policy.json" \
	CORA_MCP_ALLOWED_ORIGINS="https://app.example, http://localhost:3000" ||
	bail "corad serve starts as cora_app with a policy"
pass "corad serve starts as cora_app with a policy that denies RegisterActor to P2"

# --- initialize, notifications, ping -----------------------------------------------
INIT_PARAMS="{\"protocolVersion\":\"$PROTO\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}"
INIT_RESULT=$(jq -cn --arg v "$CORAD_VERSION" --arg p "$PROTO" \
	'{protocolVersion: $p, capabilities: {tools: {listChanged: false}}, serverInfo: {name: "corad", version: $v}}')
rpc "$P1" initialize "$INIT_PARAMS"
envelope "initialize"
json_eq "$(json_value "$HTTP_BODY" .result)" "$INIT_RESULT" "initialize: result (protocol, capabilities, serverInfo)"
like "$(cid)" "$UUID_RE" "initialize: X-Correlation-Id"

mcp_raw "$P1" '{"jsonrpc":"2.0","id":"init-2","method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
is "$HTTP_STATUS" 200 "initialize with an unknown protocolVersion: HTTP 200"
json_is "$HTTP_BODY" '[.id, .result.protocolVersion]' "[\"init-2\",\"$PROTO\"]" \
	"initialize with an unknown protocolVersion: string id echoed, the server's latest version"

mcp_raw "$P1" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
is "$HTTP_STATUS" 202 "notifications/initialized: HTTP 202"
is "$HTTP_BODY" "" "notifications/initialized: no body"
like "$(cid)" "$UUID_RE" "notifications/initialized: X-Correlation-Id"
mcp_raw "$P1" '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}'
is "$HTTP_STATUS" 202 "notifications/cancelled: HTTP 202"
is "$HTTP_BODY" "" "notifications/cancelled: no body"

rpc "$P1" ping '{}'
envelope "ping"
json_is "$HTTP_BODY" .result '{}' "ping: result {}"
mcp_raw "$P1" '{"jsonrpc":"2.0","id":"p-1","method":"ping"}'
json_is "$HTTP_BODY" '[.id, .result]' '["p-1",{}]' "ping without params: string id echoed, result {}"

# --- tools/list -----------------------------------------------------------------------
rpc "$P1" tools/list '{}'
envelope "tools/list"
json_is "$HTTP_BODY" '[.result.tools[].name] | sort' \
	'["deactivate_actor","forget_actor","get_actor","get_actor_history","get_caution","list_actors","list_cautions","register_actor","register_caution","retire_caution","supersede_caution"]' \
	"tools/list: exactly the tools of the operations (Access and Caution)"
json_is "$HTTP_BODY" '[.result.tools[] | select((.description | type) != "string" or (.description | length) == 0) | .name]' \
	'[]' "tools/list: every tool has a description"
json_is "$HTTP_BODY" '[.result.tools[] | select(.inputSchema.type != "object" or (.inputSchema.properties | type) != "object") | .name]' \
	'[]' "tools/list: every inputSchema is type object with properties"
json_is "$HTTP_BODY" '.result.tools[] | select(.name == "register_actor") | (.inputSchema.required // []) | index("name") != null' \
	true "tools/list: register_actor requires name"
json_is "$HTTP_BODY" '[.result.tools[] | select(.name == "get_actor" or .name == "deactivate_actor" or .name == "forget_actor")
	| select(((.inputSchema.required // []) | index("actor_id")) == null) | .name]' \
	'[]' "tools/list: get_actor, deactivate_actor and forget_actor require actor_id"

# --- register_actor -------------------------------------------------------------------
call "$P1" register_actor '{"name":"Ada","kind":"human"}'
tool_result "register_actor" false
A=$(json_value "$SC" .actor_id)
like "$A" "$UUID7_RE" "register_actor: structuredContent.actor_id is a UUIDv7"
is "$(json_value "$SC" keys)" '["actor_id"]' "register_actor: structuredContent is {\"actor_id\"} like the 201 body"
ACID=$CID
like "$ACID" "$UUID_RE" "register_actor: the /mcp response has X-Correlation-Id"
is "$(q "SELECT count(*) FROM events WHERE stream_id = '$A'")" 1 "register_actor: one event in the actor's stream"
EV=$(ev_json "$A" ActorRegisteredV2)
json_is "$EV" '[.stream_type, .version, .event_type, .schema_version]' '["Actor",1,"ActorRegisteredV2",1]' \
	"register_actor: event Actor/1 ActorRegisteredV2 schema_version 1"
json_is "$EV" '[.payload.actor_id, .payload.kind]' "[\"$A\",\"human\"]" "register_actor: payload actor_id and kind"
json_is "$EV" .metadata '{"command":"RegisterActor"}' "register_actor: metadata"
json_is "$EV" .principal_id "$P1" "register_actor: principal_id is the caller's"
json_is "$EV" .correlation_id "$ACID" "register_actor: correlation_id is the /mcp response's X-Correlation-Id"
json_is "$EV" .causation_id null "register_actor: causation_id is NULL"
json_like "$EV" .event_id "$UUID7_RE" "register_actor: event_id is a UUIDv7"
is "$(q "SELECT name FROM actor_profile WHERE actor_id = '$A'")" Ada "register_actor: actor_profile holds the name"
V=$(verdict "$ACID")
is "$(count_lines "$V")" 1 "register_actor: one verdict row for the request"
json_is "$V" '[.command_name, .decision, .principal_id]' "[\"RegisterActor\",\"allow\",\"$P1\"]" \
	"register_actor: allow verdict row"

S=$(log_select register_actor.start ".correlation_id == \"$ACID\"")
is "$(count_lines "$S")" 1 "log: one register_actor.start for the tool call"
json_is "$S" '[.principal_id, .command_name, has("causation_id"), .causation_id]' \
	"[\"$P1\",\"RegisterActor\",true,null]" "register_actor.start: principal_id, command_name, causation_id null"
json_is "$S" .trace_id "$(nodash "$ACID")" "register_actor.start: trace_id (the correlation id's hex)"
S=$(log_select register_actor.success ".correlation_id == \"$ACID\"")
is "$(count_lines "$S")" 1 "log: one register_actor.success for the tool call"
json_is "$S" '[.principal_id, .command_name, .actor_id]' "[\"$P1\",\"RegisterActor\",\"$A\"]" \
	"register_actor.success: principal_id, command_name, actor_id"
json_is "$S" .trace_id "$(nodash "$ACID")" "register_actor.success: trace_id (the correlation id's hex)"

# A traceparent from the proxy is honoured on /mcp too.
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736
call "$P1" register_actor '{"name":"Batch","kind":"service_account"}' \
	-H "traceparent: 00-$TP_TRACE-00f067aa0ba902b7-01"
tool_result "register_actor with a traceparent" false
B=$(json_value "$SC" .actor_id)
is "$(nodash "$CID")" "$TP_TRACE" "traceparent: X-Correlation-Id is its trace id"
json_is "$(ev_json "$B" ActorRegisteredV2)" '[.correlation_id, .payload.kind]' "[\"$CID\",\"service_account\"]" \
	"traceparent: the event's correlation_id is the trace id; kind service_account"
is "$(log_count register_actor.success ".trace_id == \"$TP_TRACE\" and .actor_id == \"$B\"")" 1 \
	"traceparent: register_actor.success carries its trace_id"

# --- get_actor, deactivate_actor, forget_actor ------------------------------------------
call "$P1" get_actor "{\"actor_id\":\"$A\"}"
tool_result "get_actor" false
json_eq "$SC" "{\"id\":\"$A\",\"name\":\"Ada\",\"kind\":\"human\",\"active\":true}" "get_actor: structuredContent"
is "$(log_count get_actor.success ".correlation_id == \"$CID\" and .query_name == \"GetActor\"")" 1 \
	"get_actor: get_actor.success logged with query_name GetActor"

call "$P1" deactivate_actor "{\"actor_id\":\"$A\"}"
envelope "deactivate_actor"
is "$ISERR" false "deactivate_actor: isError false"
is "$SC" '{}' "deactivate_actor: structuredContent {}"
json_is "$HTTP_BODY" '[.result.content | length, .[0].type]' '[1,"text"]' "deactivate_actor: one text content item"
like "$TXT" '^(\{\}|)$' "deactivate_actor: the text is \"{}\" or \"\" (204 has no body)"
DCID=$CID
json_is "$(ev_json "$A" ActorDeactivated)" '[.version, .metadata.command, .principal_id, .correlation_id, .causation_id]' \
	"[2,\"DeactivateActor\",\"$P1\",\"$DCID\",null]" "deactivate_actor: ActorDeactivated event written"
is "$(q "SELECT command_name || ' ' || decision FROM entries_access_verdicts WHERE correlation_id = '$DCID'")" \
	"DeactivateActor allow" "deactivate_actor: verdict row"
http GET "/actors/$A" -H "X-Principal-Id: $P1"
json_is "$HTTP_BODY" .active false "deactivate_actor: GET /actors/{id} shows active false"

before=$(rows)
call "$P1" deactivate_actor "{\"actor_id\":\"$A\"}"
tool_result "deactivate_actor again" true
json_eq "$SC" "{\"detail\":\"Actor $A is already deactivated\"}" "deactivate_actor again: structuredContent"
json_eq "$TXT" "{\"detail\":\"Actor $A is already deactivated\"}" "deactivate_actor again: the text holds the same JSON"
is "$(rows)" "$before" "deactivate_actor again: nothing written"

call "$P1" register_actor '{"name":"Grace Hopper"}'
G=$(json_value "$SC" .actor_id)
like "$G" "$UUID_RE" "register_actor Grace Hopper: an actor_id"
call "$P1" forget_actor "{\"actor_id\":\"$G\"}"
envelope "forget_actor"
is "$ISERR" false "forget_actor: isError false"
is "$(q "SELECT count(*) FROM actor_profile WHERE actor_id = '$G'")" 0 "forget_actor: actor_profile row deleted"
json_is "$(ev_json "$G" ActorProfileForgotten)" '[.metadata.command, .correlation_id]' "[\"ForgetActor\",\"$CID\"]" \
	"forget_actor: ActorProfileForgotten event written"
call "$P1" get_actor "{\"actor_id\":\"$G\"}"
tool_result "get_actor after forget_actor" false
json_eq "$SC" "{\"id\":\"$G\",\"name\":\"<deleted user>\",\"kind\":\"human\",\"active\":true}" \
	"get_actor after forget_actor: name <deleted user>"

# --- list_actors ------------------------------------------------------------------------
list_two() {	# three actors exist: a page of two with a next_cursor
	call "$P1" list_actors '{"limit":2}'
	[[ $(json_value "$SC" '[(.items | length), (.next_cursor | type)]') == '[2,"string"]' ]]
}
ok "list_actors {\"limit\":2}: two items and a next_cursor within 2 s" wait_until 2 list_two
tool_result "list_actors" false
json_is "$SC" '[.items[] | keys]' \
	'[["actor_id","created_at","kind","name","status"],["actor_id","created_at","kind","name","status"]]' \
	"list_actors: items have actor_id, name, kind, status, created_at"
json_is "$SC" '[.items[].actor_id]' "[\"$A\",\"$B\"]" "list_actors: the first two actors in creation order"
LSC=$SC
http GET "/actors?limit=2" -H "X-Principal-Id: $P1"
json_eq "$LSC" "$HTTP_BODY" "list_actors: the same page as GET /actors?limit=2"
# A paging loop's first call: the cursor null (no next_cursor yet).
call "$P1" list_actors '{"limit":2,"cursor":null,"status":null}'
json_eq "$SC" "$LSC" "list_actors with cursor and status null: the first page"

# --- domain and validation errors -------------------------------------------------------
before=$(rows)
call "$P1" register_actor '{"name":"   "}'
tool_result "register_actor whitespace name" true
json_eq "$SC" '{"detail":"Actor name must be 1-200 chars after trimming"}' "register_actor whitespace name: detail"
call "$P1" register_actor '{"name":5}'
tool_result "register_actor name 5" true
json_is "$SC" '[(.detail | type), .detail[0].type]' '["array","string_type"]' \
	"register_actor name 5: detail is an array with type string_type"
call "$P1" get_actor '{"actor_id":"nope"}'
tool_result "get_actor nope" true
json_is "$SC" '[(.detail | type), .detail[0].type]' '["array","uuid_parsing"]' "get_actor nope: uuid_parsing"
call "$P1" get_actor "{\"actor_id\":\"$UNKNOWN\"}"
tool_result "get_actor unknown uuid" true
json_eq "$SC" "{\"detail\":\"Actor $UNKNOWN not found\"}" "get_actor unknown uuid: detail"
is "$(rows)" "$before" "errors: nothing written to events or actor_profile"

# --- authorization ----------------------------------------------------------------------
call "$P2" register_actor '{"name":"Mallory"}'
tool_result "P2 register_actor (denied)" true
json_eq "$SC" '{"detail":"RegisterActor denied by policy rule 1"}' "P2 register_actor: detail names the rule"
V=$(verdict "$CID")
is "$(count_lines "$V")" 1 "P2 register_actor: one verdict row"
json_is "$V" '[.decision, .command_name, .principal_id, .reason]' \
	"[\"deny\",\"RegisterActor\",\"$P2\",\"RegisterActor denied by policy rule 1\"]" "P2 register_actor: deny verdict row"
ok "P2 register_actor: register_actor.denied logged" \
	log_has register_actor.denied ".correlation_id == \"$CID\" and .principal_id == \"$P2\""
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Mallory'")" 0 "P2 register_actor: no actor Mallory"
is "$(rows)" "$before" "P2 register_actor: nothing written to events or actor_profile"

# --- idempotency ------------------------------------------------------------------------
call "$P1" register_actor '{"name":"Idem","idempotency_key":"m1"}'
tool_result "register_actor with idempotency_key m1" false
I1=$(json_value "$SC" .actor_id)
like "$I1" "$UUID_RE" "m1: an actor_id"
call "$P1" register_actor '{"name":"Idem","idempotency_key":"m1"}'
tool_result "register_actor with idempotency_key m1 again" false
json_is "$SC" .actor_id "$I1" "m1 again: the same actor_id"
is "$(log_count idempotency.cache_hit ".correlation_id == \"$CID\" and .key == \"m1\"")" 1 \
	"m1 again: idempotency.cache_hit logged"
is "$(q "SELECT count(*) FROM events WHERE stream_id = '$I1'")" 1 "m1: one event"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Idem'")" 1 "m1: one actor named Idem"
is "$(q "SELECT string_agg(surface_id::text, ' ') FROM idempotency_keys WHERE principal_id = '$P1' AND key = 'm1'")" \
	"$MCP_SURFACE" "m1: one idempotency_keys row, with the MCP surface id"
call "$P1" register_actor '{"name":"Other","idempotency_key":"m1"}'
tool_result "register_actor m1 with another name" true
json_eq "$SC" "{\"detail\":\"Idempotency-Key 'm1' was previously used with a different request body\"}" \
	"m1 with another name: detail"
http POST /actors -H "X-Principal-Id: $P1" -H 'Content-Type: application/json' -H 'Idempotency-Key: m1' \
	--data-binary '{"name":"Idem"}'
is "$HTTP_STATUS" 201 "m1 through POST /actors: 201 (another scope)"
I2=$(json_value "$HTTP_BODY" .actor_id)
like "$I2" "$UUID_RE" "m1 through POST /actors: an actor_id"
isnt "$I2" "$I1" "m1 through POST /actors: a second actor"
is "$(q "SELECT count(*) FROM actor_profile WHERE name = 'Idem'")" 2 "m1: two actors named Idem"
is "$(q "SELECT string_agg(surface_id::text, ' ' ORDER BY surface_id) FROM idempotency_keys WHERE principal_id = '$P1' AND key = 'm1'")" \
	"$HTTP_SURFACE $MCP_SURFACE" "m1: one row per surface (...0020 and ...0022)"
# The key is a string argument like any other: a number or an object is a
# validation error, not a key made of its text, and a NUL (which would cut
# the key short, making "a\u0000b" and "a\u0000c" one key) is refused.
before=$(rows)
call "$P1" register_actor '{"name":"Keyed","idempotency_key":123}'
tool_result "register_actor with idempotency_key 123" true
json_is "$SC" '.detail[0] | [.type, .loc]' '["string_type",["idempotency_key"]]' "... string_type at idempotency_key"
call "$P1" register_actor '{"name":"Keyed","idempotency_key":"a\u0000b"}'
tool_result "register_actor with a NUL in idempotency_key" true
json_is "$SC" '.detail[0] | [.type, .loc]' '["string_pattern_mismatch",["idempotency_key"]]' \
	"... string_pattern_mismatch at idempotency_key"
call "$P1" register_actor '{"name":"Keyed","idempotency_key":""}'
json_is "$SC" '.detail[0] | [.type, .loc]' '["string_too_short",["idempotency_key"]]' "an empty key: string_too_short"
is "$(rows)" "$before" "the refused keys wrote nothing"
call "$P1" register_actor '{"name":"Keyed","idempotency_key":null}'
tool_result "register_actor with idempotency_key null: no key" false

# --- JSON-RPC errors ---------------------------------------------------------------------
mcp_raw "$P1" '{bad'
rpc_error "body not JSON" -32700 null
# A message nests as deep as Python's decoder reads (about 1,000 levels):
# 40 in a member no one reads is JSON, 1,001 is not.
deep() { printf '{"jsonrpc":"2.0","id":9,"method":"ping","_x":%s%s}' \
	"$(printf '[%.0s' $(seq "$1"))" "$(printf ']%.0s' $(seq "$1"))"; }
mcp_raw "$P1" "$(deep 40)"
json_is "$HTTP_BODY" '[.id, .result]' '[9,{}]' "a message nested 41 deep: its answer"
mcp_raw "$P1" "$(deep 1000)"
rpc_error "a message nested 1,001 deep" -32700 null
mcp_raw "$P1" '[]'
rpc_error "an empty batch" -32600 null
mcp_raw "$P1" '{"id":7,"method":"ping"}'
rpc_error "no jsonrpc member" -32600 7
mcp_raw "$P1" '{"jsonrpc":"1.0","id":8,"method":"ping"}'
rpc_error "jsonrpc 1.0" -32600 8
mcp_raw "$P1" '{"jsonrpc":"2.0","id":9}'
rpc_error "no method" -32600 9
mcp_raw "$P1" '{"jsonrpc":"2.0","id":"x10","method":"nope/nothing"}'
rpc_error "unknown method" -32601 '"x10"'
before=$(rows)
mcp_raw "$P1" '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"nope","arguments":{}}}'
rpc_error "tools/call of an unknown tool" -32602 11
mcp_raw "$P1" '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"register_actor","arguments":"Ada"}}'
rpc_error "tools/call with arguments a string" -32602 12
mcp_raw "$P1" '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"register_actor","arguments":["Ada"]}}'
rpc_error "tools/call with arguments an array" -32602 13
# The envelope as JSON-RPC 2.0 and MCP have it: jsonrpc the string "2.0",
# an id a string or an integer (an error about any other carries null).
mcp_raw "$P1" '{"jsonrpc":2.0,"id":14,"method":"ping"}'
rpc_error "jsonrpc the number 2.0" -32600 14
# An integer past 64 bits cannot be echoed as sent: json-c keeps it at
# UINT64_MAX or INT64_MIN, so those are refused; the largest it holds
# exactly comes back as sent.
mcp_raw "$P1" '{"jsonrpc":"2.0","id":18446744073709551614,"method":"ping"}'
is "$(grep -o '"id":[^,]*' <<<"$HTTP_BODY")" '"id":18446744073709551614' "an id of 2^64 - 2: answered with it, as sent"
for bad_id in null '{"a":1}' '[1]' true 1.5 99999999999999999999 -99999999999999999999; do
	mcp_raw "$P1" "{\"jsonrpc\":\"2.0\",\"id\":$bad_id,\"method\":\"ping\"}"
	rpc_error "an id $bad_id" -32600 null
done
mcp_raw "$P1" '{"jsonrpc":"2.0","id":"s15","method":"ping"}'
json_is "$HTTP_BODY" '[.id, .result]' '["s15",{}]' "an id that is a string: answered with it"
# A client's answer to a request of the server's is accepted, unanswered.
mcp_raw "$P1" '{"jsonrpc":"2.0","id":16,"result":{}}'
is "$HTTP_STATUS $HTTP_BODY" "202 " "a JSON-RPC response from the client: 202 without a body"
mcp_raw "$P1" '{"jsonrpc":"2.0"}'
rpc_error "neither a request nor a response" -32600 null
# A NUL inside a name does not end it: "ping\u0000x" is no method, and a
# tool whose name only starts with register_actor does not register.
mcp_raw "$P1" '{"jsonrpc":"2.0","id":17,"method":"ping\u0000bogus"}'
rpc_error "method ping\\u0000bogus" -32601 17
mcp_raw "$P1" '{"jsonrpc":"2.0\u0000bogus","id":18,"method":"ping"}'
rpc_error "jsonrpc 2.0\\u0000bogus" -32600 18
mcp_raw "$P1" '{"jsonrpc":"2.0","id":19,"method":"tools/call","params":{"name":"register_actor\u0000bogus","arguments":{"name":"Nul tool"}}}'
rpc_error "tool register_actor\\u0000bogus" -32602 19
# A batch (revisions 2025-03-26 and 2024-11-05): an array of the
# responses in the order of their messages, none for a notification; a
# message that is not one gets its error in its place.
mcp_raw "$P1" '[{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},
	1,{"jsonrpc":"2.0","id":"b3","method":"nope"},{"jsonrpc":"2.0","id":"b4","method":"tools/list"}]'
is "$HTTP_STATUS" 200 "a batch: HTTP 200"
json_is "$HTTP_BODY" '[.[] | [.id, (.result | type), .error.code]]' \
	'[["b1","object",null],[null,"null",-32600],["b3","null",-32601],["b4","object",null]]' \
	"a batch: four responses in order, none for the notification"
mcp_raw "$P1" '[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":9,"result":{}}]'
is "$HTTP_STATUS $HTTP_BODY" "202 " "a batch of a notification and a response: 202 without a body"
mcp_raw "$P1" "[$(printf '{"jsonrpc":"2.0","id":1,"method":"ping"},%.0s' {1..50}){\"jsonrpc\":\"2.0\",\"id\":51,\"method\":\"ping\"}]"
rpc_error "a batch of 51 messages" -32600 null

# A browser's page may call the tools only from an origin the operator
# listed (CORA_MCP_ALLOWED_ORIGINS): a page that rebinds its name to this
# server is of its own origin to the browser, and gets 403 here.
for o in https://evil.example null 'https://app.example.evil.example' 'http://app.example'; do
	mcp_raw "$P1" '{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"Rebound"}}}' \
		-H "Origin: $o"
	is "$HTTP_STATUS" 403 "POST /mcp from Origin $o: 403"
	json_is "$HTTP_BODY" .detail "Origin not allowed: list it in CORA_MCP_ALLOWED_ORIGINS" \
		"POST /mcp from Origin $o: says why"
	is "$(hdr Content-Type) $(cid | grep -cE "$UUID_RE")" "application/json 1" \
		"POST /mcp from Origin $o: JSON with an X-Correlation-Id"
done
mcp_raw "$P1" '{"jsonrpc":"2.0","id":23,"method":"ping"}' -H 'Origin: https://app.example'
json_is "$HTTP_BODY" '[.id, .result]' '[23,{}]' "POST /mcp from a listed Origin: answered"
mcp_raw "$P1" '{"jsonrpc":"2.0","id":24,"method":"ping"}' -H 'Origin: HTTP://LOCALHOST:3000'
json_is "$HTTP_BODY" '[.id, .result]' '[24,{}]' "... in any case"
# JSON-RPC comes as JSON: another type is 415, whatever the body says.
for ct in text/plain application/x-www-form-urlencoded; do
	http POST /mcp -H "X-Principal-Id: $P1" -H "Content-Type: $ct" \
		--data-binary '{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"Cross site"}}}'
	is "$HTTP_STATUS" 415 "POST /mcp as $ct: 415"
	is "$(head -n 1 <<<"$HTTP_HEADERS")" "HTTP/1.1 415 Unsupported Media Type" \
		"POST /mcp as $ct: the status line names it"
	json_is "$HTTP_BODY" .detail "Unsupported Media Type: Content-Type must be application/json" \
		"POST /mcp as $ct: says what it takes"
	is "$(hdr Content-Type) $(cid | grep -cE "$UUID_RE")" "application/json 1" \
		"POST /mcp as $ct: JSON with an X-Correlation-Id"
done
is "$(rows)" "$before" "JSON-RPC errors wrote nothing"
# Tool calls in one batch run one after the other, each on its own: two
# registrations under two keys, then one that repeats the first key and
# is its replay, and a failing one between them that leaves nothing.
mcp_raw "$P1" '[{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"Batch one","idempotency_key":"batch-k1"}}},
	{"jsonrpc":"2.0","id":32,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"  "}}},
	{"jsonrpc":"2.0","id":33,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"Batch two","idempotency_key":"batch-k2"}}},
	{"jsonrpc":"2.0","id":34,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"Batch one","idempotency_key":"batch-k1"}}}]'
is "$HTTP_STATUS" 200 "a batch of four tool calls: HTTP 200"
json_is "$HTTP_BODY" '[.[] | [.id, .result.isError]]' '[[31,false],[32,true],[33,false],[34,false]]' \
	"... four results in order, the blank name an error"
B1=$(json_value "$HTTP_BODY" '.[0].result.structuredContent.actor_id')
json_is "$HTTP_BODY" '[.[2].result.structuredContent.actor_id != .[0].result.structuredContent.actor_id,
	.[3].result.structuredContent.actor_id]' "[true,\"$B1\"]" "... the repeated key replays the first actor"
is "$(q "SELECT count(*) FROM actor_profile WHERE name IN ('Batch one', 'Batch two')")" 2 "... two actors written"
is "$(q "SELECT string_agg(key || '=' || status, ' ' ORDER BY key) FROM idempotency_keys
	WHERE key LIKE 'batch-k%'")" "batch-k1=completed batch-k2=completed" "... each key completed"
# Each call of a batch logs its own last line: one that fails validation
# (it logs no .start) after one that succeeded still logs its .failed.
mcp_raw "$P1" '[{"jsonrpc":"2.0","id":35,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":"Batch three"}}},
	{"jsonrpc":"2.0","id":36,"method":"tools/call","params":{"name":"register_actor","arguments":{"name":5}}}]'
json_is "$HTTP_BODY" '[.[] | [.id, .result.isError]]' '[[35,false],[36,true]]' "a batch of a success and a 422"
BCID=$(cid)
is "$(log_count register_actor.success ".correlation_id == \"$BCID\"")/$(log_count register_actor.failed \
	".correlation_id == \"$BCID\" and .status == 422")" 1/1 "... logs register_actor.success, then .failed with status 422"
# Nor does it end a key: "name\u0000x" is a key no tool knows.
call "$P1" register_actor '{"name":"Real name","name\u0000x":"Smuggled","idempotency_key\u0000zz":"kk1"}'
tool_result "register_actor with keys that hold a NUL" false
is "$(q "SELECT name FROM actor_profile WHERE actor_id = '$(jq -r .actor_id <<<"$SC")'")" "Real name" \
	"... registers the name given, not the one behind the NUL key"
is "$(q "SELECT count(*) FROM idempotency_keys WHERE key = 'kk1'")" 0 "... and takes no key from it"
# Numbers for an int as pydantic reads them: a whole float past the
# bounds is out of bounds, an infinite one not a finite number.
call "$P1" list_actors '{"limit":1e16}'
json_is "$SC" '.detail[0] | [.type, .loc]' '["less_than_equal",["query","limit"]]' "limit 1e16: less_than_equal"
# (as sent: jq would turn 1e400 into the largest double)
mcp_raw "$P1" '{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"list_actors","arguments":{"limit":1e400}}}'
json_is "$HTTP_BODY" '.result.structuredContent.detail[0] | [.type, .loc]' '["finite_number",["query","limit"]]' \
	"limit 1e400: finite_number"
call "$P1" list_actors '{"limit":2.0}'
tool_result "limit 2.0: a list of two" false
json_is "$SC" '.items | length' 2 "... two items"

# --- metrics ------------------------------------------------------------------------------
M='http_requests_total{method="POST",status="2xx",handler="/mcp"}'
mcp_count() {
	http GET /metrics
	awk -v want="$M" '/^#/ { next } { v = $NF; $NF = ""; sub(/[ \t]+$/, ""); if ($0 == want) found = v }
		END { printf "%s", found }' <<<"$HTTP_BODY"
}
mcp_counted() { awk -v v="$(mcp_count)" 'BEGIN { exit !(v != "" && v + 0 > 0) }'; }
ok "/metrics: $M > 0" wait_until 5 mcp_counted
diag "$M = $(mcp_count)"

nok "no worker crashed" log_has master.child_exited '.kind == "worker"'

# --- the principal step: REQUIRE_AUTHENTICATED_PRINCIPAL=true -------------------------------
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 REQUIRE_AUTHENTICATED_PRINCIPAL=true ||
	bail "corad restarts with REQUIRE_AUTHENTICATED_PRINCIPAL=true"
pass "corad restarts with REQUIRE_AUTHENTICATED_PRINCIPAL=true"
RPC_ID=200
rpc "" initialize "$INIT_PARAMS"
is "$HTTP_STATUS" 401 "required: initialize without a principal is HTTP 401"
json_eq "$HTTP_BODY" "$(jq -cn --arg d "$MISSING" '{detail: $d}')" "required: the 401 body"
is "$(hdr Content-Type)" application/json "required: 401 is application/json"
like "$(cid)" "$UUID_RE" "required: 401 has X-Correlation-Id"
mcp_raw "" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
is "$HTTP_STATUS" 401 "required: a notification without a principal is HTTP 401"
before=$(rows)
call "" register_actor '{"name":"Anonymous"}'
is "$HTTP_STATUS" 401 "required: tools/call without a principal is HTTP 401"
is "$(rows)" "$before" "required: nothing written"
rpc "$P1" initialize "$INIT_PARAMS"
envelope "required: initialize with a principal"
json_eq "$(json_value "$HTTP_BODY" .result)" "$INIT_RESULT" "required: initialize with a principal: result"

nok "no worker crashed after the restart" log_has master.child_exited '.kind == "worker"'
diag "elapsed: $((($(date +%s%N) - START_NS) / 1000000)) ms"

done_testing
