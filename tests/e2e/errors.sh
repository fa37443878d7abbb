#!/bin/bash
# Error answers: 404, 405 with Allow, 503 for the actor routes without a
# database, odd requests that must not hurt a worker, and nginx's own
# 502 and 504 as JSON (shipped configuration).
. "$(dirname "$0")/lib.sh"

ID=0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c

# shipped: as operators install it. hang: same file, but the socket is one
# that accepts connections and never answers, with short FastCGI timeouts.
nginx_server main
nginx_server hang \
	"s|unix:$T/corad.sock|unix:$T/hang.sock|g" \
	's|client_max_body_size 1m;|client_max_body_size 1m; fastcgi_connect_timeout 1s; fastcgi_send_timeout 1s; fastcgi_read_timeout 1s;|'
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=2 || bail "corad starts"
workers_before=$(worker_pids)

# expect_error desc status detail: checks the last http answer.
expect_error() {
	is "$HTTP_STATUS" "$2" "$1: status $2"
	json_eq "$HTTP_BODY" "$(jq -cn --arg d "$3" '{detail: $d}')" "$1: body {\"detail\":\"$3\"}"
	is "$(hdr Content-Type)" application/json "$1: Content-Type application/json"
	like "$(hdr X-Correlation-Id)" "$UUID_RE" "$1: X-Correlation-Id"
}

http GET /nope
expect_error "GET /nope" 404 "Not Found"
http GET /health/x
expect_error "GET /health/x" 404 "Not Found"
http GET /actors/$ID/deactivate/extra
expect_error "GET /actors/{id}/deactivate/extra" 404 "Not Found"

http POST /health -H 'Content-Type: application/json' --data-binary '{}'
expect_error "POST /health" 405 "Method Not Allowed"
is "$(hdr Allow)" "GET" "POST /health: Allow: GET"
http DELETE /health
expect_error "DELETE /health" 405 "Method Not Allowed"
is "$(hdr Allow)" "GET" "DELETE /health: Allow: GET"
http PUT /actors -H 'Content-Type: application/json' --data-binary '{"name":"Ada"}'
expect_error "PUT /actors" 405 "Method Not Allowed"
is "$(hdr Allow)" "GET, POST" "PUT /actors: Allow: GET, POST"
http PATCH /health
is "$HTTP_STATUS" 405 "PATCH /health is 405"
http GET /actors/$ID/deactivate
is "$HTTP_STATUS" 405 "GET /actors/{id}/deactivate is 405"
is "$(hdr Allow)" "POST" "GET /actors/{id}/deactivate: Allow: POST"
http GET /actors/$ID/profile
is "$HTTP_STATUS" 405 "GET /actors/{id}/profile is 405"
is "$(hdr Allow)" "DELETE" "GET /actors/{id}/profile: Allow: DELETE"

# The actor routes get past the pipeline to their handlers, which find no
# database in this suite: 503 with Retry-After (tests/e2e/actors.sh has one).
http GET /actors
expect_error "GET /actors" 503 "Database unavailable"
is "$(hdr Retry-After)" 1 "GET /actors: Retry-After: 1"
http POST /actors -H 'Content-Type: application/json' --data-binary '{"name":"Ada","kind":"human"}'
expect_error "POST /actors" 503 "Database unavailable"
http GET /actors/$ID
expect_error "GET /actors/{id}" 503 "Database unavailable"
http POST /actors/$ID/deactivate
expect_error "POST /actors/{id}/deactivate" 503 "Database unavailable"
http DELETE /actors/$ID/profile
expect_error "DELETE /actors/{id}/profile" 503 "Database unavailable"

# Odd requests get JSON and leave the workers alone.
long=$(head -c 6000 /dev/zero | tr '\0' a)
http GET "/$long"
is "$HTTP_STATUS" 404 "a 6000-character path is 404"
json_is "$HTTP_BODY" .detail "Not Found" "... with the JSON body"
http GET '/actors/%ff%fe'
like "$HTTP_STATUS" '^(404|422|501)$' "a path that is not UTF-8 is answered ($HTTP_STATUS)"
json_like "$HTTP_BODY" '.detail | type' '^(string|array)$' "... with a JSON body"
http BREW /health
is "$HTTP_STATUS" 405 "an unknown method BREW on /health is 405"
json_is "$HTTP_BODY" .detail "Method Not Allowed" "... with the JSON body"
http GET /health -H "X-Filler: $(head -c 3000 /dev/zero | tr '\0' b)" -H 'traceparent: garbage'
is "$HTTP_STATUS" 200 "a large header and a malformed traceparent do not matter to /health"
sleep 0.3
is "$(worker_pids)" "$workers_before" "no worker died or was replaced"

# Straight over FastCGI, without the parameters nginx always sends.
if command -v cgi-fcgi >/dev/null; then
	fcgi REQUEST_METHOD=GET </dev/null
	like "$FCGI_STATUS" '^[45][0-9][0-9]$' "FastCGI request without any path is an error answer ($FCGI_STATUS)"
	json_like "$FCGI_BODY" '.detail | type' '^string$' "... with a JSON body"
	fcgi DOCUMENT_URI=/health </dev/null
	like "$FCGI_STATUS" '^[2-5][0-9][0-9]$' "FastCGI request without REQUEST_METHOD is answered ($FCGI_STATUS)"
	is "$(worker_pids)" "$workers_before" "the workers are still the same"
else
	for _ in 1 2 3 4; do fail "FastCGI request without nginx" "cgi-fcgi not installed"; done
fi

# nginx's own 504: the upstream accepts and never answers (spawn-fcgi binds
# the socket and execs sleep, which never calls accept).
if command -v spawn-fcgi >/dev/null; then
	spawn-fcgi -n -s "$T/hang.sock" -- /bin/sleep 60 >/dev/null 2>&1 &
	EXTRA_PIDS+=($!)
	disown $!
	wait_until 5 test -S "$T/hang.sock"
	http GET "$(nginx_url hang)/health"
	is "$HTTP_STATUS" 504 "an upstream that never answers gets nginx's 504"
	json_eq "$HTTP_BODY" '{"detail":"Gateway Timeout"}' "nginx's 504 body is {\"detail\":\"Gateway Timeout\"}"
	is "$(hdr Content-Type)" application/json "nginx's 504 is application/json"
else
	for _ in 1 2 3; do fail "nginx's 504" "spawn-fcgi not installed"; done
fi

# nginx's own 502: corad is gone.
corad_stop QUIT 5
http GET /health
is "$HTTP_STATUS" 502 "with corad stopped nginx answers 502"
json_eq "$HTTP_BODY" '{"detail":"Bad Gateway"}' "nginx's 502 body is {\"detail\":\"Bad Gateway\"}"
is "$(hdr Content-Type)" application/json "nginx's 502 is application/json"

done_testing
