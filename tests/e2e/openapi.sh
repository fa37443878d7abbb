#!/bin/bash
# The OpenAPI document (doc/design.md, "Operations"): made from the
# operations' descriptions, served at GET /openapi.json and printed by
# `corad openapi`, valid OpenAPI 3.1 for a real validator, with every route
# but the operators' own; MCP's tools take the same schemas. (Every other
# test checks the responses it gets against this document: lib.sh.)
. "$(dirname "$0")/lib.sh"
CHECK=$CORAD_SRCDIR/tests/e2e/openapi_check.mjs

nginx_server main
nginx_start || bail "nginx starts"
corad_start || bail "corad starts"

"$CORAD_BIN" openapi >"$T/doc.json"
ok "corad openapi prints JSON" jq -e . "$T/doc.json"
http GET /openapi.json
is "$HTTP_STATUS" 200 "GET /openapi.json: 200"
is "$(hdr Content-Type)" application/json "GET /openapi.json: application/json"
is "$(jq -cS . <<<"$HTTP_BODY")" "$(jq -cS . "$T/doc.json")" "GET /openapi.json is corad openapi's document"
D=$HTTP_BODY

out=$(node "$CHECK" document "$T/doc.json" 2>&1)
ok "the document is valid OpenAPI 3.1 (swagger-parser), path parameters declared: $out" \
	node "$CHECK" document "$T/doc.json"
json_is "$D" .openapi 3.1.0 "openapi: 3.1.0"
json_is "$D" .info.version "$CORAD_VERSION" "info.version is corad's"

json_is "$D" '.paths | keys' \
	'["/actors","/actors/{actor_id}","/actors/{actor_id}/deactivate","/actors/{actor_id}/events","/actors/{actor_id}/profile","/cautions","/cautions/{caution_id}","/cautions/{caution_id}/retire","/cautions/{parent_id}/supersede","/health","/mcp","/ready"]' \
	"every route is there, and not /metrics, /status nor /openapi.json"
json_is "$D" '[.paths[][] | .operationId] | sort' \
	'["DeactivateActor","ForgetActor","GetActor","GetActorHistory","GetCaution","Health","ListActors","ListCautions","Mcp","Ready","RegisterActor","RegisterCaution","RetireCaution","SupersedeCaution"]' \
	"one operation for each command, query and runtime route"
json_is "$D" '.paths["/actors"].post.tags' '["access"]' "a context's operations carry its tag"

# Inputs: query and path parameters, the body, the Idempotency-Key.
json_is "$D" '[.paths["/actors"].get.parameters[] | {(.name): .schema}] | add' \
	'{"cursor":{"type":"string","description":"next_cursor of the previous page"},"limit":{"type":"integer","minimum":1,"maximum":100,"default":50},"status":{"type":"string","enum":["active","deactivated"]}}' \
	"GET /actors: cursor, limit 1..100 (50), status active|deactivated"
json_is "$D" '.paths["/actors/{actor_id}"].get.parameters[0] | [.name, .in, .required, .schema.format]' \
	'["actor_id","path",true,"uuid"]' "GET /actors/{actor_id}: actor_id, a UUID in the path"
json_is "$D" '.paths["/actors"].post.requestBody.content["application/json"].schema | [.required, .properties.name.minLength, .properties.name.maxLength, .properties.kind.enum, .properties.kind.default]' \
	'[["name"],1,200,["human","service_account","agent"],"human"]' "POST /actors: the body's name and kind"
json_is "$D" '[.paths[][] | select(.parameters // [] | any(.name == "Idempotency-Key" and .in == "header")) | .operationId] | sort' \
	'["ForgetActor","RegisterActor","RegisterCaution","SupersedeCaution"]' "the commands that take an Idempotency-Key say so"

# Responses: success with its schema, the errors of each operation and of
# the pipeline, in the two error shapes.
json_is "$D" '.paths["/actors"].post.responses | keys' \
	'["201","400","401","403","409","413","422","500","503","504"]' "POST /actors: every status it can answer"
json_is "$D" '.paths["/actors"].post.responses["201"].content["application/json"].schema.properties.actor_id.format' \
	uuid "201: {actor_id: uuid}"
json_is "$D" '.paths["/actors/{actor_id}/deactivate"].post.responses["204"] | has("content")' false "204: no body"
json_is "$D" '.paths["/actors/{actor_id}"].get.responses["404"].content["application/json"].schema["$ref"]' \
	'#/components/schemas/Error' "404: {detail}"
json_is "$D" '.paths["/actors"].get.responses["422"].content["application/json"].schema["$ref"]' \
	'#/components/schemas/ErrorOrValidation' "422: {detail} or the validation list"
