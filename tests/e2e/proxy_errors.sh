#!/bin/bash
# nginx's own errors through deploy/nginx/corad.conf as shipped: every status
# nginx itself answers with in front of corad is JSON in corad's shape
# {"detail":"..."} with Content-Type application/json, including the ones
# nginx finds before it has a URI (broken request line, %00, too long URI,
# HTTP/2.0) and its internal 494 (too large headers), which must stay 400.
# corad's own errors still pass through untouched. Both carry
# X-Correlation-Id: the client's traceparent's trace id, else nginx's
# $request_id, which corad also takes as its trace id (CORA_REQUEST_ID).
#
# Servers: main (shipped); mime (shipped, plus a types map at server level,
# as Debian's http{} gets from mime.types); auth (shipped with its
# auth_request step on, against a stand-in identity service); hang (a
# backend that never answers, 1 s FastCGI timeouts); slow (1 s client
# timeouts).
. "$(dirname "$0")/lib.sh"
need_tools python3

ID=0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c
BIG_LINE=$(head -c 9000 /dev/zero | tr '\0' a)		# over one 8k buffer
BIG_COOKIE=$(head -c 20000 /dev/zero | tr '\0' c)
COOKIE_7K=$(head -c 7000 /dev/zero | tr '\0' k)

nginx_server main
nginx_server mime 's|client_max_body_size 1m;|client_max_body_size 1m; types { text/html html; }|'
# The stand-in identity service, defined before nginx_server_auth so that it
# replaces the lib's: no X-Principal-Id: 401; "forbidden": 403; "broken":
# 500 (nginx turns any unexpected status into its own 500); anything else is
# vouched for.
nginx_raw authsvc <<'EOF'
server {
	listen 127.0.0.1:@PORT@;
	access_log @T@/authsvc-access.log;
	location = /auth {
		if ($http_x_principal_id = "") { return 401; }
		if ($http_x_principal_id = "forbidden") { return 403; }
		if ($http_x_principal_id = "broken") { return 500; }
		add_header X-Principal-Id $http_x_principal_id;
		return 204;
	}
}
EOF
nginx_server_auth auth
nginx_server hang \
	"s|unix:$T/corad.sock|unix:$T/hang.sock|g" \
	's|client_max_body_size 1m;|client_max_body_size 1m; fastcgi_connect_timeout 1s; fastcgi_send_timeout 1s; fastcgi_read_timeout 1s;|'
nginx_server slow \
	's|client_max_body_size 1m;|client_max_body_size 1m; client_header_timeout 1s; client_body_timeout 1s;|'
nginx_server stream 's|client_max_body_size 1m;|client_max_body_size 1m; fastcgi_request_buffering off;|'
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=2 || bail "corad starts"
ok "the main server is the shipped file with only socket and port changed" \
	test "$(diff "$CORAD_CONF_SRC" "$T/nginx-conf.d/main.conf" | grep -c '^>')" -eq 4

MAIN_PORT=${NGX_PORT[main]}

# nginx_error desc status detail: the last answer is nginx's own error in
# corad's JSON shape.
nginx_error() {
	is "$HTTP_STATUS" "$2" "$1: status $2"
	is "$(hdr Content-Type)" application/json "$1: Content-Type application/json"
	json_is "$HTTP_BODY" '.detail | type' string "$1: body is JSON with a string .detail"
	json_eq "$HTTP_BODY" "$(jq -cn --arg d "$3" '{detail: $d}')" "$1: body {\"detail\":\"$3\"}"
	like "$(hdr X-Correlation-Id)" "$UUID_RE" "$1: X-Correlation-Id"
}
# corad_error desc status: the last answer is corad's own, passed through.
corad_error() {
	is "$HTTP_STATUS" "$2" "$1: status $2"
	is "$(hdr Content-Type)" application/json "$1: Content-Type application/json"
	like "$(hdr X-Correlation-Id)" "$UUID_RE" "$1: corad's answer (X-Correlation-Id)"
}

# --- 400: malformed requests --------------------------------------------------
# nginx finds these in the request line, before it has any URI.
http GET / --request-target '/actors/%00'
nginx_error "GET /actors/%00" 400 "Bad Request"
http GET / --request-target '/../actors'
nginx_error "GET /../actors (above the root)" 400 "Bad Request"
raw_http "$MAIN_PORT" 'get /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
nginx_error "a lower-case method" 400 "Bad Request"
raw_http "$MAIN_PORT" 'GET /health\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
nginx_error "a control character in the URI" 400 "Bad Request"
# ... and these in the headers or the body.
http GET /health -H 'Host:'
nginx_error "HTTP/1.1 without Host" 400 "Bad Request"
raw_http "$MAIN_PORT" 'GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n'
nginx_error "two Host headers" 400 "Bad Request"
raw_http "$MAIN_PORT" 'POST /actors HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n'
nginx_error "Content-Length: abc" 400 "Bad Request"
raw_http "$MAIN_PORT" 'POST /actors HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n'
nginx_error "an invalid chunked body" 400 "Bad Request"

