-- The Access bounded context: personal data kept outside the event stream,
-- the authorization verdict journal and the actor list projection.

-- Names live here, not in events, so that forgetting an actor erases them.
CREATE TABLE actor_profile (
    actor_id    uuid        PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every authorization decision on a command, append-only like events.
CREATE TABLE entries_access_verdicts (
    event_id        uuid        PRIMARY KEY,
    principal_id    uuid        NOT NULL,
    command_name    text        NOT NULL,
    decision        text        NOT NULL CHECK (decision IN ('allow', 'deny')),
    reason          text        NOT NULL,
    correlation_id  uuid,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX entries_access_verdicts_principal_idx
    ON entries_access_verdicts (principal_id, occurred_at);

CREATE TRIGGER entries_access_verdicts_append_only
    BEFORE UPDATE OR DELETE ON entries_access_verdicts
    FOR EACH ROW EXECUTE FUNCTION forbid_rewrite();

CREATE TRIGGER entries_access_verdicts_no_truncate
    BEFORE TRUNCATE ON entries_access_verdicts
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_rewrite();

-- GET /actors reads this projection, kept by the projector child. The name is
-- copied from actor_profile when the actor is projected and overwritten when
-- the profile is forgotten.
CREATE TABLE proj_access_actor_summary (
    actor_id    uuid        PRIMARY KEY,
    name        text        NOT NULL,
    kind        text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('active', 'deactivated')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    last_position bigint    NOT NULL
);

CREATE INDEX proj_access_actor_summary_order_idx
    ON proj_access_actor_summary (created_at, actor_id);
CREATE INDEX proj_access_actor_summary_status_idx
    ON proj_access_actor_summary (status, created_at, actor_id);

CREATE TABLE projection_bookmarks (
    projection_name     text        PRIMARY KEY,
    last_transaction_id xid8        NOT NULL DEFAULT '0'::xid8,
    last_position       bigint      NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

INSERT INTO projection_bookmarks (projection_name) VALUES ('access_actor_summary');

-- Idempotency-Key (doc/design.md, "Idempotency"): claimed, then completed
-- with a result.
CREATE TABLE idempotency_keys (
    principal_id    uuid        NOT NULL,
    key             text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    surface_id      uuid        NOT NULL,
    command_name    text        NOT NULL,
    request_hash    text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('in_progress', 'completed')),
    response_status integer,
    response_body   jsonb,
    locked_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (principal_id, key, surface_id)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
