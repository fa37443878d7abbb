#!/bin/bash
# shellcheck shell=bash disable=SC2034,SC2119,SC2120
# (SC2034: the variables here are for the scripts that source this file.)
# Shared helpers of the end-to-end tests (sourced by every tests/e2e/*.sh).
#
# Environment (set by `make check`): CORAD_BIN, CORAD_SRCDIR, CORAD_VERSION,
# CORAD_SANITIZED (the sanitizer flags of an ASan/UBSan build, else empty),
# NGINX. Every script gets a fresh temporary directory $T and must leave
# nothing behind: the EXIT trap stops corad (SIGQUIT, then SIGKILL for what is
# left of its process group), nginx and every other process the script
# started, and removes $T (set CORAD_E2E_KEEP=1 to keep it for debugging).
#
# TAP: ok, pass, fail, is, isnt, like, unlike, cmp_ok, json_is, skip, diag,
# plan (optional) and done_testing, which prints the plan at the end. A script
# that dies before done_testing prints "Bail out!", which the TAP driver
# reports as an error.

set -u
set -o pipefail

: "${CORAD_BIN:?CORAD_BIN must name the corad binary}"
: "${CORAD_SRCDIR:?CORAD_SRCDIR must name the source directory}"
: "${CORAD_VERSION:?CORAD_VERSION must be set}"
NGINX=${NGINX:-}
if [[ -z $NGINX ]]; then
	NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
fi
CORAD_CONF_SRC=$CORAD_SRCDIR/deploy/nginx/corad.conf

# Short path: Unix socket paths are limited to 107 bytes.
T=$(mktemp -d /tmp/corad-e2e.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
export LC_ALL=C

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
UUID7_RE='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$'
# Two principals for the tests that need them (P2 is the one policies deny).
P1=0190a1f4-7c3e-7d2a-9b1c-2f3e4d5a6b7c
P2=0190a1f4-7c3e-7d2a-9b1c-00000000beef

# --- TAP --------------------------------------------------------------------

TAP_N=0
TAP_FAILED=0
TAP_PLANNED=
TAP_DONE=

plan() { TAP_PLANNED=$1; echo "1..$1"; }

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

pass() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }

fail() {	# fail desc [diagnostic...]
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	shift
	local d
	for d in "$@"; do diag "$d"; done
	return 0
}

skip() {	# skip desc reason
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}

# ok desc command [args...]: passes when the command exits 0.
ok() {
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc" "command failed: $*"
	fi
}

# nok desc command [args...]: passes when the command exits non-zero.
nok() {
	local desc=$1
	shift
	if "$@"; then
		fail "$desc" "command succeeded: $*"
	else
		pass "$desc"
	fi
}

is() {	# is got expected desc
	if [[ $1 == "$2" ]]; then
		pass "$3"
	else
		fail "$3" "got:      '$1'" "expected: '$2'"
	fi
}

isnt() {	# isnt got unexpected desc
	if [[ $1 != "$2" ]]; then
		pass "$3"
	else
		fail "$3" "got '$1', which it must not be"
	fi
}

like() {	# like got ERE desc
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "got:      '$1'" "expected to match: $2"
	fi
}

unlike() {	# unlike got ERE desc
	if [[ $1 =~ $2 ]]; then
		fail "$3" "got:      '$1'" "expected not to match: $2"
	else
		pass "$3"
	fi
}

cmp_ok() {	# cmp_ok got op expected desc (integers; op: -eq -ne -lt -le -gt -ge)
	if [[ $1 =~ ^-?[0-9]+$ ]] && test "$1" "$2" "$3"; then
		pass "$4"
	else
		fail "$4" "got: '$1'" "expected: $2 $3"
	fi
}

# json_value json filter: the filter's result, raw when it is a string and
# compact JSON otherwise; "<invalid JSON>" when the input does not parse.
json_value() {
	jq -r "$2"' | if type == "string" then . else tojson end' <<<"$1" 2>/dev/null ||
		echo "<invalid JSON>"
}

