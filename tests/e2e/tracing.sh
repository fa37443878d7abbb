#!/bin/bash
# Tracing against a real PostgreSQL: the W3C traceparent
# from the proxy becomes the correlation id, the log lines' trace fields and
# the stored events' correlation_id; the spans (a SERVER span per request,
# an INTERNAL span per handler) reach an OTLP/HTTP JSON collector
# (otlp_receiver.py) with the configured headers and service name, or stderr
# with OTEL_EXPORTER=console; malformed traceparents start a new trace; 4xx
# and 5xx set span status ERROR as OTel's HTTP conventions say; a hung or
# dead collector costs dropped spans (cora_spans_dropped_total), never
# request time; OTEL_SAMPLER_RATIO=0 samples nothing but what a sampled
# parent asks for.
#
# The principal reaches corad as in production: nginx's auth_request asks a
# stand-in authentication service, which vouches for the X-Principal-Id sent.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
need_tools python3

RECEIVER=$E2E_DIR/otlp_receiver.py
HEX32_RE='^[0-9a-f]{32}$'
HEX16_RE='^[0-9a-f]{16}$'

# The W3C specification's example traceparent: the proxy's trace and span.
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736
TP_PARENT=00f067aa0ba902b7
TP="00-$TP_TRACE-$TP_PARENT-01"
TP_CID=4bf92f35-77b3-4da6-a3ce-929d0e0e4736
db_setup

nginx_server_auth main
nginx_start || bail "nginx starts"

# --- helpers ----------------------------------------------------------------------

# receiver_start name: an OTLP receiver; sets RPID, RPORT, ROUT (bodies, one
# per line) and RHDR (request headers, one JSON object per line).
receiver_start() {
	local name=$1
	ROUT=$T/otlp-$name.jsonl
	RHDR=$T/otlp-$name.headers.jsonl
	: >"$ROUT"
	python3 "$RECEIVER" --headers "$RHDR" "$T/otlp-$name.port" "$ROUT" \
		</dev/null >"$T/otlp-$name.log" 2>&1 &
	RPID=$!
	EXTRA_PIDS+=("$RPID")
	wait_until 5 test -s "$T/otlp-$name.port" || return 1
	RPORT=$(cat "$T/otlp-$name.port")
}

