#!/bin/bash
# GET /metrics: request counts
# aggregated over all workers by the stats child, /metrics not counted in
# itself (nor in cora_requests_in_flight), cora_build_info; the shipped config allows /metrics from localhost
# only.
. "$(dirname "$0")/lib.sh"
need_tools python3

nginx_server main
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=2 || bail "corad starts"

# sample 'name{labels}': the value of that sample in $T/metrics.txt, "" if absent.
sample() {
	awk -v want="$1" '
		/^#/ { next }
		{ v = $NF; $NF = ""; sub(/[ \t]+$/, ""); if ($0 == want) found = v }
		END { printf "%s", found }' "$T/metrics.txt"
}
# num_is got expected: numerically equal (Prometheus may print 37 or 37.0).
num_is() { [[ -n $1 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }
scrape() {
	http GET /metrics
	printf '%s\n' "$HTTP_BODY" >"$T/metrics.txt"
}
H2='http_requests_total{method="GET",status="2xx",handler="/health"}'
N4='http_requests_total{method="GET",status="4xx",handler="none"}'
counts_are() {	# counts_are health-2xx none-4xx
	scrape
	num_is "$(sample "$H2")" "$1" && num_is "$(sample "$N4")" "$2"
}

# 37 GET /health, four at a time so that both workers serve some, plus 3 404s.
seq 37 | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' "$BASE/health" >"$T/codes"
is "$(grep -cx 200 "$T/codes")" 37 "37 GET /health answered 200"
for i in 1 2 3; do http GET "/nope$i"; done
is "$HTTP_STATUS" 404 "GET /nope is 404"
want=$((37 + HEALTH_PROBES_OK))	# corad_start's own successful GET /health
diag "expecting $want GET /health (37 + $HEALTH_PROBES_OK from start-up)"

wait_until 5 counts_are "$want" 3
scrape
is "$HTTP_STATUS" 200 "GET /metrics is 200"
like "$(hdr Content-Type)" '^text/plain; version=0\.0\.4(;|$)' "Content-Type is text/plain; version=0.0.4"
like "$(hdr X-Correlation-Id)" "$UUID_RE" "/metrics has X-Correlation-Id"
ok "$H2 is $want" num_is "$(sample "$H2")" "$want"
[[ -n $(sample "$H2") ]] || diag "no such line; http_requests_total lines:" "$(grep http_requests_total "$T/metrics.txt")"
ok "$N4 is 3" num_is "$(sample "$N4")" 3
ok "cora_build_info{version=\"$CORAD_VERSION\"} 1" num_is "$(sample "cora_build_info{version=\"$CORAD_VERSION\"}")" 1

# /metrics is not counted: two more scrapes change nothing.
sleep 0.5
scrape
grep '^http_requests_total' "$T/metrics.txt" | sort >"$T/before"
scrape
sleep 0.5
scrape
grep '^http_requests_total' "$T/metrics.txt" | sort >"$T/after"
ok "two scrapes in a row do not change any http_requests_total" cmp -s "$T/before" "$T/after"
nok "no sample for handler=\"/metrics\"" grep -q 'handler="/metrics"' "$T/metrics.txt"
ok "cora_requests_in_flight is 0 on an idle server (the scrape is not in it)" \
	num_is "$(sample cora_requests_in_flight)" 0
# A request that is in flight is: a peer on the socket that sends its
# head, then its body 4 s later, holds one.
printf '{}' | python3 "$(dirname "$0")/fcgi_client.py" --pause 4 "unix:$T/corad.sock" \
	REQUEST_METHOD=POST DOCUMENT_URI=/actors REQUEST_URI=/actors CONTENT_TYPE=application/json \
	CONTENT_LENGTH=2 >/dev/null 2>&1 &
SLOW=$!
in_flight_one() { scrape; num_is "$(sample cora_requests_in_flight)" 1; }
ok "cora_requests_in_flight is 1 during a slow upload" wait_until 4 in_flight_one
kill "$SLOW" 2>/dev/null
wait "$SLOW" 2>/dev/null
ok "$H2 is still $want" num_is "$(sample "$H2")" "$want"

# Counts survive the worker that made them.
kill -KILL "$(worker_pids | head -n 1)"
wait_until 5 eval '[[ $(worker_count) -eq 2 ]]'
for i in 1 2 3; do http GET /health; done
ok "after a worker was killed the count includes its requests ($((want + 3)))" \
	wait_until 5 counts_are $((want + 3)) 3
diag "$(grep http_requests_total "$T/metrics.txt")"

# The text is valid exposition format (promtool comes with the Debian
# package prometheus, which the quickstart installs).
scrape
ok "promtool check metrics" promtool check metrics <"$T/metrics.txt"

# The shipped config serves /metrics to localhost only.
http GET /metrics --interface 127.0.0.2
is "$HTTP_STATUS" 403 "GET /metrics from 127.0.0.2 is 403 (nginx)"
json_eq "$HTTP_BODY" '{"detail":"Forbidden"}' "nginx's 403 body is JSON"
http GET /status --interface 127.0.0.2
is "$HTTP_STATUS" 403 "GET /status from 127.0.0.2 is 403 (nginx)"
http GET /health --interface 127.0.0.2
is "$HTTP_STATUS" 200 "GET /health from 127.0.0.2 is 200"

done_testing
