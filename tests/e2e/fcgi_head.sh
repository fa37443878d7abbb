#!/bin/bash
# A request's head (its begin record and parameters) as a peer on the
# socket may send it: nothing, half of it, a pair whose lengths would make
# libfcgi abort the worker, a NUL byte, more parameters than the bound.
# Each is refused and logged (worker.head_refused), the connection closed,
# within the request deadline at most, and no worker dies; a peer that
# sends nothing no longer holds a worker for good (and shows in /status
# while it holds one), nor does a kept connection that brings no next
# request; a dead master's stats socket is removed at start. Needs no
# database.
. "$(dirname "$0")/lib.sh"
need_tools python3 cgi-fcgi

CLIENT="$(dirname "$0")/fcgi_head_client.py"
# A master killed before (SIGKILL, OOM) left its query socket behind: the
# next start removes it, but not one whose master still runs.
mkdir -p "$T/run"
dead=$(( $(cat /proc/sys/kernel/pid_max) - 1 ))
while kill -0 "$dead" 2>/dev/null; do dead=$((dead - 1)); done
touch "$T/run/stats-$dead.sock" "$T/run/stats-$$.sock"
corad_start CORA_WORKERS=2 CORA_REQUEST_TIMEOUT_SECONDS=2 || bail "corad starts with two workers"
nok "a dead master's stats socket is removed at start" test -e "$T/run/stats-$dead.sock"
ok "... a live one's is left" test -e "$T/run/stats-$$.sock"
WORKERS=$(worker_pids | tr '\n' ' ')

# peer MODE OUT [HOLD]: the client in the background, its line in $T/OUT;
# returns once it has connected and sent what it sends.
peer() {
	rm -f "$T/$2.ready"
	python3 "$CLIENT" "$1" "unix:${PEER_SOCK:-$T/corad.sock}" "${3:-10}" "$T/$2.ready" >"$T/$2" 2>&1 &
	wait_until 10 test -e "$T/$2.ready" || diag "peer $1 did not connect"
}
health() { fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health </dev/null; }
refused() { log_count worker.head_refused ".reason == \"$1\""; }
# closed_within OUT MS: the peer saw corad close its connection within MS.
closed_within() {
	local line
	line=$(cat "$T/$1")
	[[ $line == closed\ * ]] && ((${line#closed } <= $2))
}

# --- a silent peer shows in /status ---------------------------------------------------
peer silent silent0
shows_wait() {
	fcgi REQUEST_METHOD=GET DOCUMENT_URI=/status REQUEST_URI=/status </dev/null
	[[ $(json_value "$FCGI_BODY" '[.. | objects | select(.doing? == "waiting for the request'"'"'s head") | .state]' \
		2>/dev/null) == '["busy"]' ]]
}
ok "/status: the worker a silent peer holds is busy waiting for the request's head" wait_until 2 shows_wait
json_is "$FCGI_BODY" '[.workers[] | select(.doing == "waiting for the request'"'"'s head") | [.method, .route, .correlation_id]]' \
	'[[null,null,null]]' "... with method, route and correlation_id null (no request yet)"
# As written (jq would print a small number with an exponent); null for
# the processes that wait:
is "$(grep -o '"elapsed_seconds":[^,}]*' <<<"$FCGI_BODY" | grep -cvE ':([0-9]+[.][0-9]{6}|null)$')" 0 \
	"/status: the busy workers' elapsed_seconds, to the microsecond"
is "$(grep -o '"elapsed_seconds":[0-9]' <<<"$FCGI_BODY" | wc -l)" 2 "... both busy workers have one"
ok "the silent peer is closed at the deadline" wait_until 5 closed_within silent0 3000

# --- silent peers: as many as there are workers --------------------------------
peer silent silent1
peer silent silent2
sleep 0.1
t0=$(now_ms)
health
elapsed=$(($(now_ms) - t0))
is "$FCGI_STATUS" 200 "GET /health while two silent peers hold both workers: 200"
cmp_ok "$elapsed" -lt 4000 "... answered once the request deadline (2 s) freed a worker (${elapsed} ms)"
ok "the silent peers' connections are closed" wait_until 5 eval \
	'closed_within silent1 3000 && closed_within silent2 3000'
is "$(refused "nothing came in time")" 3 "worker.head_refused: nothing came in time, three times"

# --- half a head -----------------------------------------------------------------------
peer half half 10
ok "a peer that stops within the begin record is closed within the deadline" \
	wait_until 5 closed_within half 3000
is "$(refused "the request's head was not whole in time")" 1 "worker.head_refused: not whole in time"
# ... and closes its side: no more can come, the worker is free at once.
peer halfclose halfclose 5
ok "a peer that closes its side within the begin record is closed at once" \
	wait_until 5 closed_within halfclose 1000
is "$(refused "the peer closed before its head was whole")" 1 \
	"worker.head_refused: the peer closed before its head was whole"

# --- heads libfcgi must never read -----------------------------------------------------
# check_head MODE REASON desc
check_head() {
	peer "$1" "$1" 5
	ok "$3: closed at once" wait_until 5 closed_within "$1" 1000
	is "$(refused "$2")" 1 "$3: worker.head_refused says $2"
}
check_head lengths "a parameter's lengths run past the parameters" \
	"a pair whose name and value claim 2^30 bytes each (libfcgi aborted on it)"
check_head nul "a parameter holds a NUL byte" "a NUL in a parameter's value"
check_head big "the parameters exceed 65536 bytes" "parameters of 100,000 bytes"
check_head abort "the request's records start before its parameters end" \
	"an FCGI_ABORT_REQUEST before the parameters end (libfcgi waited for the rest)"
check_head tiny "the request's head exceeds 131072 bytes" \
	"parameters of 10,000 bytes in one-byte records (160,000 bytes)"
peer large large 5
ok "parameters of 60,000 bytes, within the bound: answered" wait_until 5 grep -qx 'answered 200' "$T/large"

# A connection kept after its answer (FCGI_KEEP_CONN) that brings no next
# request is closed at the deadline, quietly: the proxy opens another.
peer kept kept 10
ok "a kept connection with no next request is closed within the deadline" \
	wait_until 5 closed_within kept 3000
is "$(log_count worker.head_refused)" 10 "... without a worker.head_refused line (the ten above)"
# The status child keeps no connection: the next scrape would wait on it.
PEER_SOCK=$T/run/status.sock peer kept status-kept 5
ok "the status socket closes a kept connection once it has answered" \
	wait_until 5 closed_within status-kept 500

health
is "$FCGI_STATUS" 200 "GET /health afterwards: 200"
nok "no worker died" log_has master.child_exited '.kind == "worker"'
is "$(worker_pids | tr '\n' ' ')" "$WORKERS" "the same two workers serve"
is "$(grep -cv '^{' "$CORAD_LOG")" 0 "every line corad wrote is a JSON object"
corad_stop TERM
is "$EXIT_STATUS" 0 "SIGTERM: corad exits 0"

done_testing
