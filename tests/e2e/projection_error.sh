#!/bin/bash
# A projection statement that fails (doc/design.md, "Projections"): the
# batch it was part of is rolled back whole, events applied before it in
# the same batch included; projection.error names the projection, the
# statement and the server's message; that projection backs off and tries
# again, never passing the event, while the others go on, and
# cora_projection_lag_events counts what waits behind it; once the cause
# is gone every event is projected, exactly once. /status and the log say
# what a projector held up in a statement is doing, and a stop does not
# wait for that statement.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
. "$E2E_DIR/lib_access.sh"
db_setup

serve_db 2

bookmark() {
	q "SELECT last_position FROM projection_bookmarks WHERE projection_name = 'access_actor_summary'"
}
listed() { q "SELECT count(*) FROM proj_access_actor_summary WHERE name = '$1'"; }
listed_once() { [[ $(listed "$1") == 1 ]]; }

register_name "Earlier" || bail "register an actor"
ok "an actor is listed" wait_until 5 listed_once Earlier

# The projection table refuses one name from now on.
q "ALTER TABLE proj_access_actor_summary ADD CONSTRAINT no_poison CHECK (name <> 'Poison')" >/dev/null
PROJECTOR=$(children_named corad-projector)
is "$(count_lines "$PROJECTOR")" 1 "one projector"
# Stopped while three actors are registered, so that one batch holds all
# three: the one before the refused event is applied first.
kill -STOP "$PROJECTOR"
for name in Before Poison After; do
	register_name "$name" || fail "register $name: 201" "$HTTP_STATUS $HTTP_BODY"
