-- GET /cautions?status=Superseded or Retired: the cautions that are no
-- longer Active, which may be few among many, are found from an index of
-- their own instead of a walk of every caution in list order (doc/design.md,
-- "Lists"). Active, the default, walks the keyset index; a caution enters
-- this index only when it stops being Active, so registrations do not
-- write to it.
CREATE INDEX proj_caution_summary_inactive_idx
    ON proj_caution_summary (status, registered_at, caution_id)
    WHERE status <> 'Active';
