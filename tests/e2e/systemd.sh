#!/bin/bash
# shellcheck disable=SC2016  # the eval strings are expanded when evaluated
# systemd integration (deploy/systemd): the unit
# files pass `systemd-analyze verify`; the sd_notify protocol (READY=1 only
# once the workers accept, STATUS=, WATCHDOG=1, RELOADING=1 and READY=1
# around a reload, STOPPING=1); socket activation as systemd does it
# (LISTEN_FDS/LISTEN_PID, fd 3); and spawn-fcgi's socket on fd 0.
# No database: corad serves /health without one.
. "$(dirname "$0")/lib.sh"
need_tools systemd-analyze systemd-socket-activate spawn-fcgi cgi-fcgi python3

UNITS_SRC=$CORAD_SRCDIR/deploy/systemd

# --- 1. systemd-analyze verify ------------------------------------------------
# A copy of the units in which ExecStart and ExecReload run the binary under
# test on a settings file that exists; everything else is verified as
# shipped. corad(8) comes from the source tree (it is not installed here), so
# the Documentation= check runs too.
mkdir -p "$T/units" "$T/man/man8"
cp "$CORAD_SRCDIR/doc/corad.8" "$T/man/man8/corad.8"
cp "$UNITS_SRC/corad.env" "$T/units/corad.env"
sed -e "s|/usr/sbin/corad |$CORAD_BIN |" -e "s|/etc/corad/corad.env\$|$T/units/corad.env|" \
	"$UNITS_SRC/corad.service" >"$T/units/corad.service"
cp "$UNITS_SRC/corad.socket" "$T/units/corad.socket"
ok "the ExecStart and ExecReload rewrites applied" eval \
	'grep -qx "ExecStart=$CORAD_BIN serve --env-file $T/units/corad.env" "$T/units/corad.service" &&
	grep -qx "ExecReload=$CORAD_BIN check --env-file $T/units/corad.env" "$T/units/corad.service"'
ok "settings come from corad's --env-file, which a reload re-reads" \
	eval '! grep -q "^EnvironmentFile=" "$T/units/corad.service"'
(cd "$T/units" && MANPATH=$T/man SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER=cat \
	timeout 60 systemd-analyze verify ./corad.service ./corad.socket) >"$T/verify.out" 2>&1
verify_rc=$?
is "$verify_rc" 0 "systemd-analyze verify corad.service corad.socket exits 0"
is "$(grep -Ei 'corad\.(service|socket)' "$T/verify.out")" "" \
	"systemd-analyze verify reports nothing about corad.service or corad.socket"
[[ -s $T/verify.out ]] && diag "verify output: $(cat "$T/verify.out")"

# The settings the deployment depends on, as shipped.
unit_has() {	# unit-file line...: every line is in the file, exactly
	local f=$1 l missing=
	shift
	for l in "$@"; do
		grep -qxF "$l" "$f" || missing+="$l; "
	done
	[[ -z $missing ]] || { diag "missing in ${f##*/}: $missing"; return 1; }
}
ok "corad.service: Type=notify, reload by SIGHUP, mixed SIGTERM stop, watchdog" \
	unit_has "$UNITS_SRC/corad.service" Type=notify NotifyAccess=main \
	'ExecStart=/usr/sbin/corad serve --env-file /etc/corad/corad.env' \
	'ExecReload=/usr/sbin/corad check --env-file /etc/corad/corad.env' \
	'ExecReload=/bin/kill -HUP $MAINPID' KillMode=mixed \
	KillSignal=SIGTERM TimeoutStopSec=45 Restart=on-failure WatchdogSec=30 \
	User=corad Group=corad RuntimeDirectory=corad \
	RuntimeDirectoryMode=0750 UMask=0027 Wants=corad.socket
ok "corad.service: the hardening corad tolerates" \
	unit_has "$UNITS_SRC/corad.service" NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
	PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
	ProtectKernelLogs=yes ProtectControlGroups=yes ProtectClock=yes ProtectHostname=yes \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' RestrictNamespaces=yes RestrictRealtime=yes \
	RestrictSUIDSGID=yes LockPersonality=yes MemoryDenyWriteExecute=yes \
	SystemCallArchitectures=native SystemCallFilter=@system-service CapabilityBoundingSet=
