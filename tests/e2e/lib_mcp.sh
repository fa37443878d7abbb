# shellcheck shell=bash disable=SC2034
# lib_mcp.sh: a Streamable HTTP client of corad's MCP server (POST /mcp) for
# the tests, sourced after lib.sh.

MCP_SURFACE=00000000-0000-0000-0000-000000000022
PROTO=2025-06-18

# mcp_raw PRINCIPAL BODY [curl options...]: POST /mcp as that principal ("" for
# none) with the headers of a Streamable HTTP client.
mcp_raw() {
	local p=$1 body=$2
	shift 2
	local h=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
	[[ -n $p ]] && h+=(-H "X-Principal-Id: $p")
	http POST /mcp "${h[@]}" --data-binary "$body" "$@"
}
RPC_ID=100
# rpc PRINCIPAL METHOD PARAMS-JSON [curl options...]: a request with a fresh
# numeric id (RPC_ID).
rpc() {
	local p=$1 m=$2 params=$3 body
	shift 3
	RPC_ID=$((RPC_ID + 1))
	body=$(jq -cn --argjson id "$RPC_ID" --arg m "$m" --argjson p "$params" \
		'{jsonrpc: "2.0", id: $id, method: $m, params: $p}')
	mcp_raw "$p" "$body" "$@"
}
# call PRINCIPAL TOOL ARGS-JSON [curl options...]: tools/call; sets SC (the
# structuredContent, compact JSON), ISERR, TXT (content[0].text) and CID.
call() {
	local p=$1 tool=$2 args=$3
	shift 3
	rpc "$p" tools/call "$(jq -cn --arg n "$tool" --argjson a "$args" '{name: $n, arguments: $a}')" "$@"
	SC=$(json_value "$HTTP_BODY" .result.structuredContent)
	ISERR=$(json_value "$HTTP_BODY" .result.isError)
	TXT=$(json_value "$HTTP_BODY" '.result.content[0].text')
	CID=$(cid)
}

# envelope desc: the last answer is HTTP 200 JSON with a JSON-RPC result for RPC_ID.
envelope() {
	is "$HTTP_STATUS" 200 "$1: HTTP 200"
	is "$(hdr Content-Type)" application/json "$1: Content-Type application/json"
	json_is "$HTTP_BODY" '[.jsonrpc, .id, has("result"), has("error")]' "[\"2.0\",$RPC_ID,true,false]" \
		"$1: jsonrpc 2.0, id $RPC_ID echoed, a result and no error"
}
# tool_result desc true|false: envelope, isError, one text content item whose
# text is the structuredContent as JSON.
tool_result() {
	envelope "$1"
	is "$ISERR" "$2" "$1: isError $2"
	json_is "$HTTP_BODY" '[.result.content | type, length, .[0].type]' '["array",1,"text"]' \
		"$1: content is one text item"
	json_is "$HTTP_BODY" '(.result.content[0].text | fromjson) == .result.structuredContent' true \
		"$1: the text content is the structuredContent as JSON"
}
# rpc_error desc code id-json: HTTP 200 with a JSON-RPC error of that code and id.
rpc_error() {
	is "$HTTP_STATUS" 200 "$1: HTTP 200"
	is "$(hdr Content-Type)" application/json "$1: Content-Type application/json"
	json_is "$HTTP_BODY" '[.jsonrpc, has("id"), .id, has("result")]' "[\"2.0\",true,$3,false]" \
		"$1: jsonrpc 2.0, id $3, no result"
	json_is "$HTTP_BODY" '[.error.code, (.error.message | type)]' "[$2,\"string\"]" \
		"$1: error code $2 with a message"
}

