#!/bin/bash
# Metrics and status against a real PostgreSQL:
# exact http_requests_total counts over several workers (/metrics never
# counted), the histograms and summaries that go with them, counters that
# survive a killed worker and a killed stats child, the cora_* counters
# (idempotency, body limit, database errors, worker restarts by reason) and
# GET /status while a slow request keeps a worker busy, and after a reload.
#
# The principal reaches corad as in production: nginx's auth_request asks a
# stand-in authentication service, which vouches for the X-Principal-Id sent.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
need_tools shuf

# --- reading /metrics --------------------------------------------------------------
# A scrape is kept as $T/m-<name>.txt (the text) and $T/m-<name>.json (the
# samples: [{name, labels, key, value, v}], key = name with the labels sorted,
# v = the value as a number where it is one).

# metrics_json < text: the samples as JSON. A label value may hold "}"
# (handler="/actors/{actor_id}"), so the label set is scanned, not split.
metrics_json() {
	jq -R -s '
		[ split("\n")[] | sub("\r$"; "")
		  | select(length > 0 and (startswith("#") | not))
		  | (capture("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?<lab>.*)\\})?[ \t]+(?<value>[^ \t]+)([ \t]+-?[0-9]+)?$")
		     // {name: "<unparsed>", lab: null, value: .})
		  | .labels = ([(.lab // "") | scan("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"")
		                | {key: .[0], value: .[1]}] | from_entries)
		  | .key = (.name + "{" + ([.labels | to_entries[] | "\(.key)=\"\(.value)\""] | sort | join(",")) + "}")
		  | .v = (.value | tonumber? // .)
		  | del(.lab) ]'
}

# scrape name [base-url]: GET /metrics into $T/m-<name>.{txt,json}; status 0
# when the answer was 200.
scrape() {
	local name=$1 base=${2:-$BASE}
	http GET "$base/metrics"
	printf '%s\n' "$HTTP_BODY" >"$T/m-$name.txt"
	metrics_json <"$T/m-$name.txt" >"$T/m-$name.json" 2>/dev/null || echo '[]' >"$T/m-$name.json"
	[[ $HTTP_STATUS == 200 ]]
}

# mq name [jq options...] filter: jq over the samples of scrape <name>.
mq() {
	local name=$1
	shift
	jq -r "$@" "$T/m-$name.json" 2>/dev/null
}

# mval name metric labels-json: the value of that sample ("" when absent).
mval() {
	mq "$1" --arg n "$2" --argjson l "$3" \
		'[.[] | select(.name == $n and .labels == $l) | .v] | if length == 0 then "" else .[0] end'
}

# msum name metric: the sum of every sample of that metric (0 when none).
msum() {
	mq "$1" --arg n "$2" '[.[] | select(.name == $n) | .v | numbers] | add // 0'
}

# num_eq a b: both numbers and equal (37 == 37.0).
num_eq() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[-+0-9.eE]+$/ && a + 0 == b + 0) }'; }
# num_ge a b: a >= b.
num_ge() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[-+0-9.eE]+$/ && a + 0 >= b + 0) }'; }
num_gt() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[-+0-9.eE]+$/ && a + 0 > b + 0) }'; }

num_is() {	# num_is got expected desc
	if num_eq "$1" "$2"; then
		pass "$3"
	else
		fail "$3" "got:      '$1'" "expected: $2"
	fi
}
num_cmp() {	# num_cmp got ge|gt expected desc
	if "num_$2" "$1" "$3"; then
		pass "$4"
	else
		fail "$4" "got:      '$1'" "expected: $2 $3"
	fi
}

# --- set-up ---------------------------------------------------------------------

db_setup

nginx_server_auth main
# Without nginx's body limit and without request buffering: corad reads the
# body as it arrives (slow uploads) and applies its own limit.
nginx_server_auth stream \
	's|client_max_body_size 1m;|client_max_body_size 0; fastcgi_request_buffering off;|'
nginx_start || bail "nginx starts"
STREAM=$(nginx_url stream)
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=3 ||
	bail "corad serve starts"
