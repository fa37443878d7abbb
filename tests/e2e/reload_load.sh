#!/bin/bash
# shellcheck disable=SC2016  # the eval strings are expanded when evaluated
# Reload, recycling and stop under load (doc/corad.8 SIGNALS), through
# nginx: five SIGHUP reloads, each re-reading the --env-file, while wrk keeps
# GET /health busy, fail no request; nor does CORA_MAX_REQUESTS recycling; a configuration that does not parse is
# refused and the pool keeps serving; SIGTERM lets every request nginx has
# already handed over finish. No database: /health does not need one.
. "$(dirname "$0")/lib.sh"
need_tools wrk python3

nginx_server main
# No body limit and no request buffering: corad reads a slow body while it
# arrives, so the request is in flight inside the worker (as graceful.sh).
nginx_server stream \
	's|client_max_body_size 1m;|client_max_body_size 0; fastcgi_request_buffering off;|'
nginx_start || bail "nginx starts"
S=$(nginx_url stream)

# corad reads LOG_LEVEL and CORA_WORKERS from the env file, which SIGHUP
# reads again. A variable set in the environment wins over the file, so the
# wrapper removes the two that lib.sh's corad_env sets.
ENVF=$T/corad.env
REAL_CORAD=$CORAD_BIN
cat >"$T/corad-envfile" <<EOF
#!/bin/bash
exec env -u LOG_LEVEL -u CORA_WORKERS "$REAL_CORAD" "\$@" --env-file "$ENVF"
EOF
chmod +x "$T/corad-envfile"
corad_start_envfile() {
	local rc=0
	CORAD_BIN=$T/corad-envfile
	corad_start "$@" || rc=1
	CORAD_BIN=$REAL_CORAD
	return $rc
}

# A stand-in for systemd's notification socket (one line per datagram) to
# count reloads whatever LOG_LEVEL lets into the log.
NOTIFY_SOCK=$T/notify.sock
NOTIFY_LOG=$T/notify.log
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    print(s.recv(65536).decode("utf-8", "replace").replace("\n", "\\n"), flush=True)
' "$NOTIFY_SOCK" >"$NOTIFY_LOG" 2>"$T/notify.err" &
NOTIFY_PID=$!
EXTRA_PIDS+=("$NOTIFY_PID")
disown "$NOTIFY_PID"
wait_until 10 grep -q LISTENING "$NOTIFY_LOG" || diag "notify listener: $(cat "$T/notify.err")"
# The sequence of RELOADING=1 / READY=1 messages, one letter each (L, R).
notify_seq() { grep -xE 'RELOADING=1|READY=1' "$NOTIFY_LOG" | sed -e 's/^RELOADING=1$/L/' -e 's/^READY=1$/R/' | tr -d '\n'; }

# wrk_field output name: Non-2xx count, socket error total, request count.
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$1"; }
wrk_sockerr() {
	awk '/Socket errors:/ { gsub(/,/, ""); n = $4 + $6 + $8 + $10 } END { print n + 0 }' "$1"
}
wrk_requests() { awk '/ requests in / { n = $1 } END { print n + 0 }' "$1"; }

# --- 5. five reloads under load -------------------------------------------------------
printf 'LOG_LEVEL=INFO\nCORA_WORKERS=2\n' >"$ENVF"
corad_start_envfile NOTIFY_SOCKET="$NOTIFY_SOCK" ||
	bail "corad starts with --env-file"
M=$(master_pid)
ok "two workers (CORA_WORKERS from the env file)" wait_until 5 eval '[[ $(worker_count) -eq 2 ]]'
ok "READY=1 at start" wait_until 5 eval '[[ $(notify_seq) == R ]]'
initial=$(worker_pids)

timeout 30 wrk -t1 -c8 -d12s --timeout 5s "$BASE/health" >"$T/wrk-reload.out" 2>&1 &
wrk_pid=$!
EXTRA_PIDS+=("$wrk_pid")
sleep 1.5
level=INFO
for i in 1 2 3 4 5; do
	[[ $level == INFO ]] && level=WARNING || level=INFO
	printf 'LOG_LEVEL=%s\nCORA_WORKERS=2\n' "$level" >"$ENVF.tmp" && mv "$ENVF.tmp" "$ENVF"
	kill -HUP "$M"
	sleep 1.5
