-- The restricted role corad's workers use (doc/design.md, "The event
-- store"). Created without a password: operators set one
-- (ALTER ROLE cora_app PASSWORD '...').
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cora_app') THEN
        CREATE ROLE cora_app LOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO cora_app;

-- History: read and append, nothing else.
GRANT SELECT, INSERT ON events, entries_access_verdicts TO cora_app;
REVOKE UPDATE, DELETE, TRUNCATE ON events, entries_access_verdicts FROM cora_app;
GRANT USAGE ON SEQUENCE events_position_seq TO cora_app;

-- Working state: full DML.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON idempotency_keys, projection_bookmarks, proj_access_actor_summary, actor_profile
    TO cora_app;

-- Readiness and gate 4 read which migrations are applied.
GRANT SELECT ON corad_schema_migrations TO cora_app;