done
POISON_POS=$(q "SELECT position FROM events e JOIN actor_profile p ON p.actor_id = e.stream_id
	WHERE p.name = 'Poison'")
BOOKMARK=$(bookmark)
cmp_ok "$BOOKMARK" -lt "$POISON_POS" "the bookmark is before the refused event"
kill -CONT "$PROJECTOR"

failed() { log_has projection.error '.statement == "access_registered"'; }
ok "projection.error is logged for the refused statement" wait_until 5 failed
LINE=$(log_select projection.error '.statement == "access_registered"' | head -n 1)
json_is "$LINE" .projection access_actor_summary "projection.error names the projection"
json_like "$LINE" .error 'no_poison' "projection.error carries the server's message"
ok "projection.backoff is logged" wait_until 3 log_has projection.backoff
sleep 1.5	# at least one more attempt (the backoff starts at 1 s)
cmp_ok "$(log_count projection.error '.statement == "access_registered"')" -ge 2 \
	"the projector tried the batch again"
is "$(bookmark)" "$BOOKMARK" "the bookmark has not moved"
is "$(listed Before) $(listed Poison) $(listed After)" "0 0 0" \
	"nothing of the batch is projected, not even the event applied before the refused one"
is "$(q "SELECT count(*) FROM proj_access_actor_summary WHERE last_position > $BOOKMARK")" 0 \
	"no projected row is past the bookmark"
is "$(children_named corad-projector)" "$PROJECTOR" "the same projector is still running"
# The other projection goes on meanwhile: the cautions' bookmark moves past
# the same events (it reads every type), where the failing one stays.
caution_past() { [[ $(q "SELECT last_position FROM projection_bookmarks
	WHERE projection_name = 'proj_caution_summary'") == "$(q "SELECT max(position) FROM events")" ]]; }
ok "the caution projection is not held up by the failing one" wait_until 5 caution_past
ok "projection.backoff names the failing projection" \
	log_has projection.backoff '.projection == "access_actor_summary"'
is "$(metric cora_projection_lag_events)" 3 \
	"cora_projection_lag_events counts the three events the failing batch holds"

q "ALTER TABLE proj_access_actor_summary DROP CONSTRAINT no_poison" >/dev/null
all_listed() { listed_once Before && listed_once Poison && listed_once After; }
ok "once the constraint is gone all three are listed, once each, within 5 s" wait_until 5 all_listed
caught_up() { [[ $(bookmark) == "$(q "SELECT max(position) FROM events")" ]]; }
ok "the bookmark reaches the last event" wait_until 3 caught_up
is "$(q "SELECT count(*) FROM proj_access_actor_summary")" 4 "four actors projected"
lag_zero() { [[ $(metric cora_projection_lag_events) == 0 ]]; }
ok "cora_projection_lag_events is back to 0" wait_until 3 lag_zero
is "$(q "SELECT count(*) FROM proj_access_actor_summary s JOIN actor_profile p USING (actor_id)
	WHERE s.name = p.name AND s.status = 'active'")" 4 "each with its name, active"

# --- what the projector is doing -----------------------------------------------------------
ok "another session locks the projection table" hold_lock proj_access_actor_summary EXCLUSIVE
register_name "During the lock" || fail "register an actor: 201" "$HTTP_STATUS $HTTP_BODY"
ok "the projector's batch waits for the lock" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"' AND wait_event_type = '"'Lock'"'") -ge 1 ]]'
http GET /status
PROJ=$(jq -c .processes.projector <<<"$HTTP_BODY")
json_is "$PROJ" '[.state, .doing]' '["busy","projecting access_actor_summary"]' \
	"/status: the projector is busy projecting access_actor_summary"
json_is "$PROJ" '.elapsed_seconds > 0' true "/status: and for how long"
ok "cora_projector_busy_seconds counts the step" \
	awk -v v="$(metric cora_projector_busy_seconds)" 'BEGIN { exit !(v > 0) }'
stalled() { log_has projector.stalled '.doing == "projecting access_actor_summary"'; }
ok "a step busy for 10 s is logged as projector.stalled" wait_until 15 stalled
LINE=$(log_select projector.stalled | head -n 1)
json_is "$LINE" '[.level, .pid]' "[\"warning\",$(children_named corad-projector)]" \
	"projector.stalled is a warning with the projector's pid"
cmp_ok "$(jq '.elapsed_seconds | floor' <<<"$LINE")" -ge 10 "projector.stalled gives the time it has been busy"
sleep 1.5
is "$(log_count projector.stalled)" 1 "projector.stalled is logged once for one step"
release_holder
ok "once the lock is gone the actor is listed" wait_until 5 listed_once "During the lock"
idle() { http GET /status; [[ $(jq -r .processes.projector.state <<<"$HTTP_BODY") == idle ]]; }
ok "/status: the projector is idle again" wait_until 3 idle
json_is "$(jq -c .processes.projector <<<"$HTTP_BODY")" '[.doing, .elapsed_seconds]' '[null,null]' \
	"/status: an idle projector is doing nothing"
busy_zero() { [[ $(metric cora_projector_busy_seconds) == 0.000 ]]; }
ok "cora_projector_busy_seconds is 0 while it waits" wait_until 3 busy_zero

nok "no child crashed" log_has master.child_exited

# --- a stop while a statement waits -------------------------------------------------------
# Told to stop, the projector ends the step it is in; one still waiting for
# a lock after 1 s is abandoned, its batch rolled back, rather than waited
# for until the graceful timeout (30 s by default).
ok "another session locks the projection table again" hold_lock proj_access_actor_summary EXCLUSIVE
register_name "Before the stop" || fail "register an actor: 201" "$HTTP_STATUS $HTTP_BODY"
ok "the projector's batch waits for the lock again" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"' AND wait_event_type = '"'Lock'"'") -ge 1 ]]'
PROJECTOR=$(children_named corad-projector)
t0=$(now_ms)
corad_stop TERM 40
ms=$(($(now_ms) - t0))
is "$EXIT_STATUS" 0 "SIGTERM while the projector waits for a lock: exit 0"
cmp_ok "$ms" -lt 6000 "... within the projector's 1 s grace, not the graceful timeout (${ms} ms)"
LINE=$(log_select master.child_exited '.kind == "projector"')
json_is "$LINE" '[.level, .pid, .exit_code, .signal, .doing]' \
	"[\"warning\",$PROJECTOR,1,null,\"projecting access_actor_summary\"]" \
	"master.child_exited: the projector abandoned the step it was in"
# The server notices the projector gone while the lock still holds its
# statement: the batch is rolled back and the session ends.
ok "... its session ends while the lock is still held" wait_until 5 eval \
	'[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'corad-projector'"'") == 0 ]]'
is "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" 0 "... and the lead released"
release_holder
# A batch that had lived on would commit now that the lock is free.
sleep 1
is "$(listed "Before the stop")" 0 "... its batch rolled back"
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=2 || bail "corad serve starts again"
ok "started again, the projector lists the actor" wait_until 5 listed_once "Before the stop"
done_testing