done
wait_exit "$wrk_pid" 25
is "$EXIT_STATUS" 0 "wrk ran 12 s against GET /health during the reloads"
diag "$(grep -E 'requests in|Non-2xx|Socket errors|Requests/sec' "$T/wrk-reload.out")"
cmp_ok "$(wrk_requests "$T/wrk-reload.out")" -ge 100 "wrk made requests ($(wrk_requests "$T/wrk-reload.out"))"
is "$(wrk_non2xx "$T/wrk-reload.out")" 0 "5 reloads under load: no Non-2xx or 3xx response"
is "$(wrk_sockerr "$T/wrk-reload.out")" 0 "5 reloads under load: no socket errors"
ok "the master survived the reloads" alive "$M"
is "$(notify_seq)" RLRLRLRLRLR "sd_notify: RELOADING=1 then READY=1 for each of the 5 reloads"
ok "STATUS= reports generation 5 with both workers accepting" \
	grep -qx 'STATUS=2 of 2 workers accepting (generation 5)' "$NOTIFY_LOG"
# Each reload read the file again: LOG_LEVEL alternated WARNING, INFO,
# WARNING, INFO, WARNING. An info line is logged at INFO only, so
# master.reloaded (logged under the new level) appears for the reloads into
# INFO (generations 2 and 4), master.reloading (logged under the old level)
# for the reloads out of INFO (generations 1, 3 and 5).
is "$(log_select master.reloaded | jq -s -c 'map(.generation)')" '[2,4]' \
	"log: master.reloaded for the reloads into LOG_LEVEL=INFO (generations 2 and 4)"
is "$(log_select master.reloading | jq -s -c 'map(.generation)')" '[1,3,5]' \
	"log: master.reloading for the reloads out of LOG_LEVEL=INFO (generations 1, 3 and 5)"
is "$(log_select master.reloaded | jq -s -c 'map(.workers)')" '[2,2]' "log: master.reloaded says workers 2"
ok "log: retired workers exited (master.child_exited retired:true)" \
	log_has master.child_exited '.kind == "worker" and .retired == true'
nok "log: no worker crashed or was killed" \
	log_has master.child_exited '.kind == "worker" and (.signal != null or .exit_code != 0)'
final=$(worker_pids)
is "$(count_lines "$final")" 2 "two workers after the reloads"
is "$(grep -Fxf <(echo "$initial") <<<"$final" | tr '\n' ' ')" "" \
	"every worker was replaced (initial: $(tr '\n' ' ' <<<"$initial"), now: $(tr '\n' ' ' <<<"$final"))"
ok "no generation 0 worker process is left" eval '! alive $(head -n 1 <<<"$initial") && ! alive $(tail -n 1 <<<"$initial")'

