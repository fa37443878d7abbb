#!/bin/bash
# shellcheck disable=SC2016  # jq programs and SQL in single quotes
# `corad statements` (doc/design.md, "Commands") prints every statement the
# workers' and the projector's sessions prepare, name to SQL: each of them
# prepares on a migrated database as cora_app, and what the sessions of a
# running corad execute, by name, is among what it printed.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

"$CORAD_BIN" statements >"$T/statements.json" 2>"$T/statements.err"
is "$?" 0 "corad statements exits 0"
ok "... and prints a JSON object of two objects, worker and projector" \
	jq -e '(keys == ["projector", "worker"]) and (.worker | type == "object")
		and (.projector | type == "object")' "$T/statements.json"
ok "every value is a non-empty string" \
	jq -e '[.worker[], .projector[]] | all(type == "string" and length > 0)' "$T/statements.json"
nworker=$(jq '.worker | length' "$T/statements.json")
nproj=$(jq '.projector | length' "$T/statements.json")
cmp_ok "$nworker" -ge 20 "the workers' statements: $nworker"
cmp_ok "$nproj" -ge 5 "the projector's statements: $nproj"
is "$(jq -r '.worker.actor_get' "$T/statements.json")" \
	"SELECT e.version, e.event_type, e.payload::text, p.name FROM events e LEFT JOIN actor_profile p ON p.actor_id = \$1 WHERE e.stream_type = 'Actor' AND e.stream_id = \$1 ORDER BY e.version" \
	"actor_get is the text GET /actors/{id} runs"
is "$(wc -c <"$T/statements.err" | tr -d ' ')" 0 "nothing on standard error"

# Each one prepares in one session as cora_app; failures are named. SQL's
# PREPARE takes queries only: the transaction statements, which the
# protocol prepares too, are the rest.
QUERY='test("^(SELECT|INSERT|UPDATE|DELETE|WITH) ")'
is "$(jq -r "[.worker[], .projector[]] | map(select($QUERY | not)) | unique | join(\",\")" \
	"$T/statements.json")" "BEGIN,COMMIT,ROLLBACK" "the statements that are not queries: BEGIN, COMMIT, ROLLBACK"
prepare_all() {	# set
	jq -r --arg set "$1" ".[\$set] | to_entries[] | select(.value | $QUERY) |
		\"PREPARE \\(.key) AS \\(.value);\"" "$T/statements.json" >"$T/prepare-$1.sql"
	psql -qAtX -v ON_ERROR_STOP=1 "$PG_APP_URL" -f "$T/prepare-$1.sql" 2>&1
}
out=$(prepare_all worker)
is "$?|$out" "0|" "every worker statement prepares as cora_app"
out=$(prepare_all projector)
is "$?|$out" "0|" "every projector statement prepares as cora_app"

# What a running corad's sessions execute, by name, is what it printed.
log_statements
serve_db 2
off=$(pg_log_size)
register_name "Listed"
is "$HTTP_STATUS" 201 "POST /actors: 201"
ID=$RID
http GET "/actors/$ID"
is "$HTTP_STATUS" 200 "GET /actors/{id}: 200"
http GET "/actors?limit=5"
is "$HTTP_STATUS" 200 "GET /actors: 200"
http GET "/cautions?limit=5"
is "$HTTP_STATUS" 200 "GET /cautions: 200"
projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary WHERE actor_id = '$ID'") == 1 ]]; }
ok "the projector projected the actor" wait_until 10 projected

# named SESSION SET: the names SESSION executed since off that SET lacks.
unknown() {
	local name
	while read -r name; do
		jq -e --arg set "$2" --arg n "$name" '.[$set] | has($n)' "$T/statements.json" \
			>/dev/null || echo "$name"
	done < <(statements_run "$1" "$off" | sort -u)
}
run=$(statements_run corad-worker "$off" | sort -u | tr '\n' ' ')
cmp_ok "$(wc -w <<<"$run")" -ge 4 "the workers executed prepared statements: $run"
is "$(unknown corad-worker worker)" "" "... every one of them listed under worker"
run=$(statements_run corad-projector "$off" | sort -u | tr '\n' ' ')
cmp_ok "$(wc -w <<<"$run")" -ge 2 "the projector executed prepared statements: $run"
is "$(unknown corad-projector projector)" "" "... every one of them listed under projector"

done_testing
