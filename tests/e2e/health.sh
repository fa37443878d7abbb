#!/bin/bash
# GET /health through nginx with the shipped configuration; the shipped file
# passes `nginx -t`; the Unix socket's mode; the process tree; the log format.
. "$(dirname "$0")/lib.sh"

# The shipped file, unmodified, included in http{} the way operators do it.
mkdir -p "$T/nginx-t"
cat >"$T/nginx-t/nginx.conf" <<EOF
$([[ $(id -u) -eq 0 ]] && echo 'user root;')
pid $T/nginx-t/nginx.pid;
events {}
http {
	access_log $T/nginx-t/access.log;
	client_body_temp_path $T/nginx-t/client_body;
	fastcgi_temp_path $T/nginx-t/fastcgi;
	proxy_temp_path $T/nginx-t/proxy;
	uwsgi_temp_path $T/nginx-t/uwsgi;
	scgi_temp_path $T/nginx-t/scgi;
	include $CORAD_CONF_SRC;
}
EOF
if out=$(env -u NGINX "$NGINX" -t -p "$T/nginx-t/" -c "$T/nginx-t/nginx.conf" -e "$T/nginx-t/error.log" 2>&1); then
	pass "nginx -t accepts deploy/nginx/corad.conf as shipped"
else
	fail "nginx -t accepts deploy/nginx/corad.conf as shipped" "$out"
fi
ok "the shipped config includes /etc/nginx/fastcgi_params" \
	grep -Eq '^[[:space:]]*include[[:space:]]+/etc/nginx/fastcgi_params;' "$CORAD_CONF_SRC"

nginx_server main
nginx_start || bail "nginx starts"
if corad_start CORA_WORKERS=2; then
	pass "corad serve starts and answers GET /health"
else
	fail "corad serve starts and answers GET /health"
	done_testing
	exit
fi

http GET /health
is "$HTTP_STATUS" 200 "GET /health is 200"
json_eq "$HTTP_BODY" "{\"status\":\"ok\",\"version\":\"$CORAD_VERSION\"}" \
	"GET /health body is {status: ok, version: $CORAD_VERSION}"
is "$(hdr Content-Type)" "application/json" "GET /health Content-Type is application/json"
id1=$(hdr X-Correlation-Id)
like "$id1" "$UUID_RE" "X-Correlation-Id is a lowercase UUID"
http GET /health
id2=$(hdr X-Correlation-Id)
like "$id2" "$UUID_RE" "second response has an X-Correlation-Id too"
isnt "$id2" "$id1" "each request gets its own correlation id"

# Routing uses the path only (DOCUMENT_URI, normalised by nginx).
http GET '/health?verbose=1'
is "$HTTP_STATUS" 200 "GET /health?verbose=1 is 200 (query string ignored)"
http GET '/x/../health' --path-as-is
is "$HTTP_STATUS" 200 "GET /x/../health is 200 (nginx's normalised DOCUMENT_URI)"
http GET '/%68ealth'
is "$HTTP_STATUS" 200 "GET /%68ealth is 200 (decoded DOCUMENT_URI)"

# Straight over FastCGI: DOCUMENT_URI, else the path of REQUEST_URI.
if command -v cgi-fcgi >/dev/null; then
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health QUERY_STRING= </dev/null
	is "$FCGI_STATUS" 200 "FastCGI GET with DOCUMENT_URI=/health is 200"
	json_is "$FCGI_BODY" .status ok "FastCGI GET /health body has status ok"
	fcgi REQUEST_METHOD=GET REQUEST_URI='/health?a=b' QUERY_STRING=a=b </dev/null
	is "$FCGI_STATUS" 200 "FastCGI GET without DOCUMENT_URI routes on REQUEST_URI's path"
	json_is "$FCGI_BODY" .version "$CORAD_VERSION" "... and answers the health body"
	fcgi REQUEST_METHOD=GET REQUEST_URI='/heal%74h' QUERY_STRING= </dev/null
	is "$FCGI_STATUS" 200 "FastCGI: REQUEST_URI's path is percent-decoded (/heal%74h)"
	fcgi REQUEST_METHOD=GET REQUEST_URI='/actors/abc%20d' QUERY_STRING= </dev/null
	json_is "$FCGI_BODY" '.detail[0].input' "abc d" "FastCGI: a decoded path segment reaches the handler"
	fcgi REQUEST_METHOD=GET REQUEST_URI='/heal%00th' QUERY_STRING= </dev/null
	is "$FCGI_STATUS" 404 "FastCGI: %00 is not decoded into the path (404)"
else
	for _ in 1 2 3 4 5 6 7; do fail "FastCGI request without nginx" "cgi-fcgi not installed"; done
fi

# The socket and the process tree.
ok "the FastCGI socket exists" test -S "$T/corad.sock"
is "$(stat -c %a "$T/corad.sock" 2>/dev/null)" 660 "the socket's mode is 0660"
ok "CORA_RUNTIME_DIR was created" test -d "$T/run"
ok "the master is running" alive "$(master_pid)"
is "$(worker_count)" 2 "CORA_WORKERS=2: two corad-worker children"
is "$(count_lines "$(stats_pids)")" 1 "one corad-stats child"
like "$(readelf -d "$CORAD_BIN")" 'FLAGS.*BIND_NOW' \
	"corad binds every symbol at start: no worker reads the libraries' symbol tables to bind its own"

# The log: one JSON object per line, with the common keys first.
sleep 0.2
lines=$(grep -c . "$CORAD_LOG" || true)
cmp_ok "$lines" -gt 0 "corad wrote log lines"
bad=$(jq -R 'fromjson? // "BAD" | if type == "object" then empty else "BAD" end' "$CORAD_LOG" | grep -c BAD || true)
is "$bad" 0 "every log line is one JSON object" || true
bad=$(jq -R -r 'fromjson? | select(type == "object") | select((keys_unsorted[0:4]) != ["timestamp","level","event","logger"]) | tostring' "$CORAD_LOG" 2>/dev/null | head -n 3)
is "$bad" "" "every line starts with timestamp, level, event, logger"
bad=$(jq -R -r 'fromjson? | select(type == "object") | select((.timestamp | type) != "string" or (.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$") | not)) | tostring' "$CORAD_LOG" 2>/dev/null | head -n 3)
is "$bad" "" "timestamps are RFC 3339 UTC with microseconds and Z"
bad=$(jq -R -r 'fromjson? | select(type == "object") | select(.level | IN("debug","info","warning","error") | not) | tostring' "$CORAD_LOG" 2>/dev/null | head -n 3)
is "$bad" "" "levels are debug, info, warning or error"
bad=$(jq -R -r 'fromjson? | select(type == "object") | select((.event | type) != "string" or (.logger | type) != "string" or .event == "") | tostring' "$CORAD_LOG" 2>/dev/null | head -n 3)
is "$bad" "" "event and logger are strings"
ts=$(jq -R -r 'fromjson? | .timestamp // empty' "$CORAD_LOG" | head -n 1)
now=$(date -u +%s)
then_=$(date -u -d "$ts" +%s 2>/dev/null || echo 0)
cmp_ok "$(( now - then_ < 0 ? then_ - now : now - then_ ))" -le 120 "log timestamps are UTC and current"

done_testing