# all_spans: every span the receiver got, one compact JSON object per line,
# with ._service (the resource's service.name) and .attrs (the attributes
# as a flat object: stringValue or intValue) added.
all_spans() {
	jq -c '
		.resourceSpans[]?
		| ([.resource.attributes[]? | select(.key == "service.name") | .value.stringValue][0]) as $svc
		| .scopeSpans[]?.spans[]?
		| . + {_service: $svc,
		       attrs: ([.attributes[]? | {(.key): (.value.stringValue // .value.intValue // .value.boolValue)}] | add // {})}
	' "$ROUT" 2>/dev/null
}
spans_of() { all_spans | jq -c --arg t "$1" 'select(.traceId == $t)'; }
# has_spans trace-id n: the receiver holds at least n spans of that trace.
has_spans() { [[ $(count_lines "$(spans_of "$1")") -ge $2 ]]; }
span_kind() { jq -c --argjson k "$2" 'select(.kind == $k)' <<<"$1"; }

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# health_burst: 200 GET /health in one curl (one connection to nginx); sets
# BURST_MS and BURST_OK (how many were 200).
health_burst() {
	local f=$T/burst.cfg t0 t1
	if [[ ! -s $f ]]; then
		for _ in $(seq 200); do
			printf 'url = "%s/health"\noutput = "/dev/null"\n' "$BASE"
		done >"$f"
	fi
	t0=$(date +%s%N)
	curl -s --max-time 60 -K "$f" -w '%{http_code}\n' >"$T/burst.codes" 2>/dev/null
	t1=$(date +%s%N)
	BURST_MS=$(((t1 - t0) / 1000000))
	BURST_OK=$(grep -c '^200$' "$T/burst.codes")
}
# median_burst: five bursts (200 requests take tens of ms: one burst is
# noisy); BURST_MS is their median, BURST_OK their total.
median_burst() {
	local ms=() ok=0
	for _ in 1 2 3 4 5; do
		health_burst
		ms+=("$BURST_MS")
		ok=$((ok + BURST_OK))
	done
	BURST_MS=$(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p)
	BURST_OK=$ok
	BURST_ALL="${ms[*]}"
}

# same_id got expected desc: equal and not empty (an absent span must not
# make two empty ids "equal").
same_id() {
	if [[ -n $1 && $1 == "$2" ]]; then
		pass "$3"
	else
		fail "$3" "got:      '$1'" "expected: '$2' (not empty)"
	fi
}

# --- 1, 2: a traceparent from the proxy, spans to an OTLP collector ---------------
receiver_start live || bail "the OTLP receiver starts"
pass "the OTLP receiver starts"
OTLP_ENV=(DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 OTEL_EXPORTER=otlp
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RPORT"
	OTEL_EXPORTER_OTLP_HEADERS="x-test=yes" OTEL_SERVICE_NAME=cora-e2e
	OTEL_EXPORTER_OTLP_TIMEOUT=1000 OTEL_SAMPLER_RATIO=1.0)
corad_start "${OTLP_ENV[@]}" ||
	bail "corad serve starts with OTEL_EXPORTER=otlp"
pass "corad serve starts with OTEL_EXPORTER=otlp"

register_name "Traced" "$P1" -H "traceparent: $TP"
is "$HTTP_STATUS" 201 "POST /actors with a traceparent: 201"
ID=$(json_value "$HTTP_BODY" .actor_id)
is "$(cid)" "$TP_CID" "X-Correlation-Id is the traceparent's trace id as a UUID"
for ev in register_actor.start register_actor.success; do
	S=$(log_select "$ev" ".correlation_id == \"$TP_CID\"")
	is "$(count_lines "$S")" 1 "log: one $ev with that correlation_id"
	json_is "$S" .trace_id "$TP_TRACE" "$ev: trace_id is the traceparent's"
	json_like "$S" .span_id "$HEX16_RE" "$ev: span_id is 16 hex digits"
	json_is "$S" .trace_flags 01 "$ev: trace_flags 01"
done
LOG_SPAN=$(json_value "$(log_select register_actor.success ".correlation_id == \"$TP_CID\"")" .span_id)
is "$(q "SELECT correlation_id FROM events WHERE stream_id = '$ID'")" "$TP_CID" \
	"the stored event's correlation_id is the trace id"

if wait_until 5 has_spans "$TP_TRACE" 2; then
	pass "the receiver got the request's spans within 5 s"
else
	fail "the receiver got the request's spans within 5 s" "bodies: $(head -c 1500 "$ROUT")"
fi
BAD=$(jq -c 'select((has("resourceSpans") and (.resourceSpans | type == "array")) | not)' "$ROUT" 2>&1 || echo "jq failed")
is "$BAD" "" "every body the receiver got is OTLP JSON (resourceSpans)"
json_is "$(head -n 1 "$RHDR")" '."x-test"' yes "OTEL_EXPORTER_OTLP_HEADERS: x-test: yes arrived"
json_is "$(head -n 1 "$RHDR")" '."content-type"' application/json "the export is Content-Type: application/json"
SP=$(spans_of "$TP_TRACE")
is "$(count_lines "$SP")" 2 "two spans for the request (SERVER, INTERNAL)"
SRV=$(span_kind "$SP" 2)
INT=$(span_kind "$SP" 1)
is "$(count_lines "$SRV")" 1 "one SERVER span (kind 2)"
json_is "$SRV" .name "POST /actors" "SERVER span: name POST /actors"
json_is "$SRV" .parentSpanId "$TP_PARENT" "SERVER span: parentSpanId is the traceparent's parent id"
json_like "$SRV" .spanId "$HEX16_RE" "SERVER span: spanId is 16 hex digits"
SRV_ID=$(json_value "$SRV" .spanId)
if [[ $SRV_ID =~ $HEX16_RE && $SRV_ID != "$TP_PARENT" ]]; then
	pass "SERVER span: a span id of its own"
else
	fail "SERVER span: a span id of its own" "spanId '$SRV_ID'"
fi
json_is "$SRV" '.attrs["http.request.method"]' POST "SERVER span: http.request.method POST"
json_is "$SRV" '.attrs["url.path"]' /actors "SERVER span: url.path /actors"
json_is "$SRV" '.attrs["http.route"]' /actors "SERVER span: http.route /actors"
json_is "$SRV" '[.attributes[] | select(.key == "http.response.status_code") | .value]' '[{"intValue":"201"}]' \
	"SERVER span: http.response.status_code 201 (intValue)"
json_is "$SRV" '[.startTimeUnixNano, .endTimeUnixNano] | map(type)' '["string","string"]' \
	"SERVER span: times are strings (int64 in OTLP JSON)"
json_is "$SRV" '(.endTimeUnixNano | tonumber) >= (.startTimeUnixNano | tonumber)' true "SERVER span: ends after it starts"
json_is "$SRV" ._service cora-e2e "resource service.name is OTEL_SERVICE_NAME"
is "$(count_lines "$INT")" 1 "one INTERNAL span (kind 1)"
json_is "$INT" .name access.command.RegisterActor "INTERNAL span: name access.command.RegisterActor"
same_id "$(json_value "$INT" .parentSpanId)" "$SRV_ID" "INTERNAL span: its parent is the SERVER span"
json_is "$INT" '.attrs["cora.bc"]' access "INTERNAL span: cora.bc access"
json_is "$INT" '.attrs["cora.command"]' RegisterActor "INTERNAL span: cora.command RegisterActor"
json_is "$INT" '.attrs["cora.principal_id"]' "$P1" "INTERNAL span: cora.principal_id"
json_is "$INT" '.status.code // 0' 0 "INTERNAL span: status not ERROR on success"
json_is "$INT" ._service cora-e2e "INTERNAL span: same resource"
if [[ -n $LOG_SPAN && ( $LOG_SPAN == "$(json_value "$SRV" .spanId)" || $LOG_SPAN == "$(json_value "$INT" .spanId)" ) ]]; then
	pass "the log line's span_id is one of the request's exported spans"
else
	fail "the log line's span_id is one of the request's exported spans" "log: $LOG_SPAN" \
		"spans: $(json_value "$SRV" .spanId) $(json_value "$INT" .spanId)"
fi

# An unsampled parent (flags 00) is honoured with ratio 1: nothing exported.
UNS_TRACE=$(rand_hex 16)
register_name "Unsampled parent" "$P1" -H "traceparent: 00-$UNS_TRACE-$(rand_hex 8)-00"
is "$HTTP_STATUS" 201 "traceparent with flags 00: 201"
is "$(nodash "$(cid)")" "$UNS_TRACE" "flags 00: the correlation id is still the parent's trace id"
S=$(log_select register_actor.success ".trace_id == \"$UNS_TRACE\"")
json_is "$S" .trace_flags 00 "flags 00: the log line says trace_flags 00"

# --- 3: malformed traceparents start a new trace, quietly ---------------------------
ERRS_BEFORE=$(count_lines "$(jq -c -R 'fromjson? | select(.level == "error")' "$CORAD_LOG")")
register_name "Garbage parent" "$P1" -H "traceparent: garbage"
is "$HTTP_STATUS" 201 "traceparent 'garbage': 201"
G1=$(cid)
like "$G1" "$UUID_RE" "traceparent 'garbage': X-Correlation-Id is a UUID"
register_name "Garbage parent 2" "$P1" -H "traceparent: garbage"
G2=$(cid)
isnt "$G2" "$G1" "traceparent 'garbage': each request gets a fresh correlation id"
UPPER="00-$(tr '[:lower:]' '[:upper:]' <<<"$TP_TRACE")-$(tr '[:lower:]' '[:upper:]' <<<"$TP_PARENT")-01"
register_name "Uppercase parent" "$P1" -H "traceparent: $UPPER"
is "$HTTP_STATUS" 201 "uppercase traceparent: 201"
U1=$(cid)
like "$U1" "$UUID_RE" "uppercase traceparent: X-Correlation-Id is a UUID"
isnt "$U1" "$TP_CID" "uppercase traceparent: the correlation id is not its trace id"
S=$(log_select register_actor.success ".correlation_id == \"$U1\"")
json_is "$S" .trace_id "$(nodash "$U1")" "uppercase traceparent: the log's trace_id is the new trace"
ERRS_AFTER=$(count_lines "$(jq -c -R 'fromjson? | select(.level == "error")' "$CORAD_LOG")")
is "$ERRS_AFTER" "$ERRS_BEFORE" "malformed traceparents log no error line"
if wait_until 5 has_spans "$(nodash "$U1")" 2; then
	SRV=$(span_kind "$(spans_of "$(nodash "$U1")")" 2)
	is "$(json_value "$SRV" 'has("parentSpanId")')" false "uppercase traceparent: the SERVER span is a root"
else
	fail "uppercase traceparent: the new trace is exported"
fi

# --- 4: errors set span status ERROR --------------------------------------------------
T404=$(rand_hex 16)
as "$P1" GET "/actors/$UNKNOWN" -H "traceparent: 00-$T404-$(rand_hex 8)-01"
is "$HTTP_STATUS" 404 "GET an unknown actor: 404"
if wait_until 5 has_spans "$T404" 2; then
	pass "404: spans exported"
else
	fail "404: spans exported" "spans: $(spans_of "$T404")"
fi
SP=$(spans_of "$T404")
SRV=$(span_kind "$SP" 2)
INT=$(span_kind "$SP" 1)
json_is "$INT" .name access.query.GetActor "404: INTERNAL span access.query.GetActor"
json_is "$INT" '.attrs["cora.query"]' GetActor "404: INTERNAL span cora.query GetActor"
json_is "$INT" .status.code 2 "404: INTERNAL span status ERROR"
json_is "$SRV" .name 'GET /actors/{actor_id}' "404: SERVER span name uses the route template"
json_is "$SRV" '.attrs["http.route"]' '/actors/{actor_id}' "404: http.route /actors/{actor_id}"
json_is "$SRV" '.attrs["url.path"]' "/actors/$UNKNOWN" "404: url.path is the real path"
json_is "$SRV" '.attrs["http.response.status_code"]' 404 "404: http.response.status_code 404"
json_is "$SRV" '.status.code // 0' 0 "404: SERVER span status stays UNSET (a 4xx is the client's error)"

if pg_down; then pass "PostgreSQL stopped"; else fail "PostgreSQL stopped"; fi
T503=$(rand_hex 16)
register_name "During outage" "$P1" -H "traceparent: 00-$T503-$(rand_hex 8)-01"
is "$HTTP_STATUS" 503 "POST /actors without a database: 503"
if pg_up; then pass "PostgreSQL restarted"; else fail "PostgreSQL restarted"; fi
if wait_until 5 has_spans "$T503" 1; then
	pass "503: spans exported"
else
	fail "503: spans exported" "spans: $(all_spans | tail -n 3)"
fi
SP=$(spans_of "$T503")
SRV=$(span_kind "$SP" 2)
INT=$(span_kind "$SP" 1)
json_is "$SRV" .status.code 2 "503: SERVER span status ERROR"
json_is "$SRV" '.attrs["http.response.status_code"]' 503 "503: http.response.status_code 503"
json_is "$INT" .status.code 2 "503: INTERNAL span status ERROR"

# --- 6: a hung or dead collector costs no request time ---------------------------------
# within_live what ms: a burst took at most 1.5x the live median plus 250 ms
# of slack for a loaded machine; waiting for the exporter even once per
# burst would cost OTEL_EXPORTER_OTLP_TIMEOUT (1000 ms).
within_live() {
	local desc="$1 collector: 200 requests within 1.5x the time with a live one (+250 ms)"
	if [[ $(($2 * 2)) -le $((LIVE_MS * 3 + 500)) ]]; then
		pass "$desc"
	else
		fail "$desc" "live $LIVE_MS ms, $1 $2 ms"
	fi
}
median_burst
LIVE_MS=$BURST_MS
is "$BURST_OK" 1000 "live collector: 5 x 200 GET /health all 200"
diag "live collector: 200 GET /health took ${BURST_ALL// / ms, } ms (median $LIVE_MS ms)"
# Hung first (it accepts connections, never answers: every export waits
# for OTEL_EXPORTER_OTLP_TIMEOUT), then dead (connections refused).
kill -STOP "$RPID"
median_burst
HUNG_MS=$BURST_MS
is "$BURST_OK" 1000 "hung collector: 5 x 200 GET /health all 200"
diag "hung collector: 200 GET /health took ${BURST_ALL// / ms, } ms (median $HUNG_MS ms)"
within_live "hung" "$HUNG_MS"
{ kill -KILL "$RPID"; wait "$RPID"; } 2>/dev/null
ok "the receiver is gone" eval '! alive '"$RPID"
DROPPED_BEFORE=$(metric cora_spans_dropped_total)
median_burst
DEAD_MS=$BURST_MS
is "$BURST_OK" 1000 "dead collector: 5 x 200 GET /health all 200"
diag "dead collector: 200 GET /health took ${BURST_ALL// / ms, } ms (median $DEAD_MS ms)"
within_live "dead" "$DEAD_MS"
dropped_positive() {
	local v
	v=$(metric cora_spans_dropped_total)
	[[ $v =~ ^[0-9]+$ && $v -gt 0 ]]
}
if wait_until 5 dropped_positive; then
	pass "GET /metrics: cora_spans_dropped_total > 0 once the collector is gone"
else
	fail "GET /metrics: cora_spans_dropped_total > 0 once the collector is gone" \
		"before: '$DROPPED_BEFORE', now: '$(metric cora_spans_dropped_total)'"
fi
DROPPED=$(metric cora_spans_dropped_total)
NFAIL=$(log_count export.failed)
cmp_ok "$NFAIL" -ge 1 "export.failed is logged"
cmp_ok "$NFAIL" -lt "${DROPPED:-0}" "export.failed is logged per batch, not per span ($NFAIL lines, $DROPPED spans)"
json_like "$(log_select export.failed | head -n 1)" .endpoint "^http://127\\.0\\.0\\.1:$RPORT/v1/traces\$" \
	"export.failed names the endpoint (ENDPOINT + /v1/traces)"
nok "no worker crashed" log_has master.child_exited

# --- 5: OTEL_EXPORTER=console --------------------------------------------------------------
corad_stop TERM
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 OTEL_EXPORTER=console OTEL_SERVICE_NAME=cora-e2e ||
	bail "corad serve starts with OTEL_EXPORTER=console"
pass "corad serve starts with OTEL_EXPORTER=console"
TC=$(rand_hex 16)
register_name "Console" "$P1" -H "traceparent: 00-$TC-$(rand_hex 8)-01"
is "$HTTP_STATUS" 201 "console: POST /actors 201"
console_spans() {
	jq -c -R --arg t "$TC" 'fromjson? | select(type == "object" and has("trace_id") and has("span_id") and has("kind")) | select(.trace_id == $t)' \
		"$CORAD_LOG" 2>/dev/null
}
console_has_two() { [[ $(count_lines "$(console_spans)") -ge 2 ]]; }
if wait_until 5 console_has_two; then
	pass "console: the request's span lines are on stderr"
else
	fail "console: the request's span lines are on stderr" "$(tail -n 5 "$CORAD_LOG")"
fi
CS=$(console_spans)
C_SRV=$(jq -c 'select(.kind == "SERVER")' <<<"$CS")
C_INT=$(jq -c 'select(.kind == "INTERNAL")' <<<"$CS")
json_is "$C_SRV" .name "POST /actors" "console: SERVER span line"
json_like "$C_SRV" .span_id "$HEX16_RE" "console: span_id is 16 hex digits"
json_is "$C_SRV" .trace_flags 01 "console: trace_flags 01"
json_is "$C_SRV" '.resource["service.name"]' cora-e2e "console: resource service.name"
json_like "$C_SRV" .start_time '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$' "console: start_time RFC 3339 with microseconds"
json_is "$C_INT" .name access.command.RegisterActor "console: INTERNAL span line"
same_id "$(json_value "$C_INT" .parent_span_id)" "$(json_value "$C_SRV" .span_id)" "console: INTERNAL's parent is the SERVER span"
json_is "$C_INT" '.attributes["cora.command"]' RegisterActor "console: cora.command attribute"

# --- 7: OTEL_SAMPLER_RATIO=0: parent-based ------------------------------------------------
corad_stop TERM
receiver_start ratio0 || bail "a second OTLP receiver starts"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 OTEL_EXPORTER=otlp \
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$RPORT/v1/traces" \
	OTEL_SERVICE_NAME=cora-e2e OTEL_SAMPLER_RATIO=0 ||
	bail "corad serve starts with OTEL_SAMPLER_RATIO=0"
pass "corad serve starts with OTEL_SAMPLER_RATIO=0"
register_name "Not sampled" "$P1"
is "$HTTP_STATUS" 201 "ratio 0, no traceparent: 201"
R0=$(cid)
like "$R0" "$UUID_RE" "ratio 0: X-Correlation-Id is still a UUID"
S=$(log_select register_actor.success ".correlation_id == \"$R0\"")
json_like "$S" .trace_id "$HEX32_RE" "ratio 0: the log line still carries trace_id (32 hex digits)"
json_is "$S" .trace_id "$(nodash "$R0")" "ratio 0: trace_id is the correlation id's hex"
json_is "$S" .trace_flags 00 "ratio 0: trace_flags 00"
http GET /health
R0H=$(cid)
TS=$(rand_hex 16)
register_name "Sampled parent" "$P1" -H "traceparent: 00-$TS-$(rand_hex 8)-01"
is "$HTTP_STATUS" 201 "ratio 0, sampled traceparent: 201"
if wait_until 5 has_spans "$TS" 2; then
	pass "ratio 0: a sampled parent's spans are exported (parent-based)"
else
	fail "ratio 0: a sampled parent's spans are exported (parent-based)" "bodies: $(head -c 800 "$ROUT")"
fi
is "$(count_lines "$(spans_of "$(nodash "$R0")")")" 0 "ratio 0: nothing exported for the unsampled POST"
is "$(count_lines "$(spans_of "$(nodash "$R0H")")")" 0 "ratio 0: nothing exported for the unsampled GET /health"
is "$(all_spans | jq -r .traceId | sort -u | tr -d '\n')" "$TS" "ratio 0: the sampled trace is the only one exported"
nok "no worker crashed" log_has master.child_exited
{ kill -KILL "$RPID"; wait "$RPID"; } 2>/dev/null

done_testing