json_is() {	# json_is json filter expected desc
	local got
	got=$(json_value "$1" "$2")
	if [[ $got == "$3" ]]; then
		pass "$4"
	else
		fail "$4" "filter:   $2" "got:      '$got'" "expected: '$3'" "document: ${1:0:400}"
	fi
}

json_like() {	# json_like json filter ERE desc
	local got
	got=$(json_value "$1" "$2")
	if [[ $got =~ $3 ]]; then
		pass "$4"
	else
		fail "$4" "filter:   $2" "got:      '$got'" "expected to match: $3" "document: ${1:0:400}"
	fi
}

# The whole JSON document compared after normalisation (sorted keys).
json_eq() {	# json_eq json expected-json desc
	local a b
	a=$(jq -cS . <<<"$1" 2>/dev/null || echo "<invalid JSON: ${1:0:300}>")
	b=$(jq -cS . <<<"$2")
	is "$a" "$b" "$3"
}

done_testing() {
	check_responses
	TAP_DONE=1
	if [[ $TAP_FAILED -gt 0 ]]; then
		dump_logs
	fi
	if [[ -z $TAP_PLANNED ]]; then
		echo "1..$TAP_N"
	elif [[ $TAP_PLANNED != "$TAP_N" ]]; then
		diag "planned $TAP_PLANNED tests but ran $TAP_N"
	fi
}

# bail desc [diagnostic...]: a step the rest of the script needs failed:
# report it, end the plan (through the script's finish when it has one)
# and stop.
bail() {
	fail "$@"
	if declare -F finish >/dev/null; then finish; else done_testing; fi
	exit
}

dump_logs() {
	local f
	for f in "$T"/corad*.log "$T"/run-*.log "$T/nginx-error.log"; do
		[[ -s $f ]] || continue
		diag "--- last lines of ${f#"$T"/} ---"
		diag "$(tail -n 25 "$f")"
	done
}

# --- processes ----------------------------------------------------------------

CORAD_PID=		# master of the corad started last
ALL_CORAD_PIDS=()	# every corad master started (each leads its own group)
NGINX_PID=
EXTRA_PIDS=()		# other background processes to kill at exit

