#!/bin/bash
# The shipped alerting rules and Grafana dashboard: `promtool check rules`
# and `promtool test rules` pass on deploy/prometheus/; every query of
# deploy/grafana/corad-dashboard.json is valid PromQL (checked by promtool as
# recording rules); and every metric the rules and the dashboard name is one
# corad exposes on /metrics (a live scrape), so a renamed series cannot
# leave a dashboard blank or an alert silent.
. "$(dirname "$0")/lib.sh"
need_tools promtool

RULES=$CORAD_SRCDIR/deploy/prometheus/corad-alerts.yml
RULES_TEST=$CORAD_SRCDIR/deploy/prometheus/corad-alerts.test.yml
DASH=$CORAD_SRCDIR/deploy/grafana/corad-dashboard.json

out=$(promtool check rules "$RULES" 2>&1)
ok "promtool check rules corad-alerts.yml" promtool check rules "$RULES"
like "$out" 'SUCCESS: 8 rules found' "eight alerting rules: $(grep -c 'alert:' "$RULES") alerts"
out=$(cd "$(dirname "$RULES_TEST")" && promtool test rules "$(basename "$RULES_TEST")" 2>&1)
if [[ $? -eq 0 ]]; then
	pass "promtool test rules corad-alerts.test.yml: every alert fires on its case, not on the others"
else
	fail "promtool test rules corad-alerts.test.yml" "$out"
fi
is "$(awk '$1 == "alertname:" { print $2 }' "$RULES_TEST" | sort -u | tr '\n' ' ')" \
	"$(awk '$2 == "alert:" { print $3 }' "$RULES" | sort -u | tr '\n' ' ')" \
	"the unit tests cover every alert"

# --- the dashboard --------------------------------------------------------------
ok "corad-dashboard.json is JSON" jq -e . "$DASH"
json_is "$(cat "$DASH")" '[.uid, (.panels | length > 0), ([.panels[] | .targets | length > 0] | all)]' \
	'["corad",true,true]' "the dashboard has a uid and panels, each with a query"
# Grafana's variables replaced by what they would hold; each query becomes a
# recording rule that promtool parses.
jq -r '.panels[].targets[].expr' "$DASH" |
	sed -e 's/\$__rate_interval/5m/g' -e 's/\$job/corad/g' -e 's/\$instance/.*/g' >"$T/exprs"
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	n=0
	while IFS= read -r e; do
		n=$((n + 1))
		printf '      - record: dashboard:query%d\n        expr: %s\n' "$n" "$(jq -Rn --arg e "$e" '$e')"
	done <"$T/exprs"
} >"$T/dashboard-rules.yml"
out=$(promtool check rules "$T/dashboard-rules.yml" 2>&1)
if [[ $? -eq 0 ]]; then
	pass "every dashboard query is valid PromQL ($(count_lines "$(cat "$T/exprs")") queries)"
else
	fail "every dashboard query is valid PromQL" "$out"
fi

# --- the metrics they name exist ---------------------------------------------------
nginx_server main
nginx_start || bail "nginx starts"
corad_start CORA_WORKERS=1 || bail "corad starts (no database needed for /metrics)"
http GET /health
# A worker hands its records to the stats child once idle (within 250 ms):
# the status child's scrape counts them from then on.
counted() { http GET /metrics && grep -q '^http_requests_total' <<<"$HTTP_BODY"; }
ok "GET /metrics counts the requests within 2 s" wait_until 2 counted
is "$HTTP_STATUS" 200 "GET /metrics: 200"
awk '!/^#/ && NF { sub(/[{ ].*/, ""); print }' <<<"$HTTP_BODY" | sort -u >"$T/exposed"
cat "$RULES" "$DASH" | grep -oE '\b(http|cora|process)_[a-z_]+' | sort -u >"$T/named"
missing=$(comm -23 "$T/named" "$T/exposed")
is "$missing" "" "every metric the alerts and the dashboard name is on /metrics ($(count_lines "$(cat "$T/named")") names)"

done_testing
