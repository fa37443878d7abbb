#!/bin/bash
# The principal: FastCGI parameter CORA_PRINCIPAL_ID, a
# name no client header can produce (HTTP_X_PRINCIPAL_ID only when configured).
#
# nginx sets the principal from its own authentication step
# and never passes a client-supplied X-Principal-Id. So the tests use two
# servers made from deploy/nginx/corad.conf:
#   main: as shipped (no authentication configured): a client's own
#         X-Principal-Id header must not reach corad;
#   auth: the shipped auth_request lines enabled, the authentication
#         subrequest going to a stand-in service ("authsvc", an nginx server
#         of the test) that vouches for whatever X-Principal-Id the client
#         sent. corad then sees exactly the header value the test chooses.
. "$(dirname "$0")/lib.sh"

U=0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c
UU=$(tr '[:lower:]' '[:upper:]' <<<"$U")
MISSING="Missing X-Principal-Id header; this deployment requires an authenticated principal."

# passed desc: the last answer came from past the principal step. The
# suite runs without a database, so the handlers answer 503 (asserted first); that
# the answer is neither 401 nor 422 is asserted on its own as well.
passed() {
	is "$HTTP_STATUS" 503 "$1 (503: no database in this suite)"
	unlike "$HTTP_STATUS" '^(401|422|000)$' "$1: got past the principal step ($HTTP_STATUS)"
}

nginx_server main
nginx_server_auth auth
# A location that sets a fastcgi_param of its own loses the server-level
# ones, the principal's among them (here it includes the standard file
# again, as an operator would): the client's header must not take its place.
nginx_server ownparam 's|^\([[:space:]]*\)fastcgi_pass unix:\(.*\);$|\1include /etc/nginx/fastcgi_params;\n\1fastcgi_param CORA_EXTRA 1;\n\1fastcgi_pass unix:\2;|' 
nginx_start || bail "nginx starts"
A=$(nginx_url auth)
ok "the auth variant really enables auth_request" \
	grep -Eq '^[[:space:]]*auth_request /_cora_auth;' "$T/nginx-conf.d/auth.conf"

# --- REQUIRE_AUTHENTICATED_PRINCIPAL=true ---
corad_start REQUIRE_AUTHENTICATED_PRINCIPAL=true ||
	bail "corad starts with REQUIRE_AUTHENTICATED_PRINCIPAL=true"

http GET "$A/actors"
is "$HTTP_STATUS" 401 "required: GET /actors without a principal is 401"
json_eq "$HTTP_BODY" "$(jq -cn --arg d "$MISSING" '{detail: $d}')" "required: 401 body"
is "$(hdr Content-Type)" application/json "required: 401 is application/json"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "required: 401 has X-Correlation-Id"
ok "auth subrequests reached the stand-in service" test -s "$T/authsvc-access.log"
http GET "$A/actors" -H 'X-Principal-Id;'
is "$HTTP_STATUS" 401 "required: an empty X-Principal-Id counts as absent (401)"
http GET "$A/health"
is "$HTTP_STATUS" 200 "required: GET /health needs no principal"
http GET "$A/metrics"
is "$HTTP_STATUS" 200 "required: GET /metrics needs no principal"
http GET "$A/nope"
is "$HTTP_STATUS" 404 "required: routing comes first: GET /nope without a principal is 404"
http PUT "$A/actors"
is "$HTTP_STATUS" 405 "required: routing comes first: PUT /actors without a principal is 405"

http GET "$A/actors" -H 'X-Principal-Id: not-a-uuid'
is "$HTTP_STATUS" 422 "malformed principal is 422"
json_is "$HTTP_BODY" '.detail[0].type' uuid_parsing "422: detail[0].type is uuid_parsing"
json_is "$HTTP_BODY" '.detail[0].loc' '["header","X-Principal-Id"]' "422: detail[0].loc"
json_is "$HTTP_BODY" '.detail[0].input' not-a-uuid "422: detail[0].input is the value sent"
json_like "$HTTP_BODY" '.detail[0].msg' '^Input should be a valid UUID' "422: detail[0].msg"
is "$(hdr Content-Type)" application/json "422 is application/json"

http GET "$A/actors" -H "X-Principal-Id: $U"
passed "a valid principal reaches the handler"
http GET "$A/actors" -H "X-Principal-Id: $UU"
passed "an upper-case UUID is valid too"
http GET "$A/actors" -H "X-Principal-Id: ${U:0:35}"
is "$HTTP_STATUS" 422 "a UUID one digit short is 422"

# The shipped configuration does not let a client choose its principal.
http GET "$BASE/actors" -H "X-Principal-Id: $U"
is "$HTTP_STATUS" 401 "shipped config: a client's own X-Principal-Id is not passed on (401)"
http GET "$BASE/actors" -H 'X-Principal-Id: not-a-uuid'
is "$HTTP_STATUS" 401 "shipped config: a client's malformed X-Principal-Id never reaches corad (401, not 422)"
http GET "$BASE/health" -H "X-Principal-Id: $U"
is "$HTTP_STATUS" 200 "shipped config: /health still 200"
ok "the ownparam variant sets a parameter in its locations" \
	grep -q 'fastcgi_param CORA_EXTRA 1;' "$T/nginx-conf.d/ownparam.conf"