nok "corad.service does not require the socket unit (Requires=/BindsTo=)" \
	grep -Eq '^(Requires|BindsTo|Requisite)=.*corad\.socket' "$UNITS_SRC/corad.service"
nok "corad.service does not use DynamicUser=" grep -Eq '^DynamicUser=' "$UNITS_SRC/corad.service"
ok "corad.socket: /run/corad/corad.sock 0660 corad:www-data, Accept=no, WantedBy=sockets.target" \
	unit_has "$UNITS_SRC/corad.socket" ListenStream=/run/corad/corad.sock SocketMode=0660 \
	SocketUser=corad SocketGroup=www-data Accept=no WantedBy=sockets.target
nok "corad.env sets no CORA_LISTEN (socket activation)" grep -Eq '^[[:space:]]*(export[[:space:]]+)?CORA_LISTEN=' "$UNITS_SRC/corad.env"
ok "corad.env: the production settings" unit_has "$UNITS_SRC/corad.env" APP_ENV=production \
	REQUIRE_AUTHENTICATED_PRINCIPAL=true AUTHZ_POLICY_FILE=/etc/corad/policy.json \
	'DATABASE_URL=postgresql://cora_app@/cora?host=/run/postgresql'
# corad itself parses the example file: every line is a valid setting (the
# policy file and the database do not exist here, so only config.invalid
# counts).
check_rc=0
(cd "$T" && exec env -i PATH="$PATH" CORA_RUNTIME_DIR="$T/run-check" \
	timeout 20 "$CORAD_BIN" check --env-file "$UNITS_SRC/corad.env") </dev/null >"$T/run-check.log" 2>&1 ||
	check_rc=$?
is "$(LOGFILE=$T/run-check.log log_select config.invalid)" "" "corad check --env-file corad.env: no config.invalid"
isnt "$check_rc" 78 "corad check --env-file corad.env: not exit 78 (bad configuration)"
ok "corad check --env-file corad.env: its gates run in the production tier (startup.refused here)" \
	eval 'LOGFILE=$T/run-check.log log_has startup.refused ".app_env == \"production\""'
security=$(cd "$T/units" && timeout 60 systemd-analyze security --offline=true --man=no ./corad.service 2>&1 |
	sed -n 's/.*Overall exposure level for corad\.service: \([0-9.]*\).*/\1/p')
if [[ -n $security ]]; then
	ok "systemd-analyze security: exposure $security <= 2.0" awk -v s="$security" 'BEGIN { exit !(s <= 2.0) }'
else
	skip "systemd-analyze security exposure" "this systemd-analyze cannot assess offline"
fi

