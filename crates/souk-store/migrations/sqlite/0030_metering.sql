-- Metering (issue 11): pushed usage records, the charges rating made of them, and ledger lines
-- that point at those charges.

-- SQLite cannot change a CHECK constraint in place: rebuild ledger_entries with the new kind
-- and the link to the usage charge. Nothing references ledger_entries, so drop/rename is safe.
CREATE TABLE ledger_entries_new (
    id               TEXT PRIMARY KEY,
    buyer_id         TEXT NOT NULL REFERENCES parties (id),
    currency         TEXT NOT NULL,
    amount_minor     INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('top_up', 'order_debit', 'refund', 'usage_charge', 'usage_adjustment')),
    order_id         TEXT,
    memo             TEXT,
    created_by       TEXT,
    created_at       INTEGER NOT NULL,
    usage_charge_id  TEXT
);
INSERT INTO ledger_entries_new (id, buyer_id, currency, amount_minor, kind, order_id, memo, created_by, created_at)
    SELECT id, buyer_id, currency, amount_minor, kind, order_id, memo, created_by, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;
CREATE INDEX ledger_entries_by_buyer ON ledger_entries (buyer_id, currency, id);
CREATE UNIQUE INDEX ledger_entries_once_per_order ON ledger_entries (order_id, kind) WHERE order_id IS NOT NULL;
-- A usage charge is booked once, whatever retries happen.
CREATE UNIQUE INDEX ledger_entries_once_per_usage_charge ON ledger_entries (usage_charge_id) WHERE usage_charge_id IS NOT NULL;

-- One row per accepted usage record. usage is in ten-thousandths of the billing item's unit.
-- charge_id is set when a collection rates the record; a rated record never changes again.
CREATE TABLE usage_records (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id          TEXT NOT NULL,
    buyer_id             TEXT NOT NULL,
    seller_id            TEXT NOT NULL,
    metering_sn          TEXT,
    begin_at             INTEGER NOT NULL,
    end_at               INTEGER NOT NULL,
    record_at            INTEGER NOT NULL,
    usage                INTEGER NOT NULL,
    relate_pkg_instance  TEXT,
    received_at          INTEGER NOT NULL,
    charge_id            TEXT
);
-- Business rules §7, Souk default: idempotent by (instance, metering_sn) and by
-- (instance, billing item, begin, end) — an on-demand instance has one billing item.
CREATE UNIQUE INDEX usage_records_one_per_sn ON usage_records (instance_id, metering_sn);
CREATE UNIQUE INDEX usage_records_one_per_window ON usage_records (instance_id, begin_at, end_at);
CREATE INDEX usage_records_unrated ON usage_records (end_at) WHERE charge_id IS NULL;
-- No other index: ingestion is the hot path. Views read by instance (the window index).

-- One row per (instance, collection) that rated something.
CREATE TABLE usage_charges (
    id            TEXT PRIMARY KEY,
    instance_id   TEXT NOT NULL,
    buyer_id      TEXT NOT NULL,
    seller_id     TEXT NOT NULL,
    period        TEXT NOT NULL,
    cutoff_at     INTEGER NOT NULL,
    usage         INTEGER NOT NULL,
    records       INTEGER NOT NULL,
    amount_minor  INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    -- Operator adjustments (records = 0): why, and who entered it.
    reason        TEXT,
    created_by    TEXT
);
CREATE INDEX usage_charges_by_instance ON usage_charges (instance_id, period);
CREATE INDEX usage_charges_by_buyer ON usage_charges (buyer_id, id);
