#!/bin/bash
# Hostile input from outside, as an audit sent it: an MCP argument long
# enough to overflow a fixed buffer, bytes that are not UTF-8 echoed into
# error bodies and log lines, credentials in an exporter URL, and FastCGI
# connections from hosts FCGI_WEB_SERVER_ADDRS does not name. Every answer
# must be JSON that is valid UTF-8, no worker may crash, and no secret may
# reach the log. Needs no database: everything here is answered before one.
. "$(dirname "$0")/lib.sh"
need_tools iconv cgi-fcgi

SECRET=s3cretValue
DEAD_PORT=$(pick_port)	# nothing listens there: every export fails

nginx_server main
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=2 OTEL_EXPORTER=otlp \
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://user:$SECRET@127.0.0.1:$DEAD_PORT/v1/traces?token=$SECRET" ||
	bail "corad starts"
pass "corad starts with an OTLP endpoint that carries credentials"

# utf8_json desc: the last answer is valid UTF-8 and parses as JSON.
utf8_json() {
	ok "$1: the body is valid UTF-8" eval 'iconv -f UTF-8 -t UTF-8 <"$T/http.body" >/dev/null 2>&1'
	ok "$1: the body is JSON" eval 'jq -e . <"$T/http.body" >/dev/null 2>&1'
}
worker_crashed() { log_has master.child_exited '.kind == "worker"'; }

# --- 1. MCP: a long argument used to overflow a fixed query buffer ----------
BANGS=$(printf '!%.0s' $(seq 340))
mcp_call() {	# tool arguments-json
	http POST /mcp -H 'Content-Type: application/json' -H 'Accept: application/json' \
		--data-binary "$(jq -cn --arg n "$1" --argjson a "$2" \
		'{jsonrpc: "2.0", id: 1, method: "tools/call", params: {name: $n, arguments: $a}}')"
}
mcp_call get_actor "$(jq -cn --arg c "$BANGS" '{cursor: $c, limit: 1}')"
is "$HTTP_STATUS" 200 "MCP get_actor with a 340-character cursor argument: 200"
json_is "$HTTP_BODY" .result.isError true "MCP get_actor with a long cursor: a tool error"
json_is "$HTTP_BODY" '.result.structuredContent.detail[0] | [.type, .loc]' '["missing",["path","actor_id"]]' \
	"MCP get_actor with a long cursor: the missing actor_id is a validation error"
mcp_call list_actors "$(jq -cn --arg c "$BANGS" '{cursor: $c, limit: 1, status: "active"}')"
is "$HTTP_STATUS" 200 "MCP list_actors with a 340-character cursor: 200"
json_like "$HTTP_BODY" '.result.structuredContent.detail' "^Invalid cursor '!{340}': " \
	"MCP list_actors: the whole cursor is echoed in the 422 detail"
LONG=$(head -c 60000 /dev/zero | tr '\0' '%')
mcp_call list_actors "$(jq -cn --arg c "$LONG" '{cursor: $c, limit: 7}')"
is "$HTTP_STATUS" 200 "MCP list_actors with a 60000-character cursor of '%': 200"
json_is "$HTTP_BODY" .result.isError true "MCP list_actors with a 60000-character cursor: a tool error"
utf8_json "MCP with a long cursor"
nok "no worker crashed on the long MCP arguments" worker_crashed

