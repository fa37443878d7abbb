#!/bin/bash
# The request body limit: nginx's client_max_body_size in the shipped
# configuration (its JSON 413), and corad's own check
# through a variant without nginx's limit and without request buffering, so
# corad sees the body as it arrives (also without a Content-Length).
. "$(dirname "$0")/lib.sh"

LIMIT=1048576
MIB2=$((2 * 1024 * 1024))

# json_body bytes file: a valid POST /actors body of exactly `bytes` bytes
# (unknown keys are ignored, so a padding key makes up the size).
json_body() {
	local head='{"name":"Ada","kind":"human","pad":"' tail='"}' n
	n=$(($1 - ${#head} - ${#tail}))
	{ printf '%s' "$head"; head -c "$n" /dev/zero | tr '\0' x; printf '%s' "$tail"; } >"$2"
}
json_body $MIB2 "$T/2mib.json"
json_body $LIMIT "$T/limit.json"
json_body $((LIMIT + 1)) "$T/limit1.json"
json_body 100 "$T/100.json"
json_body 101 "$T/101.json"
is "$(stat -c %s "$T/2mib.json") $(stat -c %s "$T/limit.json") $(stat -c %s "$T/100.json")" \
	"$MIB2 $LIMIT 100" "test bodies have the intended sizes"

nginx_server main
nginx_server direct \
	's|client_max_body_size 1m;|client_max_body_size 0; fastcgi_request_buffering off;|'
nginx_start || bail "nginx starts"
B=$(nginx_url direct)
ok "the shipped config sets client_max_body_size 1m" \
	grep -Eq '^[[:space:]]*client_max_body_size[[:space:]]+1m;' "$CORAD_CONF_SRC"
corad_start CORA_WORKERS=2 || bail "corad starts"

post() {	# post URL file [curl options...]
	local url=$1 file=$2
	shift 2
	http POST "$url" -H 'Content-Type: application/json' --data-binary "@$file" "$@"
}

# --- nginx's own limit (shipped configuration) ---
post "$BASE/actors" "$T/2mib.json"
is "$HTTP_STATUS" 413 "shipped config: 2 MiB POST /actors is 413 (nginx)"
json_eq "$HTTP_BODY" "{\"detail\":\"Request body of $MIB2 bytes exceeds limit of $LIMIT bytes\"}" \
	"shipped config: nginx's 413 body is JSON and names the declared length, as corad's"
is "$(hdr Content-Type)" application/json "shipped config: nginx's 413 is application/json"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "shipped config: nginx's 413 has X-Correlation-Id"
post "$BASE/actors" "$T/limit1.json"
is "$HTTP_STATUS" 413 "shipped config: limit+1 bytes is 413 (nginx)"
post "$BASE/actors" "$T/2mib.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 413 "shipped config: 2 MiB chunked is 413 (nginx)"
json_eq "$HTTP_BODY" "{\"detail\":\"Request body exceeds limit of $LIMIT bytes\"}" \
	"... and, with no length declared, names only the limit"
post "$BASE/actors" "$T/limit.json"
is "$HTTP_STATUS" 503 "shipped config: exactly $LIMIT bytes passes nginx and corad (503: no database in this suite)"
post "$BASE/health" "$T/limit.json"
is "$HTTP_STATUS" 405 "shipped config: exactly $LIMIT bytes to POST /health gets past the body check (405)"

# --- corad's own check ---
post "$B/actors" "$T/2mib.json"
is "$HTTP_STATUS" 413 "corad: 2 MiB with Content-Length is 413"
json_eq "$HTTP_BODY" "{\"detail\":\"Request body of $MIB2 bytes exceeds limit of $LIMIT bytes\"}" \
	"corad: 413 names the declared length and the limit"
is "$(hdr Content-Type)" application/json "corad: 413 is application/json"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "corad: 413 has X-Correlation-Id"
ok "log: body_size_limit.rejected with content_length $MIB2" wait_until 3 log_has body_size_limit.rejected \
	".path == \"/actors\" and .method == \"POST\" and .content_length == $MIB2 and .limit == $LIMIT"

post "$B/actors" "$T/2mib.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 413 "corad: 2 MiB chunked (no Content-Length) is 413"
json_eq "$HTTP_BODY" "{\"detail\":\"Request body of $((LIMIT + 1)) bytes exceeds limit of $LIMIT bytes\"}" \
	"corad: chunked 413 stops counting at limit+1"
is "$(hdr Content-Type)" application/json "corad: chunked 413 is application/json"
ok "log: body_size_limit.rejected with content_length null" wait_until 3 log_has body_size_limit.rejected \
	'.path == "/actors" and .method == "POST" and has("content_length") and .content_length == null and .limit == '$LIMIT

post "$B/actors" "$T/limit.json"
is "$HTTP_STATUS" 503 "corad: exactly $LIMIT bytes with Content-Length passes (503: no database in this suite)"
post "$B/actors" "$T/limit.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 503 "corad: exactly $LIMIT bytes chunked passes (503: no database in this suite)"
post "$B/health" "$T/limit.json"
is "$HTTP_STATUS" 405 "corad: exactly $LIMIT bytes to POST /health gets past the body check (405)"
post "$B/health" "$T/limit.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 405 "corad: exactly $LIMIT bytes chunked to POST /health gets past the body check (405)"
post "$B/actors" "$T/limit1.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 413 "corad: limit+1 bytes chunked is 413"
post "$B/nope" "$T/2mib.json"
is "$HTTP_STATUS" 413 "the body check comes before routing: 2 MiB to /nope is 413"
is "$(log_count body_size_limit.rejected)" 4 "one body_size_limit.rejected line per corad 413"

# A declared length over the limit, straight over FastCGI (no nginx): corad
# must answer without reading the body.
if command -v cgi-fcgi >/dev/null; then
	fcgi REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors \
		CONTENT_TYPE=application/json CONTENT_LENGTH=5000000 <"$T/100.json"
	is "$FCGI_STATUS" 413 "FastCGI: CONTENT_LENGTH=5000000 is 413"
	json_is "$FCGI_BODY" .detail "Request body of 5000000 bytes exceeds limit of $LIMIT bytes" \
		"FastCGI: 413 names the declared length"
	ok "log: body_size_limit.rejected with content_length 5000000" wait_until 3 log_has \
		body_size_limit.rejected '.content_length == 5000000'
else
	for _ in 1 2 3; do fail "FastCGI CONTENT_LENGTH over the limit" "cgi-fcgi not installed"; done
fi

# A body that is not the length declared: more than it (the rest would
# have been taken for the body), or less (cut short). Straight over
# FastCGI; nginx always declares what it sends.
need_tools python3
for declared in 2 500; do
	printf '{"name":"Ada"}' | python3 "$(dirname "$0")/fcgi_client.py" "unix:$T/corad.sock" \
		REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors \
		CONTENT_TYPE=application/json CONTENT_LENGTH=$declared >"$T/cl.out"
	is "$(head -n 1 "$T/cl.out" | tr -d '\r')" "Status: 400 Bad Request" \
		"FastCGI: 14 bytes sent with CONTENT_LENGTH=$declared: 400"
	is "$(sed '1,/^\r*$/d' "$T/cl.out")" \
		"{\"detail\":\"Request body of 14 bytes does not match Content-Length $declared\"}" "... which says so"
done

# A length too big for any machine word is over the limit too, quoted as
# declared.
QN='http_request_size_bytes_count{handler="/actors"}'
QS='http_request_size_bytes_sum{handler="/actors"}'
# The earlier requests' records reach the stats child within 250 ms: the
# count is read once it holds still.
before=$(metric "$QN")
settled() { sleep 0.4; local now; now=$(metric "$QN"); [[ $now == "$before" ]] || { before=$now; false; }; }
wait_until 10 settled
printf '{"name":"Ada"}' | python3 "$(dirname "$0")/fcgi_client.py" "unix:$T/corad.sock" \
	REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors \
	CONTENT_TYPE=application/json CONTENT_LENGTH=99999999999999999999 >"$T/cl.out"
is "$(head -n 1 "$T/cl.out" | tr -d '\r')" "Status: 413 Content Too Large" \
	"FastCGI: CONTENT_LENGTH=99999999999999999999: 413"
is "$(sed '1,/^\r*$/d' "$T/cl.out")" \
	'{"detail":"Request body of 99999999999999999999 bytes exceeds limit of 1048576 bytes"}' "... which says so"
like "$(tr -d '\r' <"$T/cl.out" | sed -n 's/^X-Correlation-Id: //p')" "$UUID_RE" "... with an X-Correlation-Id"
# The request sizes count the bytes read: a refused length is no size, or
# one such request would swamp the sum for good (9.2e18, past what a
# float's 53 bits keep of later additions).
counted() { [[ $(metric "$QN") == "$((before + 1))" ]]; }
ok "... is counted in $QN" wait_until 5 counted
cmp_ok "$(metric "$QS" | awk '{ printf "%d", $1 }')" -lt 100000000 "... which it leaves under 100 MB"

# --- MAX_REQUEST_BODY_SIZE_BYTES=100 ---
corad_stop TERM 15
is "$EXIT_STATUS" 0 "corad stops for the restart"
corad_start CORA_WORKERS=1 MAX_REQUEST_BODY_SIZE_BYTES=100 ||
	bail "corad starts with MAX_REQUEST_BODY_SIZE_BYTES=100"
post "$BASE/actors" "$T/101.json"
is "$HTTP_STATUS" 413 "limit 100: 101 bytes is 413"
json_is "$HTTP_BODY" .detail "Request body of 101 bytes exceeds limit of 100 bytes" "limit 100: 413 detail"
ok "limit 100: log has limit 100, content_length 101" wait_until 3 log_has body_size_limit.rejected \
	'.content_length == 101 and .limit == 100'
post "$BASE/actors" "$T/100.json"
is "$HTTP_STATUS" 503 "limit 100: 100 bytes passes (503: no database in this suite)"
post "$BASE/health" "$T/100.json"
is "$HTTP_STATUS" 405 "limit 100: 100 bytes to POST /health gets past the body check (405)"
post "$B/actors" "$T/101.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 413 "limit 100: 101 bytes chunked is 413"
json_is "$HTTP_BODY" .detail "Request body of 101 bytes exceeds limit of 100 bytes" "limit 100: chunked 413 detail"
post "$B/actors" "$T/100.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 503 "limit 100: 100 bytes chunked passes (503: no database in this suite)"
post "$B/health" "$T/100.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 405 "limit 100: 100 bytes chunked to POST /health gets past the body check (405)"
post "$B/health" "$T/101.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 413 "limit 100: 101 bytes chunked to POST /health is 413"

done_testing
