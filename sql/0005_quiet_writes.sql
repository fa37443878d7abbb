-- Writers that wake their projectors themselves do not NOTIFY.
--
-- A NOTIFY in a transaction makes its commit take a cluster-wide lock that
-- is held across the commit's WAL flush, so no two such commits can share a
-- flush. corad's workers set corad.notify = off on their sessions and wake
-- the projector of their host over a local socket after they commit; a
-- standby projector passes those wake-ups on to the leader as at most one
-- NOTIFY per interval. Any other writer (a script, another implementation
-- of the service) leaves the setting unset and still wakes projectors that
-- LISTEN events, with the same payload as before.
DROP TRIGGER events_notify_after_insert ON events;

CREATE TRIGGER events_notify_after_insert
    AFTER INSERT ON events
    FOR EACH ROW
    WHEN (current_setting('corad.notify', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION events_notify();
