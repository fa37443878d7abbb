#!/bin/bash
# Supervision: the process tree, replacing a killed worker
# without failing requests, replacing the stats child, the crash-storm guard.
. "$(dirname "$0")/lib.sh"
need_tools cgi-fcgi chrt prlimit setpriv unshare

nginx_server main
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=2 || bail "corad starts"
M=$(master_pid)

workers=$(worker_pids)
stats=$(stats_pids)
is "$(count_lines "$workers")" 2 "CORA_WORKERS=2: two corad-worker children"
is "$(count_lines "$stats")" 1 "one corad-stats child"
for p in $workers; do
	ok "master.child_started for worker $p" log_has master.child_started ".pid == $p and .kind == \"worker\""
done
ok "master.child_started for stats $stats" log_has master.child_started ".pid == ${stats:-0} and .kind == \"stats\""

# policy pid: its scheduling policy, field 41 of /proc/pid/stat
# (0 SCHED_OTHER, 3 SCHED_BATCH).
policy() { awk '{ sub(/^.*\) /, ""); print $39 }' "/proc/$1/stat"; }
for p in $workers; do
	is "$(policy "$p")" 3 "worker $p runs under SCHED_BATCH"
done
is "$(policy "$M") $(policy "$stats")" "0 0" "the master and the stats child keep SCHED_OTHER"
nok "no worker.scheduling_failed" log_has worker.scheduling_failed

# The environment serve gives itself (doc/design.md, "Processes"): it
# executes itself again, under the PID it was started with, so that glibc
# and GnuTLS read it when the process starts.
# env_of pid: its GLIBC_TUNABLES and GNUTLS_NO_IMPLICIT_INIT, "-" for unset
# (of several tunables, /proc shows the first: glibc cuts the string there
# as it reads it).
env_of() {
	tr '\0' '\n' <"/proc/$1/environ" | awk -F= '
		$1 == "GLIBC_TUNABLES" { t = substr($0, 16) }
		$1 == "GNUTLS_NO_IMPLICIT_INIT" { g = substr($0, 25) }
		END { print (t == "" ? "-" : t), (g == "" ? "-" : g) }'
}
for p in "$M" $workers "$stats"; do
	is "$(env_of "$p")" "glibc.malloc.tcache_count=0 1" \
		"process $p: glibc's thread cache off, GnuTLS not initialised at load"
done
ok "startup.exec logs what it set" log_has startup.exec \
	'.glibc_tunables == "glibc.malloc.tcache_count=0" and .gnutls_no_implicit_init == "1"'
for p in $workers; do
	is "$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$p/stat")" "$M" \
		"worker $p is a child of the PID corad was started as"
done

# age_ms pid: milliseconds since the process started.
age_ms() {
	local start hz up
	hz=$(getconf CLK_TCK)
	start=$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null) || return 1
	up=$(awk '{ print $1 }' /proc/uptime)
	awk -v s="$start" -v hz="$hz" -v up="$up" 'BEGIN { printf "%d\n", (up - s / hz) * 1000 }'
}

# pid_in pid list: whether pid is one of the list's lines.
pid_in() { grep -qx "$1" <<<"$2"; }

# new_worker old-list: prints a worker pid that is not in old-list.
new_worker() {
	local p
	for p in $(worker_pids); do
		pid_in "$p" "$1" || { echo "$p"; return 0; }
	done
	return 1
}

# --- the status child ---------------------------------------------------------------
# /status and /metrics have a process and a socket of their own
# (CORA_STATUS_LISTEN, default $CORA_RUNTIME_DIR/status.sock), where the
# shipped nginx configuration sends them: they answer while every worker is
# busy. Both workers are held here by connections that send nothing (each
# waits for its request's head).
status_child=$(children_named corad-status "$M")
is "$(count_lines "$status_child")" 1 "one corad-status child"
ok "master.child_started for the status child" log_has master.child_started \
	".pid == ${status_child:-0} and .kind == \"status\""
ok "its socket is \$CORA_RUNTIME_DIR/status.sock" test -S "$T/run/status.sock"
ok "... which startup.listening names" log_has startup.listening ".status_listen == \"unix:$T/run/status.sock\""
is "$(policy "$status_child")" 0 "the status child keeps SCHED_OTHER"
python3 - "$T/corad.sock" <<'PY' &
import socket, sys, time
held = [socket.socket(socket.AF_UNIX) for _ in range(2)]
for s in held:
    s.connect(sys.argv[1])