json_is "$D" '.paths["/health"].get.responses | keys' '["200","400","413","500"]' \
	"GET /health: no principal, no authorization, no database"
json_is "$D" '.paths["/mcp"].post.responses | has("202")' true "POST /mcp: 202 for a notification"
json_is "$D" '.paths["/actors"].post.responses["409"].headers | has("Retry-After")' true \
	"409 documents Retry-After"
json_is "$D" '.paths["/cautions/{caution_id}/retire"].post.responses["409"] | [(.headers | has("Retry-After")), .description]' \
	'[false,"A conflict: the stream'"'"'s version or the state."]' \
	"a 409 of a command without an Idempotency-Key: no Retry-After, no key in its description"
json_is "$D" '.paths["/mcp"].post.responses["415"].description' "The body is not application/json." \
	"POST /mcp: its 415 described"
json_is "$D" '[.paths[][].responses[].description | select(. == "Unknown")] | length' 0 \
	"no response described as Unknown"

# MCP's tools take the same schemas.
http POST /mcp -H 'Content-Type: application/json' \
	--data-binary '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
T_LIST=$HTTP_BODY
is "$(jq -cS '.result.tools[] | select(.name == "register_actor") | .inputSchema.properties | del(.idempotency_key)' <<<"$T_LIST")" \
	"$(jq -cS '.paths["/actors"].post.requestBody.content["application/json"].schema.properties' <<<"$D")" \
	"register_actor's arguments are POST /actors' body"
is "$(jq -cS '.result.tools[] | select(.name == "list_actors") | .inputSchema.properties' <<<"$T_LIST")" \
	"$(jq -cS '[.paths["/actors"].get.parameters[] | {(.name): .schema}] | add' <<<"$D")" \
	"list_actors' arguments are GET /actors' parameters"
json_is "$T_LIST" '[.result.tools[].name] | sort' \
	'["deactivate_actor","forget_actor","get_actor","get_actor_history","get_caution","list_actors","list_cautions","register_actor","register_caution","retire_caution","supersede_caution"]' \
	"a tool for each operation that names one"

# Memory: serving the document (50 kB, made from a tree of objects) or
# reading a large body leaves no worker larger for life: a worker hands a
# large request's heap back once it has answered (doc/design.md,
# "Processes"). Each worker's RSS, from /status, before and after.
worker_rss() { http GET /status; jq -r '.workers[] | "\(.pid) \(.rss_bytes)"' <<<"$HTTP_BODY" | sort; }
for i in 1 2 3 4; do http GET /health; http GET /status; done
worker_rss >"$T/rss.before"
for i in $(seq 12); do http GET /openapi.json; done
is "$HTTP_STATUS" 200 "GET /openapi.json twelve times: 200"
head -c 600000 /dev/zero | tr '\0' a | sed 's/^/{"name":"/; s/$/"}/' >"$T/big.json"
for i in 1 2 3 4; do http POST /actors -H 'Content-Type: application/json' --data-binary "@$T/big.json"; done
is "$HTTP_STATUS" 422 "a 600 kB name, four times: 422"
worker_rss >"$T/rss.after"
grown=$(join "$T/rss.before" "$T/rss.after" | awk '{ d = ($3 - $2) / 1024; if (d > m) m = d } END { printf "%d", m }')
if [[ -n ${CORAD_SANITIZED:-} ]]; then
	# ASan's allocator keeps freed memory in quarantine whatever glibc does.
	skip "no worker grew by more than 700 kB" "a sanitizer build (the most: $grown kB)"
else
	cmp_ok "$grown" -le 700 "no worker grew by more than 700 kB (the most: $grown kB; a kept heap is over 1 MB)"
fi
is "$(wc -l <"$T/rss.after")" "$(wc -l <"$T/rss.before")" "... and the same workers served it all"

# The response check itself catches what does not conform.
printf '%s\n' '{"method":"GET","path":"/actors","status":200,"content_type":"application/json","body":"{\"items\":[{\"actor_id\":\"x\"}],\"next_cursor\":null}"}' \
	'{"method":"POST","path":"/actors","status":418,"content_type":"application/json","body":"{}"}' \
	>"$T/bad.jsonl"
out=$(node "$CHECK" responses "$T/doc.json" "$T/bad.jsonl" 2>&1)
like "$out" 'items/0 must have required property' "a body that does not match its schema is reported"
like "$out" 'status 418 is not documented' "an undocumented status is reported"
nok "... and the check fails" node "$CHECK" responses "$T/doc.json" "$T/bad.jsonl"

done_testing
