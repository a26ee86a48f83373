-- Schema version 5 (PostgreSQL dialect; the SQLite file creates the same tables and columns).
--
-- 1. Rows bound to the chain: an audit event written by a row insert, update or delete carries
--    `row_hash`, the SHA-256 of the canonical form of the row version it wrote ('deleted' for
--    a delete), so that a row changed outside the application no longer matches its last
--    event. Absent for other events and for events written before this version.
ALTER TABLE audit_event ADD COLUMN row_hash TEXT;
CREATE INDEX audit_event_row ON audit_event (entity_type, entity_id, seq);

-- 2. The access log: who read which patient's data, through which view, when. Append-only
--    like the audit chain (the database refuses UPDATE, DELETE and TRUNCATE).
CREATE TABLE access_log (
    id TEXT PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    view TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX access_log_patient ON access_log (patient_id, at_us);
CREATE INDEX access_log_actor ON access_log (actor, at_us);

CREATE FUNCTION access_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER access_log_no_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change();

CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change();