time.sleep(8)
PY
HOLD=$!
both_busy() { http GET /status && [[ $(jq -r '.pool.busy' <<<"$HTTP_BODY") == 2 ]]; }
ok "both workers held: GET /status through nginx answers and says both are busy" wait_until 5 both_busy
is "$HTTP_STATUS" 200 "... 200"
json_is "$HTTP_BODY" '[.workers[].doing] | unique' '["waiting for the request'"'"'s head"]' \
	"... with what each is doing"
json_is "$HTTP_BODY" '.processes.status.pid' "$status_child" "... and the status child among the processes"
http GET /metrics
is "$HTTP_STATUS" 200 "GET /metrics answers too"
like "$HTTP_BODY" 'cora_workers\{state="busy"\} 2' "... with cora_workers{state=\"busy\"} 2"
like "$HTTP_BODY" 'process_resident_memory_bytes\{kind="status"\} [1-9]' "... and the status child's memory"
nok "GET /health, which the workers answer, waits meanwhile" \
	curl -s -o /dev/null --max-time 1 -f "$BASE/health"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
# Its socket serves those two routes only; another method on them is a 405.
for p in /health /actors /openapi.json; do
	FCGI_SOCK=$T/run/status.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI="$p" REQUEST_URI="$p" \
		QUERY_STRING= CONTENT_LENGTH= </dev/null
	is "$FCGI_STATUS" 404 "the status socket: GET $p is 404"
done
FCGI_SOCK=$T/run/status.sock fcgi REQUEST_METHOD=POST DOCUMENT_URI=/metrics REQUEST_URI=/metrics \
	QUERY_STRING= CONTENT_LENGTH= </dev/null
is "$FCGI_STATUS" 405 "the status socket: POST /metrics is 405"
like "$FCGI_HEADERS" 'Allow: GET' "... with Allow: GET"
metrics_404() { http GET /metrics && grep -q 'handler="/actors"' <<<"$HTTP_BODY"; }
nok "... and its 404s are counted under no route (no handler=\"/actors\")" metrics_404
# One connection at a time: a peer that holds one and sends nothing delays
# the next /status by its 1 s head wait, not the request deadline.
python3 - "$T/run/status.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(6)
PY
SILENT=$!
sleep 0.2
t0=$(now_ms)
http GET /status
ms=$(($(now_ms) - t0))
is "$HTTP_STATUS" 200 "a silent connection on the status socket: GET /status is 200"
cmp_ok "$ms" -lt 2500 "... within the status child's 1 s head wait (${ms} ms)"
kill "$SILENT" 2>/dev/null
wait "$SILENT" 2>/dev/null

# Replaced when it dies, like any child.
kill -KILL "$status_child"
ok "a killed status child: master.child_exited" wait_until 5 log_has master.child_exited \
	".pid == $status_child and .kind == \"status\""
ok "... and a new one starts" wait_until 5 eval '[[ -n $(children_named corad-status "$M") && $(children_named corad-status "$M") != "$status_child" ]]'
status_child=$(children_named corad-status "$M")
ok "... and answers" wait_until 5 eval 'http GET /status && [[ $HTTP_STATUS == 200 ]]'

# --- signals that are not corad's to act on --------------------------------------
# `systemctl kill -s HUP` reaches every process of the unit, and SIGUSR1
# ("reopen the logs" elsewhere) may be sent out of habit: no child dies of
# either, and the master logs SIGUSR1 and goes on.
kill -HUP $workers $stats "$status_child"
kill -USR1 $workers $stats "$status_child" "$M"
sleep 0.5
is "$(worker_pids | tr '\n' ' ')$(stats_pids) $(children_named corad-status "$M")" \
	"$(tr '\n' ' ' <<<"$workers")$stats $status_child" \
	"SIGHUP and SIGUSR1 to the children: the same workers, stats and status children"
ok "the master logs SIGUSR1 as ignored" log_has master.signal_ignored '.signal == "SIGUSR1"'
ok "... and serves on" alive "$M"
http GET /health
is "$HTTP_STATUS" 200 "GET /health after the stray signals: 200"