# --- 2. the sd_notify protocol ---------------------------------------------------
# A stand-in for systemd's notification socket: every datagram becomes one
# line "<monotonic ms> <message>" (newlines inside shown as \n).
NOTIFY_SOCK=$T/notify.sock
NOTIFY_LOG=$T/notify.log
python3 -u -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("%d LISTENING" % (time.monotonic_ns() // 1000000), flush=True)
while True:
    d = s.recv(65536).decode("utf-8", "replace")
    print("%d %s" % (time.monotonic_ns() // 1000000, d.replace("\n", "\\n")), flush=True)
' "$NOTIFY_SOCK" >"$NOTIFY_LOG" 2>"$T/notify.err" &
NOTIFY_PID=$!
EXTRA_PIDS+=("$NOTIFY_PID")
disown "$NOTIFY_PID"	# killed at exit without a "Killed" line from bash
wait_until 10 grep -q LISTENING "$NOTIFY_LOG" || diag "notify listener: $(cat "$T/notify.err")"

# Messages received so far, without the timestamps, from line $1 on.
notes_from() { tail -n "+${1:-1}" "$NOTIFY_LOG" | cut -d' ' -f2-; }
note_line() {	# note_line from-line message: line number of the first exact match
	awk -v from="${1:-1}" -v m="$2" 'NR >= from { sub(/^[0-9]+ /, ""); if ($0 == m) { print NR; exit } }' \
		"$NOTIFY_LOG"
}
notes_count() { count_lines "$(grep -x "[0-9]* $1" "$NOTIFY_LOG")"; }

health_fcgi() {	# [timeout]: GET /health straight to corad's socket
	FCGI_SOCK=$T/corad.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health \
		CONTENT_LENGTH= </dev/null
}
# log_index event [cond]: line number of the first matching log line (0: none).
log_index() {
	jq -R --arg ev "$1" -n '[inputs] | to_entries | map(select(.value | fromjson? |
		select(type == "object") | .event == $ev and ('"${2:-true}"'))) |
		if length > 0 then .[0].key + 1 else 0 end' "$CORAD_LOG" 2>/dev/null || echo 0
}

corad_launch CORA_WORKERS=2 NOTIFY_SOCKET="$NOTIFY_SOCK" WATCHDOG_USEC=500000
ok "READY=1 arrives after start" wait_until 15 eval '[[ -n $(note_line 1 READY=1) ]]'
# The very first request after READY=1, with a short deadline: a worker
# accepts it at once (it is not left queued until workers start).
FCGI_TIMEOUT_START=$(date +%s%N)
health_fcgi
is "$FCGI_STATUS" 200 "GET /health made right after READY=1 is answered 200"
cmp_ok $((($(date +%s%N) - FCGI_TIMEOUT_START) / 1000000)) -lt 1000 "... within 1 s"
ready_at=$(note_line 1 READY=1)
status_at=$(note_line 1 'STATUS=2 of 2 workers accepting (generation 0)')
ok "STATUS=2 of 2 workers accepting (generation 0) is sent" test -n "$status_at"
cmp_ok "${status_at:-999999}" -lt "${ready_at:-0}" "... before READY=1"
like "$(notes_from 1 | grep '^STATUS=' | head -n 1)" '^STATUS=[0-9]+ of 2 workers accepting \(generation 0\)$' \
	"STATUS= says how many workers accept"
# Each worker's readiness reached the master before master.ready (READY=1).
mr=$(log_index master.ready '.generation == 0')
cmp_ok "$mr" -gt 0 "log: master.ready"
nready=0
for p in $(worker_pids); do
	wr=$(log_index master.worker_ready ".pid == $p")
	[[ $wr -gt 0 && $wr -lt $mr ]] && nready=$((nready + 1))
done
is "$nready" 2 "log: master.worker_ready for both workers precedes master.ready"
is "$(notes_count READY=1)" 1 "READY=1 is sent once at start"

# WATCHDOG=1 every WATCHDOG_USEC/2 = 250 ms.
w0=$(notes_count WATCHDOG=1)
sleep 2
w1=$(notes_count WATCHDOG=1)
cmp_ok $((w1 - w0)) -ge 3 "WATCHDOG_USEC=500000: WATCHDOG=1 at least 3 times in 2 s (got $((w1 - w0)))"
cmp_ok $((w1 - w0)) -le 16 "... and not a flood (at most 16 in 2 s)"

# SIGHUP: RELOADING=1, then READY=1 once the new workers accept.
old_workers=$(worker_pids)
from=$(($(wc -l <"$NOTIFY_LOG") + 1))
kill -HUP "$CORAD_PID"
ok "SIGHUP: RELOADING=1" wait_until 10 eval '[[ -n $(note_line '"$from"' RELOADING=1) ]]'
rl=$(note_line "$from" RELOADING=1)
ok "SIGHUP: READY=1 after RELOADING=1" wait_until 10 eval '[[ -n $(note_line '"${rl:-$from}"' READY=1) ]]'
health_fcgi
is "$FCGI_STATUS" 200 "GET /health right after the reload's READY=1 is 200"
like "$(notes_from "$from" | grep '^STATUS=' | tail -n 1)" '^STATUS=2 of 2 workers accepting \(generation 1\)$' \
	"STATUS= reports generation 1 with both workers accepting"
new_workers=$(worker_pids)
is "$(grep -Fxf <(echo "$old_workers") <<<"$new_workers" | tr '\n' ' ')" "" \
	"after the reload's READY=1 no worker of generation 0 is left"
ok "log: master.reloaded generation 1" log_has master.reloaded '.generation == 1'

# SIGTERM: STOPPING=1 and exit 0.
from=$(($(wc -l <"$NOTIFY_LOG") + 1))
kill -TERM "$CORAD_PID"
ok "SIGTERM: STOPPING=1" wait_until 10 eval '[[ -n $(note_line '"$from"' STOPPING=1) ]]'
wait_exit "$CORAD_PID" 15
is "$EXIT_STATUS" 0 "SIGTERM: the master exits 0"
diag "notifications: $(cut -d' ' -f2- "$NOTIFY_LOG" | grep -v '^WATCHDOG=1$' | tr '\n' '|')"

# Without NOTIFY_SOCKET nothing is sent (and nothing breaks).
lines_before=$(wc -l <"$NOTIFY_LOG")
corad_start CORA_WORKERS=1 WATCHDOG_USEC=500000 || fail "corad starts without NOTIFY_SOCKET"
sleep 0.6
is "$(wc -l <"$NOTIFY_LOG")" "$lines_before" "without NOTIFY_SOCKET no notification is sent"
corad_stop TERM
is "$EXIT_STATUS" 0 "without NOTIFY_SOCKET: SIGTERM exits 0"

# --- 3. socket activation (LISTEN_FDS) -------------------------------------------------
# systemd-socket-activate listens, and on the first connection execs corad
# with the listening socket as fd 3 (LISTEN_FDS=1, LISTEN_PID=its pid).
rotate_log
: >"$CORAD_LOG"
(cd "$T" && exec setsid systemd-socket-activate -l "$T/act.sock" \
	-E CORA_RUNTIME_DIR="$T/run-act" -E CORA_WORKERS=2 -E LOG_LEVEL=DEBUG -E APP_ENV=local \
	-E DATABASE_URL="postgresql:///cora?host=$T/no-postgres" -E PATH="$PATH" \
	"$CORAD_BIN" serve) </dev/null >>"$CORAD_LOG" 2>&1 &
CORAD_PID=$!
ALL_CORAD_PIDS+=("$CORAD_PID")
ok "systemd-socket-activate listens on act.sock" wait_until 10 test -S "$T/act.sock"
FCGI_SOCK=$T/act.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health CONTENT_LENGTH= </dev/null
is "$FCGI_STATUS" 200 "socket activation: the first connection starts corad and GET /health is 200"
json_is "$FCGI_BODY" .status ok "socket activation: the /health body"
is "$(comm_of "$CORAD_PID")" corad "socket activation: corad runs as the activated process (pid $CORAD_PID)"
ok "log: startup.listening says inherited" log_has startup.listening '.listen == "inherited"'
FCGI_SOCK=$T/act.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health CONTENT_LENGTH= </dev/null
is "$FCGI_STATUS" 200 "socket activation: a second request is 200"
is "$(worker_count)" 2 "socket activation: CORA_WORKERS=2 workers share the inherited socket"
ok "socket activation: corad did not create its default socket" eval '[[ ! -e $T/run-act/corad.sock ]]'
corad_stop TERM
is "$EXIT_STATUS" 0 "socket activation: SIGTERM exits 0"
ok "socket activation: the inherited socket path is not corad's to remove" test -S "$T/act.sock"

# --- 4. spawn-fcgi (the socket on fd 0) ----------------------------------------------
rotate_log
: >"$CORAD_LOG"
(cd "$T" && exec setsid env -u CORA_LISTEN -u LISTEN_FDS -u LISTEN_PID -u NOTIFY_SOCKET \
	CORA_RUNTIME_DIR="$T/run-sf" CORA_WORKERS=2 LOG_LEVEL=DEBUG APP_ENV=local \
	DATABASE_URL="postgresql:///cora?host=$T/no-postgres" \
	spawn-fcgi -n -s "$T/sf.sock" -- "$CORAD_BIN" serve) </dev/null >>"$CORAD_LOG" 2>&1 &
CORAD_PID=$!
ALL_CORAD_PIDS+=("$CORAD_PID")
ok "spawn-fcgi: corad answers on sf.sock" wait_until 15 eval \
	'FCGI_SOCK=$T/sf.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health CONTENT_LENGTH= </dev/null; [[ $FCGI_STATUS == 200 ]]'
json_is "$FCGI_BODY" .status ok "spawn-fcgi: the /health body"
ok "spawn-fcgi: log startup.listening says inherited" log_has startup.listening '.listen == "inherited"'
is "$(worker_count)" 2 "spawn-fcgi: two workers"
ok "spawn-fcgi: corad did not create its default socket" eval '[[ ! -e $T/run-sf/corad.sock ]]'
corad_stop TERM
is "$EXIT_STATUS" 0 "spawn-fcgi: SIGTERM exits 0"

done_testing