# --- 2. bytes that are not UTF-8, echoed back ---------------------------------
http GET '/actors/%FF%0A'
is "$HTTP_STATUS" 422 "GET /actors/%FF%0A: 422"
utf8_json "GET /actors/%FF%0A"
json_is "$HTTP_BODY" '.detail[0].input == "\ufffd\n"' true "GET /actors/%FF%0A: input is U+FFFD and a newline"
http GET '/actors?status=%C3%28&limit=%E2'
is "$HTTP_STATUS" 422 "GET /actors?status=%C3%28&limit=%E2: 422"
utf8_json "GET /actors?status=%C3%28&limit=%E2"
json_is "$HTTP_BODY" '[.detail[] | {(.loc[1]): .input}] | add' \
	"$(jq -cn '{limit: "\uFFFD", status: "\uFFFD("}')" "status and limit inputs carry U+FFFD"
http POST /actors -H 'Content-Type: application/json' --data-binary $'{"name": 5, "kind": "\xff"}'
is "$HTTP_STATUS" 422 "a body with invalid UTF-8: 422"
utf8_json "a body with invalid UTF-8"
http GET '/actors/%C0%AF' -H $'X-Principal-Id: \xfe\xff'
utf8_json "an overlong '/' in the path"

# Straight over FastCGI, what no proxy would pass: a method and a path that
# are not UTF-8, on a request that logs them (413 logs path and method).
fcgi REQUEST_METHOD=$'P\xffST' DOCUMENT_URI=$'/actors/\xe2\x82' REQUEST_URI=/x \
	CONTENT_LENGTH=99999999 </dev/null
is "$FCGI_STATUS" 413 "FastCGI: a 413 for a path that is not UTF-8"
ok "FastCGI: the 413 body is valid UTF-8" eval 'iconv -f UTF-8 -t UTF-8 <<<"$FCGI_BODY" >/dev/null 2>&1'
ok "body_size_limit.rejected logs the path with U+FFFD" \
	wait_until 5 log_has body_size_limit.rejected '.path == "/actors/\uFFFD" and .method == "P\uFFFDST"'

# --- 3. no credentials in the log -----------------------------------------------
http GET /health -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
ok "an export fails and is logged (export.failed)" wait_until 15 log_has export.failed
ok "export.failed names the endpoint without user, password or query" \
	log_has export.failed ".endpoint == \"http://127.0.0.1:$DEAD_PORT/v1/traces\""
nok "the secret appears on no log line" grep -q "$SECRET" "$CORAD_LOG"

ok "every log line is valid UTF-8" eval 'iconv -f UTF-8 -t UTF-8 <"$CORAD_LOG" >/dev/null 2>&1'
bad=$(jq -R 'fromjson? // "BAD"' "$CORAD_LOG" 2>&1 | grep -c '^"BAD"$')
is "$bad" 0 "every log line is a JSON object"
nok "no worker crashed" worker_crashed
corad_stop TERM
is "$EXIT_STATUS" 0 "corad stops cleanly"

# --- 4. FCGI_WEB_SERVER_ADDRS on a TCP listener --------------------------------
PORT=$(pick_port)
tcp_health() { FCGI_SOCK=127.0.0.1:$PORT fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health </dev/null; }
corad_launch CORA_LISTEN=127.0.0.1:$PORT CORA_WORKERS=1
ok "TCP listener without FCGI_WEB_SERVER_ADDRS: corad answers" \
	wait_until 10 eval 'tcp_health; [[ $FCGI_STATUS == 200 ]]'
ok "TCP listener without FCGI_WEB_SERVER_ADDRS: startup.warning" \
	log_has startup.warning '.setting == "FCGI_WEB_SERVER_ADDRS"'
corad_stop TERM

corad_launch CORA_LISTEN=127.0.0.1:$PORT CORA_WORKERS=1 FCGI_WEB_SERVER_ADDRS="192.0.2.1, ::2"
ok "a peer FCGI_WEB_SERVER_ADDRS does not name is logged" \
	wait_until 10 eval 'tcp_health; log_has worker.connection_refused ".peer == \"127.0.0.1\""'
tcp_health
is "$FCGI_STATUS" "" "a peer FCGI_WEB_SERVER_ADDRS does not name gets no answer"
nok "no startup.warning about FCGI_WEB_SERVER_ADDRS when it is set" \
	log_has startup.warning '.setting == "FCGI_WEB_SERVER_ADDRS"'
corad_stop TERM

corad_launch CORA_LISTEN=127.0.0.1:$PORT CORA_WORKERS=1 FCGI_WEB_SERVER_ADDRS="192.0.2.1,127.0.0.1"
ok "a peer FCGI_WEB_SERVER_ADDRS names is served" \
	wait_until 10 eval 'tcp_health; [[ $FCGI_STATUS == 200 ]]'
corad_stop TERM

# --- 5. A peer that does not hang up after its answer -------------------------
# On a Unix socket the worker closes its side at once and takes the next
# connection; it used to wait up to 2 s for the peer to close first.
corad_start CORA_WORKERS=1 || bail "corad starts with one worker"
python3 "$(dirname "$0")/fcgi_client.py" --hold 4 "unix:$T/corad.sock" \
	REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health </dev/null >"$T/held.out" &
HELD=$!
ok "the peer that holds its connection got its answer" \
	wait_until 5 grep -q '"status":"ok"' "$T/held.out"
started=$(now_ms)
fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health </dev/null
elapsed_ms=$(($(now_ms) - started))
is "$FCGI_STATUS" 200 "the only worker answers the next connection while the first stays open"
ok "... within 1 s (took ${elapsed_ms} ms; the peer holds its connection 4 s)" \
	test "$elapsed_ms" -lt 1000
kill "$HELD" 2>/dev/null
wait "$HELD" 2>/dev/null
corad_stop TERM

corad_run badaddrs check FCGI_WEB_SERVER_ADDRS=proxy.example
is "$RUN_STATUS" 78 "FCGI_WEB_SERVER_ADDRS with a host name: corad check exits 78"
LOGFILE=$RUN_LOG ok "config.invalid names FCGI_WEB_SERVER_ADDRS" \
	log_has config.invalid '.variable == "FCGI_WEB_SERVER_ADDRS"'

done_testing