# --- SIGKILL a worker while requests keep coming ---
N=200
(
	for ((i = 0; i < N; i++)); do
		curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' "$BASE/health"
	done
) >"$T/statuses" 2>&1 &
loop=$!
EXTRA_PIDS+=("$loop")
victim=$(head -n 1 <<<"$workers")
# A worker that has lived over a second: its death is not a crash storm.
wait_until 10 eval '[[ $(wc -l <"$T/statuses") -ge 40 && $(age_ms "$victim") -ge 1200 ]]'
kill -KILL "$victim"
ok "log: master.child_exited for the killed worker (signal SIGKILL, exit_code null)" \
	wait_until 5 log_has master.child_exited \
	".pid == $victim and .kind == \"worker\" and .signal == \"SIGKILL\" and has(\"exit_code\") and .exit_code == null"
ok "the worker count is back to 2" wait_until 5 eval '[[ $(worker_count) -eq 2 ]]'
replacement=$(new_worker "$workers")
ok "a new worker replaced the killed one ($replacement)" test -n "$replacement"
nok "the killed worker is gone" alive "$victim"
ok "log: master.child_started for the replacement" \
	log_has master.child_started ".pid == ${replacement:-0} and .kind == \"worker\""
wait_exit "$loop" 30
is "$(wc -l <"$T/statuses")" "$N" "all $N requests were answered"
# A worker killed while it holds a request takes that request with it
# (nginx answers 502), as any prefork server's would; every other request
# is answered.
bad=$(grep -vx 200 "$T/statuses" | sort | uniq -c | tr '\n' ' ')
like "$bad" '^( *1 502 )?$' "all $N GET /health during and after the kill got 200, but for the one the killed worker may have held (${bad:-none})"

# --- SIGKILL the stats child ---
kill -KILL "$stats"
ok "log: master.child_exited for the stats child" wait_until 5 log_has master.child_exited \
	".pid == $stats and .kind == \"stats\" and .signal == \"SIGKILL\""
ok "a new corad-stats child appears" wait_until 5 eval '[[ -n $(stats_pids) && $(stats_pids) != "$stats" ]]'
ok "log: master.child_started for the new stats child" wait_until 2 log_has master.child_started \
	".kind == \"stats\" and .pid != $stats"
http GET /health
is "$HTTP_STATUS" 200 "requests are served after the stats child was replaced"

# --- a storm of kills: each replacement killed as soon as it appears ---
# SIGKILL comes from outside (an OOM killer, an operator): it is no crash
# loop, so every replacement starts at once and the pool never stays short.
nok "a worker that ran over 1 s was replaced without master.restart_delayed" \
	log_has master.restart_delayed
seen=$(worker_pids)
victim=$(head -n 1 <<<"$seen")
kill -KILL "$victim"
kills=0
slow=0
for round in 1 2 3 4 5; do
	p=
	t0=$(date +%s%N)
	if wait_until 5 eval 'p=$(new_worker "$seen")'; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		[[ $ms -lt 1000 ]] || slow=$((slow + 1))
		diag "storm round $round: replacement $p seen after ${ms}ms, $(age_ms "$p")ms old; killing it"
		kill -KILL "$p"
		kills=$((kills + 1))
		seen+=$'\n'"$p"
	else
		diag "storm round $round: no replacement worker appeared within 5 s"
	fi
done
is "$kills" 5 "five replacements in a row were killed right after they started"
is "$slow" 0 "each replacement appeared within 1 s of the kill before it"
ok "no master.restart_delayed for killed workers" eval '! log_has master.restart_delayed'
ok "the worker count is back to 2 at once" wait_until 2 eval '[[ $(worker_count) -eq 2 ]]'

# A worker that crashes on its own after it served (SIGSEGV) is replaced at
# once too: only deaths before a worker accepts are a crash loop (the unit
# test check_proc covers that backoff).
seen=$(worker_pids)
victim=$(head -n 1 <<<"$seen")
kill -SEGV "$victim"
ok "log: master.child_exited with SIGSEGV" wait_until 5 log_has master.child_exited \
	".pid == $victim and .signal == \"SIGSEGV\""
ok "the crashed worker is replaced within 1 s" wait_until 1 eval 'new_worker "$seen" >/dev/null'
ok "still no master.restart_delayed" eval '! log_has master.restart_delayed'
http GET /health
is "$HTTP_STATUS" 200 "requests are served after the storm"
ok "the master survived" alive "$M"

