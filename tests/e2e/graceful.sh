#!/bin/bash
# Stopping: SIGTERM and SIGINT let an in-flight request finish,
# then the master exits 0 with no process left; SIGQUIT stops at once.
. "$(dirname "$0")/lib.sh"

GRACE=10
nginx_server main
# No nginx body limit and no request buffering: corad reads the slow body
# while it arrives, so the request is in flight inside the worker.
nginx_server stream \
	's|client_max_body_size 1m;|client_max_body_size 0; fastcgi_request_buffering off;|'
nginx_start || bail "nginx starts"
S=$(nginx_url stream)
head -c 300000 /dev/zero | tr '\0' ' ' >"$T/slow.body"

# all_gone pid...: none of the processes exists any more (zombies count as gone).
all_gone() {
	local p
	for p in "$@"; do
		alive "$p" && return 1
	done
	return 0
}

# graceful SIGNAL: a slow request (300 KB at 100 KB/s), the signal after 1 s.
graceful() {
	local sig=$1 m kids curl_pid t0 t1 status body
	corad_start CORA_WORKERS=1 CORA_GRACEFUL_TIMEOUT_SECONDS=$GRACE ||
		{ fail "$sig: corad starts"; return; }
	m=$(master_pid)
	wait_until 3 eval '[[ $(worker_count) -eq 1 && $(count_lines "$(stats_pids)") -eq 1 ]]'
	kids=$(pgrep -P "$m" | tr '\n' ' ')
	curl -sS --max-time 30 -o "$T/slow.out" -w '%{http_code}' -X POST --limit-rate 100K \
		-H 'Content-Type: application/json' --data-binary "@$T/slow.body" "$S/health" \
		>"$T/slow.status" 2>"$T/slow.err" &
	curl_pid=$!
	EXTRA_PIDS+=("$curl_pid")
	sleep 1
	ok "$sig: the slow request is still in flight after 1 s" alive "$curl_pid"
	t0=$(date +%s%N)
	kill "-$sig" "$m"
	ok "$sig: log master.stopping" wait_until 3 log_has master.stopping
	wait_exit "$m" $((GRACE + 5))
	t1=$(date +%s%N)
	is "$EXIT_STATUS" 0 "$sig: the master exits with status 0"
	cmp_ok $(((t1 - t0) / 1000000)) -le $((GRACE * 1000)) "$sig: ... within CORA_GRACEFUL_TIMEOUT_SECONDS"
	wait "$curl_pid" 2>/dev/null
	status=$(cat "$T/slow.status")
	body=$(cat "$T/slow.out" 2>/dev/null)
	is "$status" 405 "$sig: the in-flight request completed with its answer (405)"
	json_eq "$body" '{"detail":"Method Not Allowed"}' "$sig: ... and its full JSON body"
	[[ -s $T/slow.err ]] && diag "curl: $(cat "$T/slow.err")"
	ok "$sig: log master.stopped" log_has master.stopped
	# shellcheck disable=SC2086
	ok "$sig: no corad process remains (master and children $kids)" wait_until 2 all_gone "$m" $kids
	is "$(group_corad_pids "$m" | tr '\n' ' ')" "" "$sig: nothing left in corad's process group"
	http GET /health
	is "$HTTP_STATUS" 502 "$sig: nginx answers 502 once corad is gone"
}

graceful TERM

# --- SIGQUIT: immediate ---
corad_start CORA_WORKERS=2 || fail "QUIT: corad starts"
m=$(master_pid)
ok "QUIT: two workers and the stats child are running" \
	wait_until 3 eval '[[ $(worker_count) -eq 2 && $(count_lines "$(stats_pids)") -eq 1 ]]'
kids=$(pgrep -P "$m" | tr '\n' ' ')
kill -QUIT "$m"
# shellcheck disable=SC2086
ok "QUIT: master and children are gone within 2 s" wait_until 2 all_gone "$m" $kids
orphans=
for p in $kids; do
	[[ -r /proc/$p/comm ]] && orphans+="$p:$(comm_of "$p") "
done
is "$orphans" "" "QUIT: no corad-worker or corad-stats is left orphaned"
wait_exit "$m" 1
isnt "$EXIT_STATUS" timeout "QUIT: the master has exited (status $EXIT_STATUS)"

graceful INT

# --- the graceful stop's time runs out ---
# The slow request (3 s) outlasts CORA_GRACEFUL_TIMEOUT_SECONDS=1: its worker
# is killed, and the log names the request it was in, whose client gets the
# proxy's 502 and never learns how it ended.
corad_start CORA_WORKERS=1 CORA_GRACEFUL_TIMEOUT_SECONDS=1 || fail "timeout: corad starts"
m=$(master_pid)
curl -sS --max-time 30 -o /dev/null -D "$T/cut.headers" -w '%{http_code}' -X POST --limit-rate 100K \
	-H 'Content-Type: application/json' --data-binary "@$T/slow.body" "$S/health" >"$T/cut.status" 2>/dev/null &
curl_pid=$!
EXTRA_PIDS+=("$curl_pid")
busy_worker() { [[ -n $(children_named corad-worker "$m") ]] && http GET /status &&
	[[ $(jq -r '.pool.busy' <<<"$HTTP_BODY") == 1 ]]; }
ok "timeout: the slow request holds the worker" wait_until 3 busy_worker
victim=$(children_named corad-worker "$m")
kill -TERM "$m"
wait_exit "$m" 10
is "$EXIT_STATUS" 0 "timeout: the master exits with status 0"
ok "timeout: master.graceful_timeout" log_has master.graceful_timeout '.workers_left == 1'
ok "timeout: master.child_exited names the request the killed worker was in" \
	log_has master.child_exited ".pid == $victim and .signal == \"SIGKILL\" and .method == \"POST\" and
		.route == \"/health\" and (.correlation_id | test(\"^[0-9a-f-]{36}$\"))"
wait "$curl_pid" 2>/dev/null
is "$(cat "$T/cut.status")" 502 "timeout: its client gets the proxy's 502"
is "$(log_select master.child_exited ".pid == $victim" | jq -r .correlation_id)" \
	"$(hdr X-Correlation-Id "$(tr -d '\r' <"$T/cut.headers")")" "... whose X-Correlation-Id is the one logged"

done_testing
