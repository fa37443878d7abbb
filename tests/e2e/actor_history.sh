#!/bin/bash
# GET /actors/{actor_id}/events, GetActorHistory: an actor's events (type,
# version, occurred_at, recorded_at), oldest first, read from its stream;
# 404 for an unknown actor, 422 for a bad id, 403 with a verdict row when
# the policy denies it; the same as the MCP tool get_actor_history.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z$'
cat >"$T/policy.json" <<JSON
{"default":"allow","rules":[{"principals":["$P2"],"commands":["GetActorHistory"],"effect":"deny"}]}
JSON

nginx_server_auth main
nginx_start || bail "nginx starts"
corad_start DATABASE_URL="$PG_APP_URL" AUTHZ_POLICY_FILE="$T/policy.json" || bail "corad starts"

register_name Ada "$P1"
ID=$RID
like "$ID" "$UUID_RE" "an actor is registered"
as "$P1" POST "/actors/$ID/deactivate"
is "$HTTP_STATUS" 204 "... deactivated"
as "$P1" DELETE "/actors/$ID/profile"
is "$HTTP_STATUS" 204 "... and forgotten"

as "$P1" GET "/actors/$ID/events"
is "$HTTP_STATUS" 200 "GET /actors/{id}/events: 200"
json_is "$HTTP_BODY" '[.items[] | [.type, .version]]' \
	'[["ActorRegisteredV2",1],["ActorDeactivated",2],["ActorProfileForgotten",3]]' \
	"the three events, oldest first, with their versions"
json_is "$HTTP_BODY" '[.items[] | keys] | unique' '[["occurred_at","recorded_at","type","version"]]' \
	"each item: type, version, occurred_at, recorded_at"
json_is "$HTTP_BODY" "[.items[] | .occurred_at, .recorded_at | test(\"$TS_RE\")] | all" true \
	"times are RFC 3339 UTC with microseconds and Z"
is "$(json_value "$HTTP_BODY" '[.items[].occurred_at]')" \
	"$(q "SELECT json_agg(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') ORDER BY version) FROM events WHERE stream_id = '$ID'" | jq -c .)" \
	"occurred_at as stored"
ok "log: get_actor_history.success with the actor_id" \
	log_has get_actor_history.success ".actor_id == \"$ID\" and .query_name == \"GetActorHistory\""

as "$P1" GET "/actors/$UNKNOWN/events"
is "$HTTP_STATUS" 404 "an unknown actor: 404"
json_is "$HTTP_BODY" .detail "Actor $UNKNOWN not found" "404: Actor <id> not found"
as "$P1" GET "/actors/not-a-uuid/events"
is "$HTTP_STATUS" 422 "a bad id: 422"
json_is "$HTTP_BODY" '.detail[0] | [.type, .loc]' '["uuid_parsing",["path","actor_id"]]' "422: uuid_parsing at path.actor_id"

as "$P2" GET "/actors/$ID/events"
is "$HTTP_STATUS" 403 "a principal the policy denies: 403"
is "$(q "SELECT decision || ' ' || command_name FROM entries_access_verdicts WHERE principal_id = '$P2'")" \
	"deny GetActorHistory" "the denial is a verdict row"

http POST /mcp -H 'Content-Type: application/json' -H "X-Principal-Id: $P1" --data-binary \
	"$(jq -cn --arg id "$ID" '{jsonrpc: "2.0", id: 1, method: "tools/call", params: {name: "get_actor_history", arguments: {actor_id: $id}}}')"
json_is "$HTTP_BODY" '[.result.isError, (.result.structuredContent.items | length)]' '[false,3]' \
	"MCP get_actor_history: the same three events"

done_testing