# --- 494: too large headers, answered as 400 -----------------------------------
http GET /health -H "X-Filler: $BIG_LINE"
nginx_error "a 9 KB header line" 400 "Request header or cookie too large"
http GET /health -H "Cookie: s=$BIG_COOKIE"
nginx_error "a 20 KB Cookie" 400 "Request header or cookie too large"
http GET /health -H "Cookie: a=$COOKIE_7K" -H "Cookie: b=$COOKIE_7K" -H "Cookie: c=$COOKIE_7K" \
	-H "Cookie: d=$COOKIE_7K" -H "Cookie: e=$COOKIE_7K"
nginx_error "five 7 KB Cookie lines (35 KB of headers)" 400 "Request header or cookie too large"

# --- 405, 414, 501, 505 ---------------------------------------------------------
http TRACE /actors
nginx_error "TRACE /actors" 405 "Method Not Allowed"
http TRACE /health
nginx_error "TRACE /health" 405 "Method Not Allowed"
http GET "/actors/$BIG_LINE"
nginx_error "a 9 KB URI" 414 "URI Too Long"
http GET "/actors?q=$BIG_LINE"
nginx_error "a 9 KB query string" 414 "URI Too Long"
raw_http "$MAIN_PORT" 'POST /actors HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n'
nginx_error "Transfer-Encoding: gzip" 501 "Not Implemented"
raw_http "$MAIN_PORT" 'GET /health HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n'
nginx_error "a GET /health HTTP/2.0 request line" 505 "HTTP Version Not Supported"

# --- 413 --------------------------------------------------------------------------
head -c 2097152 /dev/zero | tr '\0' x >"$T/2mib"
http POST /actors -H 'Content-Type: application/json' --data-binary "@$T/2mib"
nginx_error "a 2 MiB body with Content-Length" 413 "Request body of 2097152 bytes exceeds limit of 1048576 bytes"
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
http POST /actors -H 'Content-Type: application/json' -H "traceparent: $TP" --data-binary "@$T/2mib"
is "$(hdr X-Correlation-Id)" 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 \
	"nginx's 413: the correlation id is the traceparent's trace id, as corad's would be"
for tp in 00-00000000000000000000000000000000-00f067aa0ba902b7-01 \
	00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01 \
	00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01 \
	ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \
	00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x; do
	http POST /actors -H 'Content-Type: application/json' -H "traceparent: $tp" --data-binary "@$T/2mib"
	a=$(hdr X-Correlation-Id)
	http GET /actors/abc -H "traceparent: $tp"
	b=$(hdr X-Correlation-Id)
	ok "traceparent $tp: neither nginx ($a) nor corad ($b) takes its trace id" \
		test "$a" != 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 -a "$b" != 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 \
		-a "$a" != 00000000-0000-0000-0000-000000000000
done
http POST /actors -H 'Content-Type: application/json' --data-binary "@$T/2mib"
a=$(hdr X-Correlation-Id)
http POST /actors -H 'Content-Type: application/json' --data-binary "@$T/2mib"
isnt "$(hdr X-Correlation-Id)" "$a" "without a traceparent, each of nginx's answers has an id of its own"
http GET /actors/abc -H "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
is "$(hdr X-Correlation-Id)" 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 "corad takes a later version's traceparent"
http POST /actors -H 'Content-Type: application/json' --data-binary "@$T/2mib" \
	-H "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
is "$(hdr X-Correlation-Id)" 4bf92f35-77b3-4da6-a3ce-929d0e0e4736 "... and so does nginx"
http POST /actors -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$T/2mib"
nginx_error "a 2 MiB chunked body" 413 "Request body exceeds limit of 1048576 bytes"

# --- 403, 404 ---------------------------------------------------------------------
http GET /metrics --interface 127.0.0.2
nginx_error "GET /metrics from 127.0.0.2" 403 "Forbidden"
http GET /_cora_auth
nginx_error "GET /_cora_auth (internal)" 404 "Not Found"
http GET /_cora_error/400
nginx_error "GET /_cora_error/400 (internal)" 404 "Not Found"

# --- a types map from http{} does not relabel the JSON ------------------------------
MIME=$(nginx_url mime)
http TRACE "$MIME/actors/x.html"
nginx_error "with a types map: TRACE /actors/x.html" 405 "Method Not Allowed"
http GET "$MIME/actors/x.html" -H "X-Filler: $BIG_LINE"
nginx_error "with a types map: a 9 KB header to /actors/x.html" 400 "Request header or cookie too large"