# alive pid: the process exists and is not a zombie.
alive() {
	local st
	[[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

comm_of() { cat "/proc/$1/comm" 2>/dev/null; }

# wait_until seconds command [args...]: polls every 0.05 s until the command
# succeeds (status 0) or the deadline passes (status 1).
wait_until() {
	local secs=$1 deadline
	shift
	deadline=$(($(date +%s%N) + ${secs%.*} * 1000000000))
	while :; do
		"$@" && return 0
		[[ $(date +%s%N) -ge $deadline ]] && return 1
		sleep 0.05
	done
}

# wait_exit pid seconds: waits for a child of this shell to exit; sets
# EXIT_STATUS (its status, or "timeout" when it is still running).
wait_exit() {
	EXIT_STATUS=timeout
	if wait_until "$2" eval '! alive '"$1"; then
		EXIT_STATUS=0
		wait "$1" 2>/dev/null || EXIT_STATUS=$?
	fi
}

master_pid() { echo "$CORAD_PID"; }

# Children of the master with the given comm, one pid per line, sorted.
children_named() {
	local m=${2:-$CORAD_PID}
	[[ -n $m ]] || return 0
	pgrep -P "$m" -x "$1" 2>/dev/null | sort -n
}
worker_pids() { children_named corad-worker "${1:-}"; }
stats_pids() { children_named corad-stats "${1:-}"; }
count_lines() { grep -c . <<<"$1" || true; }
worker_count() { count_lines "$(worker_pids)"; }

# Every process in a corad process group whose comm starts with "corad".
group_corad_pids() {
	local p
	for p in $(pgrep -g "$1" 2>/dev/null); do
		[[ $(comm_of "$p") == corad* ]] && alive "$p" && echo "$p"
	done
	return 0
}

kill_corad_group() {	# master-pid: SIGQUIT, up to 2 s, then SIGKILL the rest
	local m=$1 p
	if alive "$m"; then
		kill -QUIT "$m" 2>/dev/null
		wait_until 2 eval '[[ -z $(group_corad_pids '"$m"') ]]'
	fi
	for p in $(group_corad_pids "$m"); do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$m" 2>/dev/null
	return 0
}

cleanup() {
	local rc=$? m p c
	trap - EXIT
	trap '' PIPE INT TERM HUP
	if [[ -z $TAP_DONE ]]; then
		dump_logs
		echo "Bail out! ${0##*/} stopped before done_testing (status $rc)"
	fi
	for p in "${EXTRA_PIDS[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do
			kill -KILL "$c" 2>/dev/null
		done
		kill -KILL "$p" 2>/dev/null
	done
	for m in "${ALL_CORAD_PIDS[@]}"; do
		kill_corad_group "$m"
	done
	nginx_stop
	for p in "${EXTRA_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [[ -n ${CORAD_E2E_KEEP:-} ]]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	[[ -n $TAP_DONE ]] && exit 0
	exit 1
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# A reader that goes away (`| head`) must not kill the script before cleanup.
trap 'exit 141' PIPE

# --- logs ---------------------------------------------------------------------

CORAD_LOG=$T/corad.log

# log_select event [jq-condition]: matching lines of $LOGFILE (default: the
# current corad log) as compact JSON, one per line. Non-JSON lines are ignored.
log_select() {
	local ev=$1 cond=${2:-true}
	jq -c -R --arg ev "$ev" \
		'fromjson? | select(type == "object" and .event == $ev) | select('"$cond"')' \
		"${LOGFILE:-$CORAD_LOG}" 2>/dev/null
}
log_has() { [[ -n $(log_select "$@") ]]; }
log_count() { count_lines "$(log_select "$@")"; }

# --- ports and nginx ------------------------------------------------------------

USED_PORTS=" "
pick_port() {
	local p listening
	listening=$(ss -ltnH 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | tr '\n' ' ')
	while :; do
		# Below Linux's ephemeral range (32768-60999), where outgoing
		# connections in TIME_WAIT would make a bind fail.
		p=$((20000 + RANDOM % 12000))
		[[ $USED_PORTS == *" $p "* || " $listening " == *" $p "* ]] && continue
		USED_PORTS+="$p "
		echo "$p"
		return
	done
}

NGX_NAMES=()
declare -A NGX_KIND NGX_SED NGX_PORT NGX_RAW

# nginx_server name [sed-expression...]: a server block made from a copy of
# deploy/nginx/corad.conf in which the socket path and the listen port are
# rewritten, then the given sed expressions applied (@PORT_<name>@ in them is
# replaced by that server's port). The first server defined is $BASE.
nginx_server() {
	local name=$1
	shift
	NGX_NAMES+=("$name")
	NGX_KIND[$name]=shipped
	local e s=
	for e in "$@"; do s+="$e"$'\n'; done
	NGX_SED[$name]=$s
}

# nginx_raw name <<'EOF' ... EOF: a server block of the test's own;
# @PORT@ is its port, @PORT_<name>@ another server's, @T@ the temp dir.
nginx_raw() {
	NGX_NAMES+=("$1")
	NGX_KIND[$1]=raw
	NGX_RAW[$1]=$(cat)
}

# nginx_server_auth name [sed-expression...]: nginx_server with the shipped
# configuration's auth_request step enabled. It asks a stand-in
# authentication service (one per script) that vouches for whatever
# X-Principal-Id the client sent: the principal then reaches corad the way
# production sends it, from the proxy's own step.
nginx_server_auth() {
	local name=$1
	shift
	nginx_server "$name" \
		's|^\([[:space:]]*\)# \(auth_request /_cora_auth;\)|\1\2|' \
		's|^\([[:space:]]*\)# \(auth_request_set \$cora_principal \$upstream_http_x_principal_id;\)|\1\2|' \
		's|proxy_pass http://127\.0\.0\.1:9000/auth;|proxy_pass http://127.0.0.1:@PORT_authsvc@/auth;|' \
		"$@"
	[[ -n ${NGX_KIND[authsvc]:-} ]] && return
	nginx_raw authsvc <<'EOF'
server {
	listen 127.0.0.1:@PORT@;
	access_log @T@/authsvc-access.log;
	location = /auth {
		add_header X-Principal-Id $http_x_principal_id;
		return 204;
	}
}
EOF
}

nginx_url() { echo "http://127.0.0.1:${NGX_PORT[$1]}"; }

ngx_subst() {	# text: replaces @PORT_<name>@ and @T@
	local s=$1 n
	for n in "${NGX_NAMES[@]}"; do
		s=${s//@PORT_$n@/${NGX_PORT[$n]}}
	done
	s=${s//@T@/$T}
	printf '%s' "$s"
}

nginx_write_conf() {
	local n user_line='' e
	[[ $(id -u) -eq 0 ]] && user_line='user root;'
	mkdir -p "$T/nginx-conf.d" "$T/nginx-temp"
	rm -f "$T"/nginx-conf.d/*.conf
	for n in "${NGX_NAMES[@]}"; do
		NGX_PORT[$n]=$(pick_port)
	done
	for n in "${NGX_NAMES[@]}"; do
		if [[ ${NGX_KIND[$n]} == raw ]]; then
			e=$(ngx_subst "${NGX_RAW[$n]}")
			printf '%s\n' "${e//@PORT@/${NGX_PORT[$n]}}" >"$T/nginx-conf.d/$n.conf"
			continue
		fi
		# Only the socket paths and the listen address change ...
		sed -e "s|unix:/run/corad/corad\.sock|unix:$T/corad.sock|g" \
			-e "s|unix:/run/corad/status\.sock|unix:${CORA_STATUS_SOCK:-$T/run/status.sock}|g" \
			-e "s|listen 127\.0\.0\.1:8080;|listen 127.0.0.1:${NGX_PORT[$n]};|" \
			"$CORAD_CONF_SRC" >"$T/nginx-conf.d/$n.conf.tmp" || return 1
		# ... unless the test asks for a variant.
		e=$(ngx_subst "${NGX_SED[$n]}")
		if [[ -n $e ]]; then
			sed -e "$e" "$T/nginx-conf.d/$n.conf.tmp" >"$T/nginx-conf.d/$n.conf" || return 1
			rm -f "$T/nginx-conf.d/$n.conf.tmp"
		else
			mv "$T/nginx-conf.d/$n.conf.tmp" "$T/nginx-conf.d/$n.conf"
		fi
	done
	cat >"$T/nginx.conf" <<EOF
# Generated by ${0##*/}.
$user_line
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx-error.log info;

events {
	worker_connections 512;
}

http {
	access_log $T/nginx-access.log;
	default_type application/octet-stream;
	client_body_temp_path $T/nginx-temp/client_body;
	fastcgi_temp_path $T/nginx-temp/fastcgi;
	proxy_temp_path $T/nginx-temp/proxy;
	uwsgi_temp_path $T/nginx-temp/uwsgi;
	scgi_temp_path $T/nginx-temp/scgi;

	include $T/nginx-conf.d/*.conf;
}
EOF
}

nginx_listening() {
	local n code
	for n in "${NGX_NAMES[@]}"; do
		code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$(nginx_url "$n")/" 2>/dev/null)
		[[ -n $code && $code != 000 ]] || return 1
	done
}

# Starts nginx with every server defined so far; a port that turns out to be
# taken is picked again (tests run in parallel).
nginx_start() {
	local try
	[[ -x $NGINX ]] || { diag "nginx not found ($NGINX)"; return 1; }
	for _ in 1 2 3 4 5; do
		nginx_write_conf || return 1
		: >"$T/nginx-error.log"
		setsid env -u NGINX "$NGINX" -p "$T/" -c "$T/nginx.conf" -e "$T/nginx-error.log" </dev/null \
			>>"$T/nginx-stdout.log" 2>&1 &
		NGINX_PID=$!
		if wait_until 10 nginx_listening_or_dead && alive "$NGINX_PID"; then
			BASE=$(nginx_url "${NGX_NAMES[0]}")
			return 0
		fi
		wait "$NGINX_PID" 2>/dev/null
		NGINX_PID=
		if ! grep -q 'Address already in use' "$T/nginx-error.log" "$T/nginx-stdout.log"; then
			diag "nginx did not start:"
			diag "$(cat "$T/nginx-error.log" "$T/nginx-stdout.log")"
			return 1
		fi
	done
	diag "nginx: no free port found"
	return 1
}
nginx_listening_or_dead() { ! alive "$NGINX_PID" || nginx_listening; }

# daemon_stop PID COMM SECONDS: SIGTERM to a server this script started,
# then SIGKILL to it and its children still named COMM after SECONDS.
daemon_stop() {
	local pid=$1 comm=$2 secs=$3 p kids
	[[ -n $pid ]] || return 0
	kids=$(pgrep -P "$pid" 2>/dev/null)
	kill -TERM "$pid" 2>/dev/null
	wait_until "$secs" eval '! alive '"$pid"
	for p in $pid $kids; do
		[[ $(comm_of "$p") == "$comm" ]] && kill -KILL "$p" 2>/dev/null
	done
	wait "$pid" 2>/dev/null
	return 0
}

nginx_stop() {
	daemon_stop "$NGINX_PID" nginx 3
	NGINX_PID=
}

# --- HTTP -----------------------------------------------------------------------

# as PRINCIPAL METHOD PATH [curl options...]: http as that principal ("" for
# none), sent as X-Principal-Id for the auth_request stand-in to vouch for.
as() {
	local p=$1 m=$2 path=$3
	shift 3
	if [[ -n $p ]]; then
		http "$m" "$path" -H "X-Principal-Id: $p" "$@"
	else
		http "$m" "$path" "$@"
	fi
}

BASE=

# http METHOD URL-or-path [curl options...]: sets HTTP_STATUS ("000" when no
# response), HTTP_RC (curl's status), HTTP_BODY, HTTP_HEADERS (of the final
# response, CR removed). A path is relative to $BASE.
http() {
	local method=$1 url=$2
	shift 2
	[[ $url == /* ]] && url=$BASE$url
	HTTP_RC=0
	HTTP_STATUS=$(curl -sS --max-time 30 -o "$T/http.body" -D "$T/http.headers" \
		-w '%{http_code}' -X "$method" "$@" "$url" 2>"$T/http.err") || HTTP_RC=$?
	HTTP_BODY=$(cat "$T/http.body" 2>/dev/null)
	# Keep only the last header block (a 100 Continue may come first).
	HTTP_HEADERS=$(tr -d '\r' <"$T/http.headers" 2>/dev/null |
		awk '/^HTTP\// { block = "" } { block = block $0 "\n" } END { printf "%s", block }')
	if [[ $HTTP_RC -ne 0 ]]; then
		diag "curl $method $url: exit $HTTP_RC: $(cat "$T/http.err")"
	fi
	record_response "$method" "$url"
	return 0
}

# post_json PRINCIPAL PATH BODY [curl options...]: POST a JSON body as that
# principal ("" for none).
post_json() {
	as "$1" POST "$2" -H 'Content-Type: application/json' --data-binary "$3" "${@:4}"
}

# cid: the X-Correlation-Id of the last answer.
cid() { hdr X-Correlation-Id; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# nodash UUID: its 32 hex digits (a trace id from a correlation id).
nodash() { tr -d '-' <<<"$1"; }

# metric NAME{labels}: its value in GET /metrics ("" when absent). Leaves
# HTTP_* alone.
metric() {
	curl -s --max-time 10 "$BASE/metrics" 2>/dev/null |
		awk -v m="$1" '$1 == m { v = $2 } END { printf "%s", v }'
}

# list_all PATH QUERY LIMIT OUT [PRINCIPAL]: follows next_cursor of the list
# at PATH from its first page (at most 200 pages), writing every item as one
# JSON array to OUT; sets PAGES, LAST_CURSOR (of the last page) and LIST_ERR
# (non-empty on a non-200).
list_all() {
	local path=$1 query=$2 limit=$3 out=$4 p=${5:-} cursor='' url
	PAGES=0 LIST_ERR='' LAST_CURSOR=''
	: >"$out.pages"
	while [[ $PAGES -lt 200 ]]; do
		url="$path?limit=$limit${query:+&$query}${cursor:+&cursor=$cursor}"
		as "$p" GET "$url"
		if [[ $HTTP_STATUS != 200 ]]; then
			LIST_ERR="GET $url: $HTTP_STATUS $HTTP_BODY"
			break
		fi
		PAGES=$((PAGES + 1))
		jq -c '.items[]' <<<"$HTTP_BODY" >>"$out.pages"
		cursor=$(json_value "$HTTP_BODY" .next_cursor)
		LAST_CURSOR=$cursor
		[[ $cursor == null ]] && break
	done
	jq -s -c . "$out.pages" >"$out"
}

# proxy_page: whether the last answer is one of the shipped nginx or Apache
# configurations' own error pages, which carry X-Correlation-Id as corad's
# answers do: told apart by their bodies (a 405 of corad's has Allow; 408,
# 411 and 417 are Apache's only).
proxy_page() {
	local d
	d=$(jq -r 'if type == "object" and (keys == ["detail"]) and (.detail | type) == "string"
		then .detail else empty end' "$T/http.body" 2>/dev/null) || return 1
	case "$HTTP_STATUS $d" in
	"400 Bad Request" | "400 Request header or cookie too large" | "401 Not authenticated" | \
	"403 Forbidden" | "404 Not Found" | "408 Request Timeout" | "411 Length Required" | \
	"413 Request body exceeds limit of "* | "414 URI Too Long" | "417 Expectation Failed" | \
	"500 Internal Server Error" | "501 Not Implemented" | "502 Bad Gateway" | \
	"503 Service Unavailable" | "504 Gateway Timeout" | "505 HTTP Version Not Supported")
		return 0 ;;
	"405 Method Not Allowed") [[ -z $(hdr Allow) ]] ;;
	*) return 1 ;;
	esac
}

# corad's own answers (they carry X-Correlation-Id; so do the proxy's own
# pages, which are left out) are kept, and done_testing checks each against
# the OpenAPI document.
RESPONSES=$T/responses.jsonl
record_response() {	# method url
	local path=${2#*://*/}
	[[ -n $(hdr X-Correlation-Id) ]] || return 0
	! proxy_page || return 0
	jq -cn --arg m "$1" --arg p "/${path%%\?*}" --argjson s "${HTTP_STATUS:-0}" \
		--arg ct "$(hdr Content-Type)" --rawfile b "$T/http.body" \
		'{method: $m, path: $p, status: $s, content_type: $ct, body: $b}' >>"$RESPONSES" 2>/dev/null
}

# Checks every recorded response against `corad openapi`'s document.
check_responses() {
	local out
	[[ -s $RESPONSES ]] || return 0
	"$CORAD_BIN" openapi >"$T/openapi.json" 2>/dev/null
	if out=$(node "$CORAD_SRCDIR/tests/e2e/openapi_check.mjs" responses "$T/openapi.json" \
	    "$RESPONSES" 2>&1); then
		pass "every response of corad conforms to the OpenAPI document ($(tail -n 1 <<<"$out"))"
	else
		fail "every response of corad conforms to the OpenAPI document" "$out"
	fi
}

# hdr name [headers]: value of the (last) header of that name in HTTP_HEADERS.
hdr() {
	awk -v want="$(tr '[:upper:]' '[:lower:]' <<<"$1")" '
		{ i = index($0, ":"); if (i == 0) next
		  n = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1)
		  sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
		  if (n == want) found = v }
		END { printf "%s", found }' <<<"${2:-$HTTP_HEADERS}"
}

# raw_http PORT REQUEST: sends REQUEST (printf %b escapes) as it is over one
# connection to 127.0.0.1:PORT and reads until the server closes it; sets
# HTTP_STATUS ("000" when nothing came back), HTTP_HEADERS, HTTP_BODY and
# RAW_BYTES. For requests curl would not send, or would repair.
raw_http() {
	printf '%b' "$2" | python3 "$CORAD_SRCDIR/tests/e2e/raw_http.py" "$1" >"$T/raw.out" 2>"$T/raw.err"
	RAW_BYTES=$(stat -c %s "$T/raw.out")
	HTTP_STATUS=$(head -n 1 "$T/raw.out" | awk '/^HTTP\/1\.[01] [0-9][0-9][0-9]/ { print $2 }')
	[[ -n $HTTP_STATUS ]] || HTTP_STATUS=000
	HTTP_HEADERS=$(awk '{ sub(/\r$/, "") } /^$/ { exit } { print }' "$T/raw.out")
	HTTP_BODY=$(awk 'body { print; next } { sub(/\r$/, "") } /^$/ { body = 1 }' "$T/raw.out")
}

http_status_of() {	# URL: just the status code
	curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@" 2>/dev/null
}

# fcgi VAR=value... : one FastCGI request straight to corad's socket with
# cgi-fcgi (no nginx); the variables become the FastCGI parameters and stdin
# the body. Sets FCGI_RC, FCGI_STATUS (from the Status header, 200 when there
# is none, "" when there was no response), FCGI_HEADERS and FCGI_BODY.
fcgi() {
	local sock=${FCGI_SOCK:-$T/corad.sock}
	FCGI_RC=0
	env -i PATH="$PATH" "$@" timeout 20 cgi-fcgi -bind -connect "$sock" \
		>"$T/fcgi.out" 2>"$T/fcgi.err" || FCGI_RC=$?
	FCGI_HEADERS=$(awk '{ sub(/\r$/, "") } /^$/ { exit } { print }' "$T/fcgi.out")
	FCGI_BODY=$(awk 'body { print; next } { sub(/\r$/, "") } /^$/ { body = 1 }' "$T/fcgi.out")
	FCGI_STATUS=
	if [[ -s $T/fcgi.out ]]; then
		FCGI_STATUS=$(hdr Status "$FCGI_HEADERS")
		FCGI_STATUS=${FCGI_STATUS%% *}
		[[ -n $FCGI_STATUS ]] || FCGI_STATUS=200
	fi
	return 0
}

# --- corad ----------------------------------------------------------------------

HEALTH_PROBES_OK=0	# GET /health answered 200 while corad_start waited

# The environment every corad gets unless the script says otherwise: variables
# the script exported win over these defaults, arguments win over both.
corad_env() {
	CORAD_ENV=(
		"CORA_LISTEN=${CORA_LISTEN:-unix:$T/corad.sock}"
		"CORA_RUNTIME_DIR=${CORA_RUNTIME_DIR:-$T/run}"
		"CORA_WORKERS=${CORA_WORKERS:-2}"
		"LOG_LEVEL=${LOG_LEVEL:-DEBUG}"
		"APP_ENV=${APP_ENV:-local}"
		# No database in these tests: a socket directory with no server.
		"DATABASE_URL=${DATABASE_URL:-postgresql:///cora?host=$T/no-postgres}"
	)
}

rotate_log() {
	local i=1
	[[ -e $CORAD_LOG ]] || return 0
	while [[ -e $T/corad.$i.log ]]; do i=$((i + 1)); done
	mv "$CORAD_LOG" "$T/corad.$i.log"
}

# corad_launch [VAR=value...]: `corad serve` in the background, in a process
# group of its own (CORAD_PID), without waiting for it to answer. Variables of
# the caller's systemd or socket activation never leak into it.
corad_launch() {
	corad_env
	rotate_log
	: >"$CORAD_LOG"
	(cd "$T" && exec setsid env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES \
		-u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID \
		"${CORAD_ENV[@]}" "$@" "$CORAD_BIN" serve) </dev/null >>"$CORAD_LOG" 2>&1 &
	CORAD_PID=$!
	ALL_CORAD_PIDS+=("$CORAD_PID")
}

# corad_start [VAR=value...]: starts `corad serve` in a process group of its
# own (CORAD_PID), logging to $T/corad.log (an earlier log is kept as
# corad.N.log), and waits up to 15 s until GET /health answers 200: through
# nginx when it runs, else straight over FastCGI. Fails early when corad
# exits or logs config.invalid / startup.refused.
corad_start() {
	local deadline code
	corad_launch "$@"
	HEALTH_PROBES_OK=0
	deadline=$(($(date +%s) + 15))
	while [[ $(date +%s) -lt $deadline ]]; do
		if ! alive "$CORAD_PID"; then
			wait "$CORAD_PID" 2>/dev/null
			diag "corad exited with status $? before it answered"
			return 1
		fi
		if log_has config.invalid || log_has startup.refused; then
			diag "corad refused to start: $(log_select config.invalid; log_select startup.refused)"
			return 1
		fi
		if [[ -n $NGINX_PID ]]; then
			code=$(http_status_of "$BASE/health")
		else
			code=
			if [[ -S ${CORA_SOCK:-$T/corad.sock} ]]; then
				FCGI_SOCK=${CORA_SOCK:-$T/corad.sock} fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health \
					REQUEST_URI=/health CONTENT_LENGTH= </dev/null
				code=$FCGI_STATUS
			fi
		fi
		if [[ $code == 200 ]]; then
			HEALTH_PROBES_OK=1
			return 0
		fi
		sleep 0.1
	done
	diag "corad did not answer GET /health with 200 within 15 s (last: '$code')"
	return 1
}

# corad_stop [SIGNAL] [seconds]: signals the master (default TERM) and waits
# for it (default 15 s); EXIT_STATUS as wait_exit.
corad_stop() {
	local sig=${1:-TERM}
	kill "-$sig" "$CORAD_PID" 2>/dev/null
	wait_exit "$CORAD_PID" "${2:-15}"
	[[ $EXIT_STATUS == timeout ]] && kill_corad_group "$CORAD_PID"
	return 0
}

# corad_run name command [VAR=value...]: runs `corad <command>` (serve,
# check, ...) to completion with a 10 s limit, in its own process group,
# while watching for corad-worker processes. Sets RUN_STATUS (exit status or
# "timeout"), RUN_LOG (its stderr+stdout file), RUN_WORKER_SEEN (1 when a
# corad-worker existed at any point).
corad_run() {
	local name=$1 cmd=$2 pid deadline p
	shift 2
	corad_env
	RUN_LOG=$T/run-$name.log
	RUN_WORKER_SEEN=0
	(cd "$T" && exec setsid env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES \
		-u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID \
		"${CORAD_ENV[@]}" "$@" "$CORAD_BIN" "$cmd") </dev/null >"$RUN_LOG" 2>&1 &
	pid=$!
	ALL_CORAD_PIDS+=("$pid")
	deadline=$(($(date +%s) + 10))
	while alive "$pid" && [[ $(date +%s) -lt $deadline ]]; do
		for p in $(pgrep -g "$pid" 2>/dev/null); do
			[[ $(comm_of "$p") == corad-worker ]] && RUN_WORKER_SEEN=1
		done
		sleep 0.01
	done
	if alive "$pid"; then
		RUN_STATUS=timeout
		kill_corad_group "$pid"
	else
		RUN_STATUS=0
		wait "$pid" 2>/dev/null || RUN_STATUS=$?
	fi
	return 0
}

# Tools the tests need, checked once.
need_tools() {
	local t missing=
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=" $t"
	done
	if [[ -n $missing ]]; then
		# scripts/quickstart installs every one of them: a missing tool is
		# a broken set-up, not a reason to skip.
		echo "Bail out! missing tools:$missing (run scripts/quickstart test)"
		TAP_DONE=1
		exit 1
	fi
}
# need_program PATH: like need_tools, for a server binary outside PATH.
need_program() {
	[[ -x $1 ]] && return 0
	echo "Bail out! $1 not found (run scripts/quickstart test)"
	TAP_DONE=1
	exit 1
}

need_tools curl jq pgrep setsid timeout ss node
need_program "$NGINX"
# The OpenAPI validators (tests/openapi/package.json), installed by the
# test command into CORAD_NODE_DIR.
export CORAD_NODE_DIR=${CORAD_NODE_DIR:-}
if [[ ! -f $CORAD_NODE_DIR/node_modules/ajv/package.json ]]; then
	echo "Bail out! no OpenAPI validators in CORAD_NODE_DIR='$CORAD_NODE_DIR' (run scripts/quickstart test)"
	TAP_DONE=1
	exit 1
fi
[[ -x $CORAD_BIN ]] || { echo "Bail out! $CORAD_BIN is not executable"; TAP_DONE=1; exit 1; }