# --- 7. an invalid reload is refused ---------------------------------------------------
# systemctl_reload: the shipped unit's ExecReload= commands in order, as
# `systemctl reload` runs them (each must exit 0 for the next to run), on
# the binary under test, this env file and this master; RELOAD_OUT is what
# they printed. The environment is corad's but for the two settings the
# file holds.
systemctl_reload() {
	local line argv env=() e
	for e in "${CORAD_ENV[@]}"; do
		[[ $e == LOG_LEVEL=* || $e == CORA_WORKERS=* ]] || env+=("$e")
	done
	RELOAD_OUT=
	while IFS= read -r line; do
		line=${line#ExecReload=}
		line=${line//\/usr\/sbin\/corad/$REAL_CORAD}
		line=${line//\/etc\/corad\/corad.env/$ENVF}
		read -ra argv <<<"${line//\$MAINPID/$M}"
		RELOAD_OUT+=$(env -u LOG_LEVEL -u CORA_WORKERS "${env[@]}" "${argv[@]}" 2>&1) || return 1
	done < <(grep '^ExecReload=' "$CORAD_SRCDIR/deploy/systemd/corad.service")
}
before=$(worker_pids)
printf 'LOG_LEVEL=INFO\nCORA_WORKERS=abc\n' >"$ENVF.tmp" && mv "$ENVF.tmp" "$ENVF"
seq_before=$(notify_seq)
nok "invalid reload: the unit's ExecReload= fails (systemctl reload fails)" systemctl_reload
like "$RELOAD_OUT" 'corad: configuration invalid: .*CORA_WORKERS' "... with corad check's reason"
sleep 1
is "$(notify_seq)" "$seq_before" "... before any signal reached the master (no RELOADING=1)"
nok "... and no master.reload_refused" log_has master.reload_refused
# The master checks a SIGHUP's configuration itself too.
kill -HUP "$M"
ok "invalid reload: log config.invalid naming CORA_WORKERS" \
	wait_until 5 log_has config.invalid '(. | tostring | test("CORA_WORKERS"))'
ok "invalid reload: log master.reload_refused" wait_until 5 log_has master.reload_refused
ok "invalid reload: sd_notify RELOADING=1 then READY=1 (the pool is ready)" \
	wait_until 5 eval '[[ $(notify_seq) == RLRLRLRLRLRLR ]]'
sleep 1
is "$(worker_pids | tr '\n' ' ')" "$(echo "$before" | tr '\n' ' ')" "invalid reload: the same worker pids serve"
http GET /health
is "$HTTP_STATUS" 200 "invalid reload: GET /health is still 200"
ok "invalid reload: the master is alive" alive "$M"
nok "invalid reload: no master.reloaded generation 6" log_has master.reloaded '.generation == 6'
# Fixed again, the next reload goes through.
printf 'LOG_LEVEL=INFO\nCORA_WORKERS=3\n' >"$ENVF.tmp" && mv "$ENVF.tmp" "$ENVF"
ok "a valid reload: the unit's ExecReload= succeeds" systemctl_reload
ok "a valid reload after the refused one: master.reloaded with workers 3" \
	wait_until 10 log_has master.reloaded '.workers == 3'
ok "... and three workers run" wait_until 10 eval '[[ $(worker_count) -eq 3 ]]'

# --- 7b. a reload that turns the span exporter on --------------------------------------
# The stats child builds its exporter when it starts: a reload that changes
# an OTEL_* setting (or LOG_LEVEL) starts it again; one that does not keeps it.
stats0=$(stats_pids)
printf 'LOG_LEVEL=INFO\nCORA_WORKERS=3\n' >"$ENVF"
kill -HUP "$M"
ok "a reload that changes nothing of the stats child's" wait_until 10 log_has master.reloaded '.generation == 7'
is "$(stats_pids)" "$stats0" "... keeps the stats child (its span queue)"
printf 'LOG_LEVEL=INFO\nCORA_WORKERS=3\nOTEL_EXPORTER=console\n' >"$ENVF"
kill -HUP "$M"
ok "a reload that sets OTEL_EXPORTER=console" wait_until 10 log_has master.reloaded '.generation == 8'
new_stats() { [[ -n $(stats_pids) && $(stats_pids) != "$stats0" ]]; }
ok "... starts the stats child again" wait_until 5 new_stats
TR=$(printf '%032x' $RANDOM$RANDOM)
span_line() {
	http GET /health -H "traceparent: 00-$TR-00f067aa0ba902b7-01"
	[[ -n $(jq -c -R --arg t "$TR" 'fromjson? | select(type == "object" and .trace_id == $t and .kind == "SERVER")' \
		"$CORAD_LOG" 2>/dev/null) ]]; }
ok "... whose exporter writes the spans of the next requests" wait_until 5 span_line
corad_stop TERM
is "$EXIT_STATUS" 0 "after the reloads: SIGTERM, the master exits 0"

# --- a worker retired while a connection it accepted is still silent ---------------
# The proxy connected but has not sent its request yet when the reload
# retires the worker that accepted it: the worker must wait for the request
# and answer it, not close the connection.
need_tools python3
corad_start CORA_WORKERS=1 LOG_LEVEL=INFO || bail "corad starts for the silent client"
M=$(master_pid)
first=$(worker_pids)
python3 "$(dirname "$0")/fcgi_client.py" --connect-wait 2 "unix:$T/corad.sock" \
	REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health </dev/null >"$T/silent.out" 2>&1 &
silent=$!
EXTRA_PIDS+=("$silent")
sleep 0.5
kill -HUP "$M"
ok "the reload retires the worker holding the silent connection" \
	wait_until 10 log_has master.child_exited ".pid == ${first:-0} and .retired == true"
wait_exit "$silent" 10
is "$EXIT_STATUS" 0 "the silent client got an answer from the retiring worker"
like "$(head -n 1 "$T/silent.out" | tr -d '\r')" '^Status: 200' "... a 200 for its GET /health"
corad_stop TERM

# --- 8. recycling under load ----------------------------------------------------------
# CORA_MAX_REQUESTS retires workers one after another while wrk keeps 16
# connections busy: a retiring worker must answer every connection it
# accepted (nginx logs recv() failed / reset by peer otherwise).
corad_start CORA_WORKERS=4 CORA_MAX_REQUESTS=200 LOG_LEVEL=INFO ||
	bail "corad starts with CORA_MAX_REQUESTS=200"
M=$(master_pid)
err_lines0=$(wc -l <"$T/nginx-error.log")
timeout 30 wrk -t2 -c16 -d10s --timeout 5s "$BASE/health" >"$T/wrk-recycle.out" 2>&1
diag "$(grep -E 'requests in|Non-2xx|Socket errors|Requests/sec' "$T/wrk-recycle.out")"
recycled=$(log_count worker.recycle)
cmp_ok "$recycled" -ge 20 "recycling under load: workers were recycled ($recycled times)"
cmp_ok "$(wrk_requests "$T/wrk-recycle.out")" -ge 4000 "recycling under load: wrk made requests ($(wrk_requests "$T/wrk-recycle.out"))"
is "$(wrk_non2xx "$T/wrk-recycle.out")" 0 "recycling under load: no Non-2xx or 3xx response"
is "$(wrk_sockerr "$T/wrk-recycle.out")" 0 "recycling under load: no socket errors"
upstream_errs=$(tail -n "+$((err_lines0 + 1))" "$T/nginx-error.log" | grep -E '\[(error|crit|alert)\]')
is "$upstream_errs" "" "recycling under load: nginx logged no upstream error (no connection was dropped)"
nok "recycling under load: no worker crashed" \
	log_has master.child_exited '.kind == "worker" and (.signal != null or .exit_code != 0)'
ok "recycling under load: the master survived" alive "$M"
corad_stop TERM
is "$EXIT_STATUS" 0 "after recycling: SIGTERM, the master exits 0"

# --- 6. SIGTERM with requests in flight, under load ------------------------------------
# Eight slow uploads (300 KB at 200 KB/s) are in flight when SIGTERM
# arrives: four in the workers, four queued on the socket. Each must get its
# whole answer (405: /health has no POST). wrk keeps GET /health busy
# meanwhile; once corad is gone nginx answers those 502 itself.
head -c 300000 /dev/zero | tr '\0' ' ' >"$T/slow.body"
corad_start CORA_WORKERS=4 CORA_GRACEFUL_TIMEOUT_SECONDS=20 LOG_LEVEL=INFO ||
	bail "corad starts for the stop test"
M=$(master_pid)
err_lines0=$(wc -l <"$T/nginx-error.log")
# Requests corad holds on its socket: accepted (ESTAB on the socket's path)
# plus queued (the listening socket's Recv-Q).
upstream_conns() {
	ss -xaH 2>/dev/null | awk -v p="$T/corad.sock" '$5 == p {
		if ($2 == "LISTEN") n += $3; else if ($2 == "ESTAB") n++ } END { print n + 0 }'
}
curls=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS --max-time 40 -o "$T/slow.$i.out" -w '%{http_code}' -X POST --limit-rate 200K \
		-H 'Content-Type: application/json' --data-binary "@$T/slow.body" "$S/health" \
		>"$T/slow.$i.status" 2>"$T/slow.$i.err" &
	curls+=("$!")
	EXTRA_PIDS+=("$!")
done
# nginx connects to corad as soon as it has a request's header (request
# buffering is off).
ok "SIGTERM: corad holds the 8 uploads (4 accepted, 4 queued)" wait_until 5 eval '[[ $(upstream_conns) -ge 8 ]]'
timeout 30 wrk -t1 -c8 -d3s --timeout 5s "$BASE/health" >"$T/wrk-stop.out" 2>&1 &
wrk_pid=$!
EXTRA_PIDS+=("$wrk_pid")
sleep 0.5
inflight=0
for p in "${curls[@]}"; do alive "$p" && inflight=$((inflight + 1)); done
is "$inflight" 8 "SIGTERM: 8 slow uploads are in flight, wrk keeps GET /health busy"
kill -TERM "$M"
ok "SIGTERM: log master.stopping" wait_until 3 log_has master.stopping
wait_exit "$M" 25
is "$EXIT_STATUS" 0 "SIGTERM under load: the master exits 0"
for p in "${curls[@]}"; do wait_exit "$p" 20; done
got=
for i in 1 2 3 4 5 6 7 8; do
	got+="$(cat "$T/slow.$i.status" 2>/dev/null):$(jq -c . "$T/slow.$i.out" 2>/dev/null) "
	[[ -s $T/slow.$i.err ]] && diag "curl $i: $(cat "$T/slow.$i.err")"
done
want=
for i in 1 2 3 4 5 6 7 8; do want+='405:{"detail":"Method Not Allowed"} '; done
is "$got" "$want" "SIGTERM: all 8 in-flight uploads got their full 405 JSON answer"
wait_exit "$wrk_pid" 20
diag "wrk during the stop: $(grep -E 'requests in|Non-2xx|Socket errors' "$T/wrk-stop.out" | tr '\n' ' ')"
# What nginx had handed over was answered: its only upstream errors are
# connections refused because the socket path was gone (ENOENT), never a
# connection corad accepted and dropped.
upstream_errs=$(tail -n "+$((err_lines0 + 1))" "$T/nginx-error.log" | grep -E '\[(error|crit|alert)\]' |
	grep -v 'connect() to unix:[^ ]* failed (2: No such file or directory)')
is "$upstream_errs" "" "nginx: no upstream error other than the removed socket (nothing handed over was dropped)"
ok "the socket path is removed" eval '[[ ! -e $T/corad.sock ]]'
is "$(group_corad_pids "$M" | tr '\n' ' ')" "" "no corad process is left"

done_testing