# --- 401, 403, 500 from the authentication step -------------------------------------
AUTH=$(nginx_url auth)
http GET "$AUTH/actors"
nginx_error "auth step on: no credentials" 401 "Not authenticated"
http GET "$AUTH/actors" -H 'X-Principal-Id: forbidden'
nginx_error "auth step on: refused by the identity service" 403 "Forbidden"
http GET "$AUTH/actors" -H 'X-Principal-Id: broken'
nginx_error "auth step on: the identity service fails" 500 "Internal Server Error"
http GET "$AUTH/actors/$ID" -H "X-Principal-Id: $ID"
corad_error "auth step on: a vouched-for principal reaches corad" 503

# --- 504: a backend that never answers ------------------------------------------------
python3 - "$T/hang.sock" <<'PY' >"$T/hang.log" 2>&1 &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(64)		# connections queue up and are never accepted
time.sleep(120)
PY
EXTRA_PIDS+=($!)
wait_until 5 test -S "$T/hang.sock"
http GET "$(nginx_url hang)/health"
nginx_error "a backend that never answers" 504 "Gateway Timeout"

# --- what nginx never answers with: 408, 411, 416 -------------------------------------
SLOW_PORT=${NGX_PORT[slow]}
raw_http "$SLOW_PORT" 'GET /health HTTP/1.1\r\nHost: x\r\n'
is "$RAW_BYTES" 0 "headers cut short: nginx closes without any answer (no HTML 408)"
raw_http "$SLOW_PORT" 'POST /actors HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab'
is "$RAW_BYTES" 0 "a body cut short: nginx closes without any answer (no HTML 408)"
raw_http "$MAIN_PORT" 'POST /actors HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
isnt "$HTTP_STATUS" 411 "POST without Content-Length: no 411 from nginx"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "POST without Content-Length reaches corad"
http GET /health -H 'Range: bytes=100000-'
corad_error "GET /health with an unsatisfiable Range: corad's answer, no 416" 200

# --- corad's own errors pass through ----------------------------------------------------
http GET /nope
corad_error "GET /nope" 404
json_eq "$HTTP_BODY" '{"detail":"Not Found"}' "GET /nope: corad's body"
http PUT /actors -H 'Content-Type: application/json' --data-binary '{}'
corad_error "PUT /actors" 405
is "$(hdr Allow)" "GET, POST" "PUT /actors: corad's Allow header"
http GET "/actors/$ID"
corad_error "GET /actors/{id} without a database" 503
json_is "$HTTP_BODY" .detail "Database unavailable" "GET /actors/{id}: corad's own 503 detail"
http GET /actors/abc
like "$HTTP_STATUS" '^4[0-9][0-9]$' "GET /actors/abc: corad's 4xx ($HTTP_STATUS)"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "GET /actors/abc: corad's answer (X-Correlation-Id)"

# --- 502: a worker dies in the middle of a request ------------------------------------------
# A POST whose body stops halfway holds the worker that reads it (nginx
# streams the body: server "stream"); killed, it leaves nginx a 502 whose
# X-Correlation-Id is the one master.child_exited names, since corad took
# nginx's request id as its trace id.
python3 - "${NGX_PORT[stream]}" >"$T/held.out" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /actors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100\r\nConnection: close\r\n\r\n{\"name\":")
s.settimeout(20)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode("utf-8", "replace"))
PY
HELD=$!
# The worker busy with it, from /status.
held_worker() {
	local out
	out=$(curl -s "$BASE/status" | jq -r '.workers[] | select(.method == "POST") | .pid')
	[[ -n $out ]] && echo "$out"
}
ok "a worker is held by the unfinished body" wait_until 5 held_worker
victim=$(held_worker)
kill -KILL "$victim"
wait "$HELD"
held=$(cat "$T/held.out")
like "$held" '^HTTP/1.1 502' "the worker killed: nginx answers 502"
cid=$(awk -F': *' 'tolower($1) == "x-correlation-id" { sub(/\r$/, "", $2); print $2 }' <<<"$held")
like "$cid" "$UUID_RE" "... with an X-Correlation-Id"
ok "... the one master.child_exited names for the request the worker died in" wait_until 5 \
	log_has master.child_exited ".pid == $victim and .correlation_id == \"$cid\" and .method == \"POST\""

# --- 502: corad is gone --------------------------------------------------------------------
corad_stop QUIT 5
http GET /health
nginx_error "corad stopped: GET /health" 502 "Bad Gateway"
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Ada"}'
nginx_error "corad stopped: POST /actors" 502 "Bad Gateway"

done_testing