# A stop: the workers, then the status child (it asks the stats child),
# then the stats child, so that the last requests are counted.
corad_stop
line_of() { grep -n "\"event\":\"master.child_exited\".*\"kind\":\"$1\"" "$CORAD_LOG" | tail -n 1 | cut -d: -f1; }
ok "a stop ends the status child after the workers and before the stats child" \
	test "$(line_of worker)" -lt "$(line_of status)" -a "$(line_of status)" -lt "$(line_of stats)"
is "$(log_count startup.exec)" 1 "serve executed itself once"

# CORA_WORKER_BATCH_SCHEDULING=false: the workers keep the master's policy.
# The operator's own tunables and GnuTLS switch are kept; the thread cache's
# setting is added to the tunables.
corad_start CORA_WORKERS=2 CORA_WORKER_BATCH_SCHEDULING=false CORA_STATUS_LISTEN=off \
	GLIBC_TUNABLES=glibc.malloc.arena_max=1 GNUTLS_NO_IMPLICIT_INIT=0 || bail "corad starts again"
is "$(children_named corad-status "$(master_pid)")" "" "CORA_STATUS_LISTEN=off: no status child"
nok "... and no status socket" test -e "$T/run/status.sock"
ok "... and startup.listening says so" log_has startup.listening '.status_listen == null'
for p in $(worker_pids); do
	is "$(policy "$p")" 0 "CORA_WORKER_BATCH_SCHEDULING=false: worker $p keeps SCHED_OTHER"
	is "$(env_of "$p")" "glibc.malloc.arena_max=1 0" \
		"worker $p: the operator's tunable and GNUTLS_NO_IMPLICIT_INIT=0 kept"
done
ok "... and startup.exec added the thread cache's to the operator's tunables" log_has startup.exec \
	'.glibc_tunables == "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0" and .gnutls_no_implicit_init == "0"'
http GET /health
is "$HTTP_STATUS" 200 "... and serves"
corad_stop

# A worker that may not change its policy says so and serves as it is. An
# unprivileged corad started under SCHED_IDLE with RLIMIT_NICE 0 may not
# leave SCHED_IDLE (its own copy of the binary: the build tree may be out of
# that user's reach). Every program in the chain execs the next: $! is
# the master.
NP=$T/unprivileged
mkdir -p "$NP"
chmod 711 "$T"
chmod 777 "$NP"
cp "$CORAD_BIN" "$NP/corad"
prlimit --nice=0 setpriv --reuid=65534 --regid=65534 --clear-groups chrt -i 0 \
	env CORA_LISTEN="unix:$NP/corad.sock" CORA_RUNTIME_DIR="$NP/run" CORA_WORKERS=1 \
	GLIBC_TUNABLES=glibc.malloc.tcache_count=7 LOG_LEVEL=INFO PROJECTION_POLL_INTERVAL_SECONDS=3600 "$NP/corad" serve \
	</dev/null >"$NP/corad.log" 2>&1 &
NP_PID=$!
EXTRA_PIDS+=("$NP_PID")
np_failed() { LOGFILE=$NP/corad.log log_has worker.scheduling_failed \
	'.policy == "SCHED_BATCH" and (.error | test("not permitted"))'; }
ok "an unprivileged worker under SCHED_IDLE logs worker.scheduling_failed" wait_until 5 np_failed
np_worker=$(children_named corad-worker "$NP_PID")
is "$(policy "$np_worker")" 5 "... keeps SCHED_IDLE"
is "$(env_of "$np_worker")" "glibc.malloc.tcache_count=7 1" \
	"... and the thread cache the operator asked for"
np_exec() { LOGFILE=$NP/corad.log log_has startup.exec \
	'.glibc_tunables == "glibc.malloc.tcache_count=7" and .gnutls_no_implicit_init == "1"'; }
ok "... which startup.exec kept" np_exec
FCGI_SOCK=$NP/corad.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health \
	QUERY_STRING= CONTENT_LENGTH= </dev/null
is "$FCGI_STATUS" 200 "... and serves GET /health"
kill -TERM "$NP_PID"
wait_exit "$NP_PID" 15
is "$EXIT_STATUS" 0 "... and stops on SIGTERM with status 0"

