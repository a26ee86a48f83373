-- Infusio schema, version 4: the HL7 v2 interface's inbound message log, so that backups,
-- restores and `infusio db migrate` cover it. The same SQL on both backends. `IF NOT EXISTS`:
-- earlier builds created this table at gateway start, with exactly this definition.
-- Every message received is logged with the acknowledgement sent; (sender, control id) makes
-- redelivery idempotent.
CREATE TABLE IF NOT EXISTS interface_inbound (
    sender TEXT NOT NULL,
    control_id TEXT NOT NULL,
    message_hash TEXT NOT NULL,
    message_type TEXT NOT NULL,
    received_at_us BIGINT NOT NULL,
    ack_code TEXT NOT NULL,
    ack_text TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message_text TEXT NOT NULL,
    PRIMARY KEY (sender, control_id)
);