http GET "$(nginx_url ownparam)/actors" -H "X-Principal-Id: $U"
is "$HTTP_STATUS" 401 "a location with its own fastcgi_param: the client's X-Principal-Id is still no principal (401)"
ok "no startup.warning about the principal parameter by default" \
	eval '! log_has startup.warning '"'"'.setting == "CORA_PRINCIPAL_PARAM"'"'"

# Straight over FastCGI: the parameter itself.
if command -v cgi-fcgi >/dev/null; then
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors </dev/null
	is "$FCGI_STATUS" 401 "FastCGI: no CORA_PRINCIPAL_ID is 401"
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors CORA_PRINCIPAL_ID= </dev/null
	is "$FCGI_STATUS" 401 "FastCGI: an empty CORA_PRINCIPAL_ID is 401"
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors CORA_PRINCIPAL_ID="$U" </dev/null
	is "$FCGI_STATUS" 503 "FastCGI: a valid CORA_PRINCIPAL_ID passes (503: no database)"
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors CORA_PRINCIPAL_ID=xyz </dev/null
	is "$FCGI_STATUS" 422 "FastCGI: a malformed CORA_PRINCIPAL_ID is 422"
	json_is "$FCGI_BODY" '.detail[0].input' xyz "FastCGI: 422 input is the value"
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors HTTP_X_PRINCIPAL_ID="$U" </dev/null
	is "$FCGI_STATUS" 401 "FastCGI: HTTP_X_PRINCIPAL_ID (a client header) is not the principal by default"
else
	for _ in 1 2 3 4 5 6; do fail "FastCGI principal parameter" "cgi-fcgi not installed"; done
fi

# --- not required (the default) ---
corad_stop TERM 15
is "$EXIT_STATUS" 0 "corad stops for the restart"
corad_start || bail "corad starts without REQUIRE_AUTHENTICATED_PRINCIPAL"
http GET "$A/actors"
passed "not required: no principal passes as the system principal"
http GET "$BASE/actors"
is "$HTTP_STATUS" 503 "not required: shipped config without authentication passes (503: no database)"
http GET "$A/actors" -H 'X-Principal-Id: not-a-uuid'
is "$HTTP_STATUS" 422 "not required: a malformed principal is still 422"
json_is "$HTTP_BODY" '.detail[0].type' uuid_parsing "not required: 422 type uuid_parsing"
http GET "$A/actors" -H "X-Principal-Id: $U"
passed "not required: a valid principal passes"

# --- the old parameter name, kept as an option with a warning ---
corad_stop TERM 15
corad_start REQUIRE_AUTHENTICATED_PRINCIPAL=true CORA_PRINCIPAL_PARAM=HTTP_X_PRINCIPAL_ID ||
	bail "corad starts with CORA_PRINCIPAL_PARAM=HTTP_X_PRINCIPAL_ID"
ok "CORA_PRINCIPAL_PARAM=HTTP_X_PRINCIPAL_ID logs a startup.warning" \
	log_has startup.warning '.setting == "CORA_PRINCIPAL_PARAM" and .value == "HTTP_X_PRINCIPAL_ID" and (.reason | test("HTTP_"))'
fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors HTTP_X_PRINCIPAL_ID="$U" </dev/null
is "$FCGI_STATUS" 503 "HTTP_X_PRINCIPAL_ID is honoured when configured (503: no database)"
fcgi REQUEST_METHOD=GET DOCUMENT_URI=/actors REQUEST_URI=/actors CORA_PRINCIPAL_ID="$U" </dev/null
is "$FCGI_STATUS" 401 "and CORA_PRINCIPAL_ID is then not read (401)"
# A parameter the proxy derives from the request is accepted with a warning.
corad_run remote-user check CORA_PRINCIPAL_PARAM=REMOTE_USER
is "$RUN_STATUS" 0 "CORA_PRINCIPAL_PARAM=REMOTE_USER: corad check exits 0"
LOGFILE=$RUN_LOG ok "... with a startup.warning that the proxy fills it from the request" \
	log_has startup.warning '.setting == "CORA_PRINCIPAL_PARAM" and .value == "REMOTE_USER" and (.reason | test("Authorization"))'
# Through the shipped nginx, the client's X-Principal-Id does not reach
# corad even under that name.
as "$U" GET /actors
is "$HTTP_STATUS" 401 "main (shipped): a client's X-Principal-Id is not HTTP_X_PRINCIPAL_ID either (401)"
json_is "$HTTP_BODY" .detail "$MISSING" "... the principal is missing"

done_testing
