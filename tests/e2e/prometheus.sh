#!/bin/bash
# A real Prometheus server scrapes corad's GET /metrics through nginx: the
# exposition is accepted (up == 1, no scrape error), the
# request counts arrive as sent, the histograms are ingested; promtool check
# metrics passes on a scrape. Prometheus listens on 127.0.0.1 only, keeps its
# data under $T and talks to nothing but the nginx in front of corad.
# No database: corad serves GET /health without one.
. "$(dirname "$0")/lib.sh"
need_tools promtool
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
need_program "$PROMETHEUS"

PROM_PID=
prom_stop() {
	[[ -n $PROM_PID ]] || return 0
	kill -TERM "$PROM_PID" 2>/dev/null
	wait_until 5 eval '! alive '"$PROM_PID" || kill -KILL "$PROM_PID" 2>/dev/null
	wait "$PROM_PID" 2>/dev/null
	forget_pid "$PROM_PID"
	PROM_PID=
	return 0
}
# forget_pid pid: drop a reaped process from EXTRA_PIDS (its pid may be reused).
forget_pid() {
	local p keep=()
	for p in "${EXTRA_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	EXTRA_PIDS=("${keep[@]}")
}
# lib.sh's cleanup ends with `exit`: stop Prometheus first, keeping the status.
prom_cleanup() {
	local rc=$?
	prom_stop
	(exit "$rc")
	cleanup
}
trap prom_cleanup EXIT

nginx_server main
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=2 || bail "corad starts"
NGX_HOSTPORT=127.0.0.1:${NGX_PORT[main]}

# prom_start: Prometheus on a free loopback port (picked again when taken).
prom_start() {
	local _try
	for _try in 1 2 3 4 5; do
		PROM_PORT=$(pick_port)
		PROM=http://127.0.0.1:$PROM_PORT
		mkdir -p "$T/prom-data"
		cat >"$T/prometheus.yml" <<-EOF
			global:
			  scrape_interval: 1s
			  scrape_timeout: 1s
			  evaluation_interval: 1s
			scrape_configs:
			  - job_name: corad
			    scrape_interval: 1s
			    scrape_timeout: 1s
			    metrics_path: /metrics
			    scheme: http
			    static_configs:
			      - targets: ['$NGX_HOSTPORT']
		EOF
		: >"$T/prometheus.log"
		(cd "$T" && exec setsid "$PROMETHEUS" \
			--config.file="$T/prometheus.yml" \
			--storage.tsdb.path="$T/prom-data" \
			--web.listen-address="127.0.0.1:$PROM_PORT" \
			--log.level=info) </dev/null >>"$T/prometheus.log" 2>&1 &
		PROM_PID=$!
		EXTRA_PIDS+=("$PROM_PID")
		if wait_until 20 prom_ready_or_dead && alive "$PROM_PID"; then
			return 0
		fi
		wait "$PROM_PID" 2>/dev/null
		forget_pid "$PROM_PID"
		PROM_PID=
		grep -q 'address already in use' "$T/prometheus.log" || break
	done
	diag "Prometheus did not start:" "$(tail -n 20 "$T/prometheus.log")"
	return 1
}
prom_ready_or_dead() {
	! alive "$PROM_PID" ||
		[[ $(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$PROM/-/ready") == 200 ]]
}
if prom_start; then
	pass "Prometheus runs on 127.0.0.1:$PROM_PORT, scraping $NGX_HOSTPORT/metrics every 1 s"
else
	fail "Prometheus runs"
	done_testing
	exit
fi

# pq PromQL: the value of the first result of an instant query ("" if none).
pq() {
	curl -s --max-time 5 -G --data-urlencode "query=$1" "$PROM/api/v1/query" >"$T/pq.json" 2>/dev/null
	jq -r 'if .status == "success" and (.data.result | length) > 0
		then .data.result[0].value[1] else "" end' "$T/pq.json" 2>/dev/null
}
pq_is() { [[ $(pq "$1") == "$2" ]]; }

# 25 GET /health, four at a time.
seq 25 | xargs -P 4 -I{} curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' "$BASE/health" >"$T/codes"
is "$(grep -cx 200 "$T/codes")" 25 "25 GET /health answered 200"
WANT=$((25 + HEALTH_PROBES_OK))	# corad_start's own GET /health is counted too
diag "expecting $WANT (25 + $HEALTH_PROBES_OK from start-up)"

Q='sum(http_requests_total{handler="/health"})'
ok "Prometheus: $Q reaches $WANT within 20 s" wait_until 20 pq_is "$Q" "$WANT"
is "$(pq "$Q")" "$WANT" "Prometheus: $Q is $WANT"
[[ $(pq "$Q") == "$WANT" ]] || diag "last answer: $(cat "$T/pq.json")"
is "$(pq 'up{job="corad"}')" 1 "Prometheus: up{job=\"corad\"} is 1"
curl -s --max-time 5 "$PROM/api/v1/targets" >"$T/targets.json"
json_is "$(cat "$T/targets.json")" \
	'[.data.activeTargets[] | select(.labels.job == "corad") | [.health, .lastError, .scrapeUrl]]' \
	"[[\"up\",\"\",\"http://$NGX_HOSTPORT/metrics\"]]" "Prometheus: the corad target is up with no scrape error"
is "$(pq 'count(http_request_duration_highr_seconds_bucket)')" 22 \
	"Prometheus: http_request_duration_highr_seconds has 22 buckets"
is "$(pq 'sum(http_request_duration_highr_seconds_count)')" "$WANT" \
	"Prometheus: http_request_duration_highr_seconds_count is $WANT"
is "$(pq 'http_request_duration_seconds_count{method="GET",handler="/health"}')" "$WANT" \
	"Prometheus: http_request_duration_seconds_count{method=\"GET\",handler=\"/health\"} is $WANT"
is "$(pq "cora_build_info{version=\"$CORAD_VERSION\"}")" 1 "Prometheus: cora_build_info{version=\"$CORAD_VERSION\"} is 1"
is "$(pq 'count(process_resident_memory_bytes > 0)')" 5 \
	"Prometheus: process_resident_memory_bytes > 0 for 5 process kinds"
is "$(pq 'count(http_requests_total{handler="/metrics"})')" "" "Prometheus: no http_requests_total for /metrics"

# The exposition itself.
http GET /metrics
is "$HTTP_STATUS" 200 "GET /metrics is 200"
printf '%s\n' "$HTTP_BODY" >"$T/metrics.txt"
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then
	pass "promtool check metrics passes"
else
	fail "promtool check metrics passes" "$(cat "$T/promtool.out")"
fi
ok "Prometheus logged no scrape or parse error" \
	eval '! grep -Eiq "level=(warn|error).*(scrape|pars)" "$T/prometheus.log"'

last_prom=$PROM_PID
prom_stop
nok "Prometheus stopped" alive "$last_prom"

done_testing
