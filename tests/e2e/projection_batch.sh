#!/bin/bash
# Batched projection statements (doc/design.md, "Projections"): the
# registrations that follow each other in a batch are inserted by one
# statement whose parameters are arrays, one element per event. Text from
# stored events reaches the rows exactly as it was, quotes, backslashes,
# braces and the word NULL included; the events keep their order inside
# the statement, and around a statement that is not batched.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

log_statements
serve_db 1 LOG_LEVEL=DEBUG
PROJECTOR=$(children_named corad-projector)
is "$(count_lines "$PROJECTOR")" 1 "one projector"
ok "the projector leads" wait_until 5 log_has projection.leader
# executions OFFSET STATEMENT: how often the projector executed it.
executions() { statements_run corad-projector "$1" | grep -cx "$2"; }

# Text no literal may break: every character an array literal treats
# specially, and the word NULL.
HOSTILE=(
	'say "hi"'
	'back\slash\'
	'{brace},comma'
	'NULL'
	'"'
	'tab	and Zoë 😀'
	''
)
mapfile -t IDS < <(q "SELECT gen_random_uuid() FROM generate_series(1, ${#HOSTILE[@]})")
X=$(q "SELECT gen_random_uuid()")
Y=$(q "SELECT gen_random_uuid()")
Z=$(q "SELECT gen_random_uuid()")
C=$(q "SELECT gen_random_uuid()")

# event STREAM_TYPE ID VERSION TYPE PAYLOAD-SQL: one INSERT of an event.
event() {
	echo "INSERT INTO events (stream_type, stream_id, version, event_type, schema_version,
		payload, metadata, occurred_at, event_id)
		VALUES ('$1', '$2', $3, '$4', 1, $5, '{}', now(), gen_random_uuid());"
}
{
	echo "BEGIN;"
	# Legacy registrations: the name is the payload's (no profile row).
	for i in "${!HOSTILE[@]}"; do
		event Actor "${IDS[$i]}" 1 ActorRegistered \
			"jsonb_build_object('actor_id', '${IDS[$i]}', 'name', \$h\$${HOSTILE[$i]}\$h\$)"
	done
	# X registered twice: the first event wins (human, not service_account).
	event Actor "$X" 1 ActorRegistered "jsonb_build_object('actor_id', '$X', 'name', 'X')"
	event Actor "$X" 2 ActorRegisteredV2 \
		"jsonb_build_object('actor_id', '$X', 'name', 'X2', 'kind', 'service_account')"
	# Y registered then deactivated, then Z registered: three statements.
	event Actor "$Y" 1 ActorRegisteredV2 "jsonb_build_object('actor_id', '$Y', 'name', 'Y', 'kind', 'human')"
	event Actor "$Y" 2 ActorDeactivated "jsonb_build_object('actor_id', '$Y')"
	event Actor "$Z" 1 ActorRegisteredV2 "jsonb_build_object('actor_id', '$Z', 'name', 'Z', 'kind', 'human')"
	# A caution whose text and tags hold the same characters.
	event Caution "$C" 1 CautionRegistered "jsonb_build_object('caution_id', '$C',
		'target', jsonb_build_object('kind', 'Asset', 'id', '0190b000-0000-7000-8000-000000000001'),
		'category', 'Wear', 'severity', 'Caution', 'text', \$h\$${HOSTILE[0]} ${HOSTILE[1]}\$h\$,
		'workaround', \$h\$${HOSTILE[2]}\$h\$, 'authored_by', '0190c000-0000-7000-8000-000000000001',
		'tags', jsonb_build_array(\$h\$${HOSTILE[0]}\$h\$, \$h\$${HOSTILE[1]}\$h\$, 'NULL', '{x}'),
		'expires_at', NULL, 'propagate_to_children', false, 'parent_id', NULL,
		'occurred_at', '2026-01-01T00:00:00+00:00')"
	echo "COMMIT;"
} >"$T/events.sql"
# Stopped while the events commit, so that one batch reads them all.
kill -STOP "$PROJECTOR"
off=$(pg_log_size)
ok "the events commit in one transaction" psql -qAtX -v ON_ERROR_STOP=1 "$DB" -f "$T/events.sql"
kill -CONT "$PROJECTOR"
N=$((${#HOSTILE[@]} + 3))
all_in() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary") == "$N" ]]; }
ok "all $N actors are projected" wait_until 10 all_in
ok "the projection advanced in one batch of $((N + 2)) actor events" \
	log_has projection.advance ".projection == \"access_actor_summary\" and .batch_size == $((N + 2))"
is "$(executions "$off" access_registered)|$(executions "$off" access_deactivated)" "2|1" \
	"... the registrations before the deactivation in one execution, Z's in another"

for i in "${!HOSTILE[@]}"; do
	is "$(q "SELECT name FROM proj_access_actor_summary WHERE actor_id = '${IDS[$i]}'")" "${HOSTILE[$i]}" \
		"the name $(jq -Rn --arg s "${HOSTILE[$i]}" '$s') is projected as it was stored"
done
is "$(q "SELECT name || ' ' || kind FROM proj_access_actor_summary WHERE actor_id = '$X'")" "X human" \
	"two registrations of one actor in one batch: the first one's"
is "$(q "SELECT status FROM proj_access_actor_summary WHERE actor_id = '$Y'")" deactivated \
	"registered, then deactivated in the same batch: deactivated"
is "$(q "SELECT status FROM proj_access_actor_summary WHERE actor_id = '$Z'")" active \
	"registered after that: active"
# Through the API too: the list reads this table alone.
http GET "/actors?limit=100"
is "$HTTP_STATUS" 200 "GET /actors: 200"
json_is "$HTTP_BODY" "[.items[] | select(.actor_id == \"${IDS[0]}\" or .actor_id == \"${IDS[1]}\") | .name] | sort" \
	"$(jq -cn --arg a "${HOSTILE[0]}" --arg b "${HOSTILE[1]}" '[$a, $b] | sort')" \
	"... with those names, as they were stored"

caution_in() { [[ $(q "SELECT count(*) FROM proj_caution_summary WHERE caution_id = '$C'") == 1 ]]; }
ok "the caution is projected" wait_until 10 caution_in
is "$(q "SELECT text || '|' || workaround FROM proj_caution_summary WHERE caution_id = '$C'")" \
	"${HOSTILE[0]} ${HOSTILE[1]}|${HOSTILE[2]}" "its text and workaround as they were stored"
is "$(q "SELECT array_to_json(tags) FROM proj_caution_summary WHERE caution_id = '$C'")" \
	"$(jq -cn --arg a "${HOSTILE[0]}" --arg b "${HOSTILE[1]}" '["NULL", $b, $a, "{x}"]')" \
	"its tags as they were stored, in code-point order, \"NULL\" a string"
http GET "/cautions?limit=100"
json_is "$HTTP_BODY" "[.items[] | select(.caution_id == \"$C\") | .tags]" \
	"$(jq -cn --arg a "${HOSTILE[0]}" --arg b "${HOSTILE[1]}" '[["NULL", $b, $a, "{x}"]]')" \
	"GET /cautions lists those tags"

nok "no projection.error" log_has projection.error
q "ALTER ROLE cora_app RESET ALL" >/dev/null
done_testing
