#!/bin/bash
# The projector's reads of the events after a bookmark (doc/design.md,
# "Projections") keep walking the (transaction_id, position) index after
# the store has grown from empty, without waiting for an ANALYZE of events.
# Prepared, they kept the plan PostgreSQL settled on in the projector's
# first rounds, on an empty table: a sequential scan and a sort, each
# round, until autovacuum's next ANALYZE. The plans are read from the
# auto_explain log.
E2E_DIR=$(dirname "$0")
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/pg.sh"
db_setup

N=20000
# Nothing analyzes events behind the test's back: an ANALYZE would
# invalidate a cached plan and hide the difference.
q "ALTER TABLE events SET (autovacuum_enabled = off)" >/dev/null
q "ALTER ROLE cora_app SET session_preload_libraries = 'auto_explain'" >/dev/null
q "ALTER ROLE cora_app SET auto_explain.log_min_duration = 0" >/dev/null
corad_start DATABASE_URL="$PG_APP_URL" CORA_WORKERS=1 PROJECTION_POLL_INTERVAL_SECONDS=0.1 ||
	bail "corad starts"
pass "corad starts"

LAG="SELECT count(*) FILTER"
BATCH="SELECT position, transaction_id::text"
# More rounds on the empty store than the five custom plans after which
# PostgreSQL may settle on a generic plan for a prepared statement.
counted() { [[ $(grep -cF "Query Text: $LAG" "$PG_DIR/server.log") -ge 20 ]]; }
ok "the projector counts its lag 20 times on the empty store" wait_until 10 counted
is "$(plan_since 0 "$LAG" | grep -c 'Seq Scan on events')" 1 \
	"... where a sequential scan is the plan for it"

# N registrations from one transaction, none of them projected yet.
off=$(pg_log_size)
q "INSERT INTO events (stream_type, stream_id, version, event_type, payload, metadata, occurred_at, event_id)
	SELECT 'Actor', id, 1, 'ActorRegisteredV2',
	       jsonb_build_object('actor_id', id, 'occurred_at', now(), 'kind', 'human'),
	       '{\"command\": \"RegisterActor\"}', now(), gen_random_uuid()
	FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $N)) AS s" >/dev/null
projected() { [[ $(q "SELECT count(*) FROM proj_access_actor_summary") == "$N" ]]; }
ok "the $N events are projected" wait_until 30 projected
sleep 0.5	# rounds after the last batch, with nothing left to read

for read in "the lag count:$LAG" "the batch read:$BATCH"; do
	PLAN=$(plan_since "$off" "${read#*:}")
	like "$PLAN" "events_transaction_position_idx" "${read%%:*} at $N events: the index"
	unlike "$PLAN" 'Seq Scan|Sort' "${read%%:*} at $N events: no sequential scan, no sort"
done

q "ALTER ROLE cora_app RESET ALL" >/dev/null
done_testing