# The operator's settings in --env-file count as the environment's do; a
# path that is not a socket is never removed to make room for one.
EF=$T/envfile
mkdir -p "$EF"
printf 'GLIBC_TUNABLES=glibc.malloc.tcache_count=7\nGNUTLS_NO_IMPLICIT_INIT=0\nCORA_WORKERS=1\n' >"$EF/corad.env"
env -u GLIBC_TUNABLES -u GNUTLS_NO_IMPLICIT_INIT CORA_LISTEN="unix:$EF/corad.sock" \
	CORA_RUNTIME_DIR="$EF/run" LOG_LEVEL=INFO PROJECTION_POLL_INTERVAL_SECONDS=3600 \
	"$CORAD_BIN" serve --env-file "$EF/corad.env" </dev/null >"$EF/corad.log" 2>&1 &
EF_PID=$!
EXTRA_PIDS+=("$EF_PID")
ef_exec() { LOGFILE=$EF/corad.log log_has startup.exec \
	'.glibc_tunables == "glibc.malloc.tcache_count=7" and .gnutls_no_implicit_init == "0"'; }
ok "GLIBC_TUNABLES and GNUTLS_NO_IMPLICIT_INIT from --env-file are the ones serve runs with" wait_until 5 ef_exec
ef_worker() { [[ -n $(children_named corad-worker "$EF_PID") ]]; }
ok "... its worker starts" wait_until 5 ef_worker
is "$(env_of "$(children_named corad-worker "$EF_PID")")" "glibc.malloc.tcache_count=7 0" "... and has them"
kill -TERM "$EF_PID"
wait_exit "$EF_PID" 15
: >"$EF/regular"
corad_run not-a-socket check CORA_STATUS_LISTEN="unix:$EF/regular"
isnt "$RUN_STATUS" 0 "CORA_STATUS_LISTEN naming a regular file: corad check refuses"
LOGFILE=$RUN_LOG ok "... saying it is not a socket" log_has startup.refused '.reason | test("not a socket")'
env CORA_LISTEN="unix:$EF/corad.sock" CORA_RUNTIME_DIR="$EF/run" CORA_STATUS_LISTEN="unix:$EF/regular" \
	CORA_WORKERS=1 "$CORAD_BIN" serve </dev/null >"$EF/regular.log" 2>&1
isnt "$?" 0 "... and serve does not start"
ok "... and the file is still there" test -f "$EF/regular"

# Without /proc (a mount namespace with an empty one over it), serve cannot
# find its own binary to execute: it says so and serves as it was started.
NX=$T/noproc
mkdir -p "$NX"
# shellcheck disable=SC2016  # expanded by the inner shell
unshare --mount sh -c 'mount -t tmpfs none /proc && exec "$@"' sh \
	env -u GLIBC_TUNABLES -u GNUTLS_NO_IMPLICIT_INIT CORA_LISTEN="unix:$NX/corad.sock" \
	CORA_RUNTIME_DIR="$NX/run" CORA_WORKERS=1 LOG_LEVEL=INFO PROJECTION_POLL_INTERVAL_SECONDS=3600 \
	"$CORAD_BIN" serve </dev/null >"$NX/corad.log" 2>&1 &
NX_PID=$!
EXTRA_PIDS+=("$NX_PID")
nx_failed() { LOGFILE=$NX/corad.log log_has startup.exec_failed '.error != ""'; }
ok "no /proc: startup.exec_failed" wait_until 5 nx_failed
ok "... and the socket appears" wait_until 10 test -S "$NX/corad.sock"
FCGI_SOCK=$NX/corad.sock fcgi REQUEST_METHOD=GET DOCUMENT_URI=/health REQUEST_URI=/health \
	QUERY_STRING= CONTENT_LENGTH= </dev/null
is "$FCGI_STATUS" 200 "... and GET /health is served"
kill -TERM "$NX_PID"
wait_exit "$NX_PID" 15
if [[ -n ${CORAD_SANITIZED:-} ]]; then
	# The sanitizer reads its options, and checks for leaks at exit,
	# through /proc: without it, the leak check fails the exit status.
	skip "... and SIGTERM stops it with status 0" "a sanitizer build (status $EXIT_STATUS)"
else
	is "$EXIT_STATUS" 0 "... and SIGTERM stops it with status 0"
fi

done_testing
