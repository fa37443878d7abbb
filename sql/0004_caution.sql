-- The Caution bounded context (src/caution/): its events live in the event
-- store (stream type 'Caution'); GET /cautions reads this projection, kept by
-- the projector child under the name proj_caution_summary.
--
-- No CHECK on the enum columns: an event from a newer writer with a value
-- this version does not know is projected as stored instead of stalling the
-- projector (doc/design.md, "The Caution context").
CREATE TABLE proj_caution_summary (
    caution_id                uuid        PRIMARY KEY,
    target_kind               text        NOT NULL,
    target_id                 uuid        NOT NULL,
    category                  text        NOT NULL,
    severity                  text        NOT NULL,
    text                      text        NOT NULL,
    workaround                text        NOT NULL,
    authored_by               uuid        NOT NULL,
    tags                      text[]      NOT NULL DEFAULT '{}',
    expires_at                timestamptz,
    propagate_to_children     boolean     NOT NULL DEFAULT false,
    status                    text        NOT NULL,
    parent_id                 uuid,
    superseded_by_caution_id  uuid,
    retired_reason            text,
    registered_at             timestamptz NOT NULL,
    last_status_changed_at    timestamptz,
    updated_at                timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX proj_caution_summary_keyset_idx
    ON proj_caution_summary (registered_at, caution_id);
CREATE INDEX proj_caution_summary_target_active_idx
    ON proj_caution_summary (target_kind, target_id) WHERE status = 'Active';
CREATE INDEX proj_caution_summary_tags_gin_idx
    ON proj_caution_summary USING gin (tags);
CREATE INDEX proj_caution_summary_author_idx
    ON proj_caution_summary (authored_by);

-- The workers read it; the projector (the same role) writes it. The event
-- store keeps the grants of 0003_app_role.sql: SELECT and INSERT only.
GRANT SELECT, INSERT, UPDATE, DELETE ON proj_caution_summary TO cora_app;
