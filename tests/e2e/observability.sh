#!/bin/bash
# Metrics and status against a real PostgreSQL (SPEC sections 1 and 11):
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
# lib.sh's cleanup ends with `exit`: stop PostgreSQL first, keeping the status.
obs_cleanup() {
	local rc=$?
	pg_stop
	(exit "$rc")
	cleanup
}
trap obs_cleanup EXIT
need_tools psql shuf

# value as a number where it is one).

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