M=$(master_pid)

HRT=http_requests_total
# The start-up probe of corad_start (GET /health through nginx) is counted.
PROBES=$HEALTH_PROBES_OK

# --- 1. exact counts after 60 requests ----------------------------------------

# The baseline: only the start-up probe.
total_is() { scrape "$1" && num_eq "$(msum "$1" "$HRT")" "$2"; }
wait_until 5 total_is base "$PROBES"
num_is "$(msum base "$HRT")" "$PROBES" "baseline: sum of $HRT is $PROBES (the start-up probe)"

# The 60 requests, shuffled, six at a time.
: >"$T/specs"
for i in $(seq 30); do printf 'GET\t/health\t\n' >>"$T/specs"; done
for i in $(seq 10); do printf 'GET\t/nope\t\n' >>"$T/specs"; done
BYTES=0
for i in $(seq 10); do
	b="{\"name\":\"Observed actor $i\"}"
	BYTES=$((BYTES + ${#b}))
	printf 'POST\t/actors\t%s\n' "$b" >>"$T/specs"
done
for i in $(seq 5); do
	b="{bad json $i"
	BYTES=$((BYTES + ${#b}))
	printf 'POST\t/actors\t%s\n' "$b" >>"$T/specs"
done
for i in $(seq 5); do printf 'GET\t/actors\t\n' >>"$T/specs"; done
shuf "$T/specs" >"$T/specs.shuf"
is "$(wc -l <"$T/specs.shuf")" 60 "60 requests prepared ($BYTES body bytes to POST /actors)"

one_req() {	# one_req METHOD PATH BODY: prints "METHOD PATH status"
	local code
	if [[ -n $3 ]]; then
		code=$(curl -s -o /dev/null --max-time 20 -w '%{http_code}' -X "$1" \
			-H "X-Principal-Id: $P1" -H 'Content-Type: application/json' \
			--data-binary "$3" "$BASE$2")
	else
		code=$(curl -s -o /dev/null --max-time 20 -w '%{http_code}' -X "$1" \
			-H "X-Principal-Id: $P1" "$BASE$2")
	fi
	echo "$1 $2 $code"
}
pids=()
n=0
while IFS=$'\t' read -r m p b; do
	one_req "$m" "$p" "$b" </dev/null >"$T/res.$n" &
	pids+=($!)
	n=$((n + 1))
	if [[ ${#pids[@]} -ge 6 ]]; then
		wait "${pids[@]}"
		pids=()
	fi
done <"$T/specs.shuf"
[[ ${#pids[@]} -gt 0 ]] && wait "${pids[@]}"
cat "$T"/res.* | sort | uniq -c | awk '{ print $1, $2, $3, $4 }' >"$T/codes"
is "$(tr '\n' ';' <"$T/codes")" \
	"5 GET /actors 200;30 GET /health 200;10 GET /nope 404;10 POST /actors 201;5 POST /actors 422;" \
	"the 60 requests got the expected statuses"

WANT=$((PROBES + 60))
ok "the sum of $HRT reaches $WANT within 5 s" wait_until 5 total_is s1 "$WANT"
sleep 0.6	# more than one flush interval: nothing else may arrive
scrape s1
is "$HTTP_STATUS" 200 "GET /metrics is 200"
like "$(hdr Content-Type)" '^text/plain; version=0\.0\.4(;|$)' "Content-Type is text/plain; version=0.0.4"
is "$(mq s1 '[.[] | select(.name == "<unparsed>")] | length')" 0 "every sample line parses"
num_is "$(msum s1 "$HRT")" "$WANT" "sum of $HRT is exactly $WANT (60 + start-up probe; /metrics not counted)"

# series method status handler expected
series_is() {
	num_is "$(mval s1 "$HRT" "{\"method\":\"$1\",\"status\":\"$2\",\"handler\":\"$3\"}")" "$4" \
		"$HRT{method=\"$1\",status=\"$2\",handler=\"$3\"} is $4"
}
series_is GET 2xx /health $((30 + PROBES))
series_is GET 4xx none 10
series_is POST 2xx /actors 10
series_is POST 4xx /actors 5
series_is GET 2xx /actors 5
is "$(mq s1 --arg n "$HRT" '[.[] | select(.name == $n)] | length')" 5 "$HRT has exactly these 5 series"
is "$(mq s1 '[.[] | select(.labels.handler == "/metrics")] | length')" 0 "no sample for handler=\"/metrics\""
[[ $TAP_FAILED -gt 0 ]] && diag "$(grep "^$HRT" "$T/m-s1.txt")"

# Duration histograms.
D=http_request_duration_seconds
HR=http_request_duration_highr_seconds
num_is "$(msum s1 ${D}_count)" "$WANT" "sum of ${D}_count is $WANT"
num_is "$(msum s1 ${HR}_count)" "$WANT" "${HR}_count is $WANT"
is "$(mq s1 --arg n ${HR}_count -c '[.[] | select(.name == $n) | .labels]')" '[{}]' "$HR has no labels"
# dur_count method handler expected
dur_count() {
	num_is "$(mval s1 ${D}_count "{\"method\":\"$1\",\"handler\":\"$2\"}")" "$3" \
		"${D}_count{method=\"$1\",handler=\"$2\"} is $3"
}
dur_count GET /health $((30 + PROBES))
dur_count GET none 10
dur_count POST /actors 15
dur_count GET /actors 5
is "$(mq s1 --arg n ${D}_count '[.[] | select(.name == $n)] | length')" 4 "${D} has exactly these 4 series"

# Per histogram series (labels without le): the le values, whether the
# buckets are cumulative, +Inf bucket == _count, and that _sum exists.
HIST_CHECK='
	def lenum: if . == "+Inf" then infinite else tonumber end;
	. as $all
	| [.[] | select(.name == ($h + "_count"))] as $counts
	| [ $counts[] | .labels as $l | .v as $count
	    | [$all[] | select(.name == ($h + "_bucket") and (.labels | del(.le)) == $l)]
	    | sort_by(.labels.le | lenum) as $b
	    | { labels: $l,
	        les: ($b | map(.labels.le) | join(",")),
	        cumulative: ([range(1; $b | length) | $b[.].v >= $b[. - 1].v] | all),
	        inf_is_count: (($b | last | .labels.le) == "+Inf" and ($b | last | .v) == $count),
	        has_sum: ([$all[] | select(.name == ($h + "_sum") and .labels == $l)] | length == 1) } ]'
mq s1 --arg h "$D" -c "$HIST_CHECK"' | .[]' >"$T/hist-d"
mq s1 --arg h "$HR" -c "$HIST_CHECK"' | .[]' >"$T/hist-hr"
is "$(count_lines "$(cat "$T/hist-d")")" 4 "$D: 4 series checked"
# The bounds are labelled as the original's client writes them (1.0, not
# 1): a query for le="1.0" must find them.
is "$(jq -r .les "$T/hist-d" | sort -u | tr '\n' ';')" "0.1,0.5,1.0,+Inf;" "$D: every series has buckets le=0.1,0.5,1.0,+Inf"
is "$(jq -c 'select(.cumulative | not) | .labels' "$T/hist-d" | tr '\n' ' ')" "" "$D: buckets are cumulative in every series"
is "$(jq -c 'select(.inf_is_count | not) | .labels' "$T/hist-d" | tr '\n' ' ')" "" "$D: +Inf bucket equals _count in every series"
is "$(jq -c 'select(.has_sum | not) | .labels' "$T/hist-d" | tr '\n' ' ')" "" "$D: every series has a _sum"
is "$(count_lines "$(cat "$T/hist-hr")")" 1 "$HR: one series"
HR_LES='0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1.0,1.5,2.0,2.5,3.0,3.5,4.0,4.5,5.0,7.5,10.0,30.0,60.0,+Inf'
is "$(jq -r '.les' "$T/hist-hr")" "$HR_LES" "$HR: buckets $HR_LES"
is "$(jq -r '[.cumulative, .inf_is_count, .has_sum] | map(tostring) | join(",")' "$T/hist-hr")" "true,true,true" \
	"$HR: cumulative, +Inf bucket equals _count, has _sum"
[[ $TAP_FAILED -gt 0 ]] && diag "$(grep -E "^($D|$HR)" "$T/m-s1.txt")"

# Size summaries.
QS=http_request_size_bytes
RS=http_response_size_bytes
num_is "$(mval s1 ${QS}_count '{"handler":"/actors"}')" 20 "${QS}_count{handler=\"/actors\"} is 20"
num_is "$(mval s1 ${QS}_sum '{"handler":"/actors"}')" "$BYTES" "${QS}_sum{handler=\"/actors\"} is $BYTES (the bodies sent)"
num_is "$(mval s1 ${RS}_count '{"handler":"/actors"}')" 20 "${RS}_count{handler=\"/actors\"} is 20"
num_cmp "$(mval s1 ${RS}_sum '{"handler":"/actors"}')" gt 0 "${RS}_sum{handler=\"/actors\"} > 0"
num_is "$(mval s1 ${QS}_count '{"handler":"/health"}')" $((30 + PROBES)) "${QS}_count{handler=\"/health\"} is $((30 + PROBES))"
num_is "$(mval s1 ${QS}_count '{"handler":"none"}')" 10 "${QS}_count{handler=\"none\"} is 10"
num_is "$(msum s1 ${QS}_count)" "$WANT" "sum of ${QS}_count is $WANT"
num_is "$(msum s1 ${RS}_count)" "$WANT" "sum of ${RS}_count is $WANT"
num_is "$(mval s1 cora_build_info "{\"version\":\"$CORAD_VERSION\"}")" 1 "cora_build_info{version=\"$CORAD_VERSION\"} is 1"
for k in master worker stats projector; do
	num_cmp "$(mval s1 process_resident_memory_bytes "{\"kind\":\"$k\"}")" gt 0 \
		"process_resident_memory_bytes{kind=\"$k\"} > 0"
done
for st in starting idle busy exiting; do
	v=$(mval s1 cora_workers "{\"state\":\"$st\"}")
	like "$v" '^[0-9]+(\.0+)?$' "cora_workers{state=\"$st\"} is present"
done
num_is "$(msum s1 cora_workers)" 3 "cora_workers sums to 3 over the states"
for name in cora_requests_in_flight cora_body_size_rejected_total cora_db_errors_total \
	cora_projection_lag_events cora_projector_busy_seconds cora_projector_leader cora_spans_dropped_total; do
	like "$(mval s1 $name '{}')" '^[0-9.e+]+$' "$name is present"
done
for r in crash exit reload recycle timeout; do
	num_is "$(mval s1 cora_worker_restarts_total "{\"reason\":\"$r\"}")" 0 "cora_worker_restarts_total{reason=\"$r\"} is 0"
done
for o in claimed cache_hit conflict claim_lost; do
	like "$(mval s1 cora_idempotency_total "{\"outcome\":\"$o\"}")" '^[0-9.e+]+$' \
		"cora_idempotency_total{outcome=\"$o\"} is present"
done
ok "promtool check metrics passes" promtool check metrics <"$T/m-s1.txt"

# --- 2. two scrapes in a row -----------------------------------------------------
scrape s2a
scrape s2b
grep "^$HRT" "$T/m-s2a.txt" | sort >"$T/s2a"
grep "^$HRT" "$T/m-s2b.txt" | sort >"$T/s2b"
ok "two scrapes in a row: identical $HRT lines" cmp -s "$T/s2a" "$T/s2b"
ok "... and the same as before (/metrics is not counted)" cmp -s "$T/s2a" <(grep "^$HRT" "$T/m-s1.txt" | sort)

# --- 3. SIGKILL a worker: no counter goes down ----------------------------------
GAUGES='["cora_workers","cora_requests_in_flight","cora_projection_lag_events","process_resident_memory_bytes"]'
# decreases A B: every non-gauge sample of scrape A that is missing from B or
# smaller there, one per line.
decreases() {
	jq -rn --slurpfile a "$T/m-$1.json" --slurpfile b "$T/m-$2.json" --argjson g "$GAUGES" '
		($b[0] | map({key: .key, value: .v}) | from_entries) as $after
		| $a[0][] | select(.name as $n | $g | index($n) | not)
		| select(($after[.key] == null) or ((.v | type) == "number" and ($after[.key] | type) == "number" and $after[.key] < .v))
		| "\(.key): \(.v) -> \($after[.key])"'
}
scrape k3a
workers=$(worker_pids)
victim=$(head -n 1 <<<"$workers")
kill -KILL "$victim"
ok "log: master.child_exited for the killed worker" wait_until 5 log_has master.child_exited \
	".pid == $victim and .kind == \"worker\" and .signal == \"SIGKILL\""
ok "the killed worker is replaced (3 workers)" \
	wait_until 5 eval '[[ $(worker_count) -eq 3 ]] && ! grep -qx '"$victim"' <<<"$(worker_pids)"'
crash_is() { scrape "$1" && num_eq "$(mval "$1" cora_worker_restarts_total '{"reason":"crash"}')" "$2"; }
ok "cora_worker_restarts_total{reason=\"crash\"} becomes 1" wait_until 5 crash_is k3b 1
num_is "$(mval k3b cora_worker_restarts_total '{"reason":"crash"}')" 1 "cora_worker_restarts_total{reason=\"crash\"} is 1"
is "$(decreases k3a k3b)" "" "after the worker was killed no counter sample decreased or vanished"
is "$(mq k3a '[.[] | select(.name == "cora_worker_restarts_total")] | length')" 5 "cora_worker_restarts_total has 5 reasons"
ok "$HRT lines unchanged by the kill" cmp -s <(grep "^$HRT" "$T/m-k3a.txt" | sort) <(grep "^$HRT" "$T/m-k3b.txt" | sort)

# --- 4. SIGKILL the stats child --------------------------------------------------
scrape k4a
old_stats=$(stats_pids)
is "$(count_lines "$old_stats")" 1 "one corad-stats child"
kill -KILL "${old_stats:-0}"
ok "log: master.child_exited kind stats" wait_until 5 log_has master.child_exited \
	".pid == ${old_stats:-0} and .kind == \"stats\""
ok "log: master.child_started kind stats (a new pid)" wait_until 5 log_has master.child_started \
	".kind == \"stats\" and .pid != ${old_stats:-0}"
ok "a new corad-stats child runs" \
	wait_until 5 eval '[[ -n $(stats_pids) && $(stats_pids) != "'"$old_stats"'" ]]'
ok "GET /metrics answers 200 again" wait_until 5 scrape k4b
is "$(decreases k4a k4b | grep "^$HRT" || true)" "" "every $HRT sample is still present and not smaller"
is "$(decreases k4a k4b)" "" "no counter sample decreased or vanished"
num_is "$(msum k4b "$HRT")" "$WANT" "sum of $HRT is still $WANT"
for k in master worker stats projector; do
	num_cmp "$(mval k4b process_resident_memory_bytes "{\"kind\":\"$k\"}")" gt 0 \
		"after the restart: process_resident_memory_bytes{kind=\"$k\"} > 0"
done

# --- 5. idempotency and body-limit counters -------------------------------------
scrape c5a
KEY="obs-key-$$-$RANDOM"
post_key() {
	http POST /actors -H "X-Principal-Id: $P1" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $KEY" --data-binary '{"name":"Idem Potent"}'
}
post_key
is "$HTTP_STATUS" 201 "POST /actors with an Idempotency-Key: 201"
first_id=$(json_value "$HTTP_BODY" .actor_id)
post_key
is "$HTTP_STATUS" 201 "the same again: 201 (replayed)"
is "$(json_value "$HTTP_BODY" .actor_id)" "$first_id" "the replay returns the same actor_id"
idem_ok() {
	scrape c5b &&
		num_ge "$(mval c5b cora_idempotency_total '{"outcome":"claimed"}')" 1 &&
		num_ge "$(mval c5b cora_idempotency_total '{"outcome":"cache_hit"}')" 1
}
wait_until 5 idem_ok
num_cmp "$(mval c5b cora_idempotency_total '{"outcome":"claimed"}')" ge 1 'cora_idempotency_total{outcome="claimed"} >= 1'
num_cmp "$(mval c5b cora_idempotency_total '{"outcome":"cache_hit"}')" ge 1 'cora_idempotency_total{outcome="cache_hit"} >= 1'
diag "idempotency before: $(grep '^cora_idempotency_total' "$T/m-c5a.txt" | tr '\n' ' ')"
diag "idempotency after:  $(grep '^cora_idempotency_total' "$T/m-c5b.txt" | tr '\n' ' ')"

# json_body bytes file: a valid POST /actors body of exactly that size.
json_body() {
	local head='{"name":"Ada","kind":"human","pad":"' tail='"}' n
	n=$(($1 - ${#head} - ${#tail}))
	{ printf '%s' "$head"; head -c "$n" /dev/zero | tr '\0' x; printf '%s' "$tail"; } >"$2"
}
json_body $((2 * 1024 * 1024)) "$T/2mib.json"
http POST "$STREAM/actors" -H 'Content-Type: application/json' --data-binary "@$T/2mib.json"
is "$HTTP_STATUS" 413 "2 MiB POST /actors without nginx's limit: 413 from corad"
json_is "$HTTP_BODY" .detail "Request body of 2097152 bytes exceeds limit of 1048576 bytes" "the 413 is corad's"
post4xx() { mq "$1" --arg n "$HRT" '[.[] | select(.name == $n and .labels.method == "POST" and .labels.status == "4xx") | .v] | add // 0'; }
P4XX0=$(post4xx c5a)
rejected_ok() {
	scrape c5c && num_ge "$(mval c5c cora_body_size_rejected_total '{}')" 1 &&
		num_eq "$(post4xx c5c)" $((P4XX0 + 1))
}
wait_until 5 rejected_ok
num_cmp "$(mval c5c cora_body_size_rejected_total '{}')" ge 1 "cora_body_size_rejected_total >= 1"
num_is "$(post4xx c5c)" $((P4XX0 + 1)) "the 413 is counted once in $HRT{method=\"POST\",status=\"4xx\"}"
diag "the 413 was counted under handler $(mq c5c --arg n "$HRT" -c '[.[] | select(.name == $n and .labels.method == "POST" and .labels.status == "4xx") | .labels.handler + "=" + .value]')"

# --- 7. /status ------------------------------------------------------------------
http GET /status
S=$HTTP_BODY
is "$HTTP_STATUS" 200 "GET /status is 200"
is "$(hdr Content-Type)" application/json "/status is application/json"
json_is "$S" .version "$CORAD_VERSION" "status: version"
json_is "$S" .master_pid "$M" "status: master_pid"
json_is "$S" .pool.size 3 "status: pool.size is 3"
json_is "$S" '.workers | length' 3 "status: 3 workers"
json_is "$S" '[.workers[].pid] | sort | map(tostring) | join(" ")' "$(worker_pids | tr '\n' ' ' | sed 's/ $//')" \
	"status: the worker pids are the corad-worker children"
# nginx sends /status to the status child: no worker serves it.
json_is "$S" '[.workers[] | select(.state == "busy")] | length' 0 "status: no busy worker (the status child serves this request)"
json_is "$S" '.processes.status | [.state, .method, .route, .pid]' "[\"busy\",\"GET\",\"/status\",$(children_named corad-status)]" \
	"status: the status child, busy with GET /status"
json_is "$S" '[.workers[] | select(.state == "idle") | [.method, .route, .principal, .correlation_id, .elapsed_seconds] | all(. == null)] | [length, all]' \
	'[3,true]' "status: three idle workers, with method, route, principal, correlation_id, elapsed_seconds null"
json_is "$S" '[.workers[] | (.rss_bytes > 0) and (.requests | type == "number") and (.generation | type == "number")] | all' true \
	"status: every worker has rss_bytes > 0, requests and generation"
json_is "$S" '[.workers[].requests] | add >= 1' true "status: the workers report requests served"
json_is "$S" .processes.stats.pid "$(stats_pids)" "status: processes.stats.pid is the corad-stats child"
json_is "$S" .processes.projector.pid "$(children_named corad-projector)" "status: processes.projector.pid is the corad-projector child"
json_is "$S" '[.processes.stats.rss_bytes, .processes.projector.rss_bytes] | all(. > 0)' true \
	"status: stats and projector rss_bytes > 0"
json_is "$S" '[.processes.stats.state, .processes.projector.state] | all(type == "string")' true \
	"status: stats and projector have a state"
diag "status: $S"

# A slow upload: 300 KB at 100 KB/s, straight through to corad.
json_body $((300 * 1024)) "$T/300k.json"
( curl -s --max-time 30 --limit-rate 100K -o "$T/slow.body" -D "$T/slow.headers" -w '%{http_code}' \
	-H "X-Principal-Id: $P1" -H 'Content-Type: application/json' \
	--data-binary "@$T/300k.json" "$STREAM/actors" >"$T/slow.code" 2>"$T/slow.err" ) </dev/null &
SLOW=$!
EXTRA_PIDS+=("$SLOW")
busy_post() {
	http GET /status
	[[ $(json_value "$HTTP_BODY" '[.workers[] | select(.state == "busy" and .method == "POST")] | length') -ge 1 ]]
}
ok "a worker shows busy with method POST within 3 s" wait_until 3 busy_post
sleep 0.3
http GET /status
S=$HTTP_BODY
ok "the slow upload is still in flight" alive "$SLOW"
A='[.workers[] | select(.state == "busy" and .route == "/actors")]'
W='[.workers[] | select(.state == "busy" and .method == "POST")]'
json_is "$S" "$A | length" 1 "status: exactly one busy worker with route /actors"
json_is "$S" "$W | length" 1 "status: exactly one busy worker with method POST"
json_is "$S" "${W}[0].route" /actors "status: the POST's route is /actors"
json_is "$S" "${W}[0].principal" "$P1" "status: the POST's principal is the caller's"
json_like "$S" "${W}[0].correlation_id" "$UUID_RE" "status: the POST's correlation_id is set"
json_is "$S" "${W}[0].elapsed_seconds > 0" true "status: the POST's elapsed_seconds > 0"
json_is "$S" '[.workers[] | select(.state == "busy" and .route == "/status")] | length' 0 \
	"status: no worker with route /status (the status child serves it)"
json_is "$S" '[.pool.busy, .pool.idle]' '[1,2]' "status: pool.busy 1, pool.idle 2"
SLOW_CID=$(json_value "$S" "${W}[0].correlation_id")
diag "status during the upload: $S"
# For the report: what the POST's slot showed over the rest of the upload.
while alive "$SLOW"; do
	http GET /status
	json_value "$HTTP_BODY" "$W | map([.route, .principal, (.elapsed_seconds * 10 | floor / 10)])" >>"$T/slow-seen"
	sleep 0.25
done
diag "the POST's [route, principal, elapsed] seen while it ran: $(tr '\n' ' ' <"$T/slow-seen" 2>/dev/null)"
wait_exit "$SLOW" 15
if [[ $EXIT_STATUS != timeout ]]; then	# reaped: its pid may be reused
	keep=()
	for p in "${EXTRA_PIDS[@]}"; do [[ $p == "$SLOW" ]] || keep+=("$p"); done
	EXTRA_PIDS=("${keep[@]}")
fi
is "$(cat "$T/slow.code" 2>/dev/null)" 201 "the slow POST /actors finishes with 201"
is "$SLOW_CID" "$(hdr X-Correlation-Id "$(tr -d '\r' <"$T/slow.headers" 2>/dev/null)")" \
	"status: the correlation_id was the request's X-Correlation-Id"
http GET /status
S=$HTTP_BODY
json_is "$S" '[.workers[] | select(.route == "/actors")] | length' 0 "after it finished no worker has route /actors"
json_is "$S" '[.workers[] | select(.state == "busy")] | length' 0 "after it finished no worker is busy"

# --- 8. SIGHUP reload ------------------------------------------------------------
old_workers=$(worker_pids)
json_is "$S" '[.workers[].generation] | unique' '[0]' "status: before the reload every worker is generation 0"
kill -HUP "$M"
reloaded() {
	http GET /status
	[[ $(json_value "$HTTP_BODY" '.pool.size == 3 and (.workers | length == 3) and all(.workers[]; .generation == 1 and .state != "exiting" and .state != "starting")') == true ]]
}
ok "after SIGHUP every worker reaches generation 1 and pool.size is 3 (within 20 s)" wait_until 20 reloaded
S=$HTTP_BODY
new_workers=$(worker_pids)
is "$(comm -12 <(echo "$old_workers") <(echo "$new_workers") | tr '\n' ' ')" "" "every worker was replaced"
reload_is() { scrape r8 && num_eq "$(mval r8 cora_worker_restarts_total '{"reason":"reload"}')" 3; }
wait_until 5 reload_is
num_is "$(mval r8 cora_worker_restarts_total '{"reason":"reload"}')" 3 'cora_worker_restarts_total{reason="reload"} is 3'
num_is "$(mval r8 cora_worker_restarts_total '{"reason":"crash"}')" 1 'cora_worker_restarts_total{reason="crash"} is still 1'
is "$(decreases c5c r8)" "" "across the reload no counter sample decreased or vanished"
num_is "$(msum r8 cora_workers)" 3 "cora_workers sums to 3 after the reload"
nok "no worker crashed besides the one killed" log_has master.child_exited \
	".kind == \"worker\" and .pid != $victim and .signal != null and .signal != \"SIGTERM\" and .signal != \"SIGQUIT\""

# --- 6. database errors (last: a worker meets the restarted server with its old
# connection, which may cost one request a 503) ----------------------------------
scrape d6a
DBE0=$(mval d6a cora_db_errors_total '{}')
pg_down || diag "pg_down failed"
http POST /actors -H "X-Principal-Id: $P1" -H 'Content-Type: application/json' --data-binary '{"name":"No DB"}'
is "$HTTP_STATUS" 503 "PostgreSQL stopped: POST /actors is 503"
json_is "$HTTP_BODY" .detail "Database unavailable" "the 503 body"
dbe_up() { scrape d6b && num_gt "$(mval d6b cora_db_errors_total '{}')" "${DBE0:-0}"; }
wait_until 5 dbe_up
num_cmp "$(mval d6b cora_db_errors_total '{}')" gt "${DBE0:-x}" "cora_db_errors_total increased (was $DBE0)"
pg_up || diag "pg_up failed"
post_ok() {
	[[ $(curl -s -o /dev/null --max-time 5 -w '%{http_code}' -H "X-Principal-Id: $P1" \
		-H 'Content-Type: application/json' --data-binary '{"name":"Back"}' "$BASE/actors") == 201 ]]
}
ok "PostgreSQL back: POST /actors is 201 again within 20 s" wait_until 20 post_ok

# The stats child stopped: /metrics and /status say which is unavailable.
STATS=$(children_named corad-stats)
kill -STOP "$STATS"
http GET /metrics
is "$HTTP_STATUS $(json_value "$HTTP_BODY" .detail)" "503 Metrics unavailable" "stats child stopped: /metrics 503"
http GET /status
is "$HTTP_STATUS $(json_value "$HTTP_BODY" .detail)" "503 Status unavailable" "... /status 503, named"
kill -CONT "$STATS"
http GET /status
is "$HTTP_STATUS" 200 "stats child continued: /status 200"

done_testing
