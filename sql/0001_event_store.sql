-- The append-only event store (doc/design.md, "The event store").
-- Column-compatible with the original service, so either implementation can
-- serve the other's database.

CREATE TABLE events (
    position        bigserial   PRIMARY KEY,
    stream_type     text        NOT NULL,
    stream_id       uuid        NOT NULL,
    version         integer     NOT NULL CHECK (version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    correlation_id  uuid,
    causation_id    uuid,
    principal_id    uuid,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    event_id        uuid        NOT NULL UNIQUE,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_type, stream_id, version)
);

-- The projector reads in (transaction_id, position) order.
CREATE INDEX events_transaction_position_idx ON events (transaction_id, position);
CREATE INDEX events_correlation_id_idx ON events (correlation_id);
CREATE INDEX events_event_type_idx ON events (event_type);

-- Wake projectors: LISTEN events.
CREATE FUNCTION events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events', json_build_object(
        'position', NEW.position,
        'stream_type', NEW.stream_type,
        'stream_id', NEW.stream_id,
        'event_type', NEW.event_type)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_after_insert
    AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_notify();

-- Immutability: even a role that was granted UPDATE or DELETE by mistake
-- cannot rewrite history. (The app role has no such grants at all.)
CREATE FUNCTION forbid_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_rewrite();
