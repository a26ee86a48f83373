-- Infusio schema, version 6: the pharmacy's list of recalled lots. A preparation that uses a
-- recalled lot is refused (a hard stop). The same SQL on both backends; an entity table like
-- the others (id, version, timestamps), so its rows are audited and carried by backups.
CREATE TABLE lot_recalls (
    id TEXT PRIMARY KEY,
    version BIGINT NOT NULL CHECK (version >= 1),
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    lot TEXT NOT NULL,
    gtin TEXT,
    product TEXT,
    reason TEXT NOT NULL,
    recalled_by TEXT NOT NULL,
    active BIGINT NOT NULL CHECK (active IN (0, 1))
);
CREATE INDEX lot_recalls_lot ON lot_recalls (lot);
