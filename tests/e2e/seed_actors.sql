-- seed_actors.sql: :n actors straight into the store, already projected,
-- as corad would have written them: actor i has the UUID
-- <i as 8 hex digits>-0000-7000-8000-<i as 12 hex digits>, the name
-- "Actor i", was registered at 2026-01-01 00:00:00 UTC plus i ms, and every
-- even-numbered one is deactivated. Used by tests/e2e/scale.sh and
-- bench/run (psql -v n=N -f seed_actors.sql, as the superuser).
BEGIN;
CREATE TEMP TABLE seed AS
  SELECT i, (lpad(to_hex(i), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS id,
         timestamptz '2026-01-01 00:00:00+00' + i * interval '1 ms' AS at
  FROM generate_series(1, :n) AS i;
INSERT INTO events (stream_type, stream_id, version, event_type, payload, metadata, occurred_at, event_id)
  SELECT 'Actor', id, 1, 'ActorRegisteredV2',
         jsonb_build_object('actor_id', id, 'occurred_at', at, 'kind', 'human'),
         '{"command": "RegisterActor"}', at, gen_random_uuid() FROM seed;
INSERT INTO events (stream_type, stream_id, version, event_type, payload, metadata, occurred_at, event_id)
  SELECT 'Actor', id, 2, 'ActorDeactivated', jsonb_build_object('actor_id', id, 'occurred_at', at),
         '{"command": "DeactivateActor"}', at, gen_random_uuid() FROM seed WHERE i % 2 = 0;
INSERT INTO actor_profile (actor_id, name, created_at, updated_at)
  SELECT id, 'Actor ' || i, at, at FROM seed;
INSERT INTO proj_access_actor_summary (actor_id, name, kind, status, created_at, updated_at, last_position)
  SELECT id, 'Actor ' || i, 'human', CASE WHEN i % 2 = 0 THEN 'deactivated' ELSE 'active' END, at, at, i
  FROM seed;
-- Every projection's bookmark at the last event, the caution projection's
-- too (the projector adds its row on its first start): none has anything
-- left to read.
INSERT INTO projection_bookmarks (projection_name, last_transaction_id, last_position)
  SELECT p.name, e.transaction_id, e.position
  FROM (VALUES ('access_actor_summary'), ('proj_caution_summary')) AS p (name),
       (SELECT transaction_id, position FROM events
        ORDER BY transaction_id DESC, position DESC LIMIT 1) AS e
  ON CONFLICT (projection_name) DO UPDATE
  SET last_transaction_id = EXCLUDED.last_transaction_id, last_position = EXCLUDED.last_position;
COMMIT;
ANALYZE;
