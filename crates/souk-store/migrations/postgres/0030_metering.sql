-- Metering (issue 11): pushed usage records, the charges rating made of them, and ledger lines
-- that point at those charges.

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('top_up', 'order_debit', 'refund', 'usage_charge', 'usage_adjustment'));
ALTER TABLE ledger_entries ADD COLUMN usage_charge_id TEXT;
-- A usage charge is booked once, whatever retries happen.
CREATE UNIQUE INDEX ledger_entries_once_per_usage_charge ON ledger_entries (usage_charge_id) WHERE usage_charge_id IS NOT NULL;

-- One row per accepted usage record. usage is in ten-thousandths of the billing item's unit.
-- charge_id is set when a collection rates the record; a rated record never changes again.
CREATE TABLE usage_records (
    seq                  BIGSERIAL PRIMARY KEY,
    instance_id          TEXT NOT NULL,
    buyer_id             TEXT NOT NULL,
    seller_id            TEXT NOT NULL,
    metering_sn          TEXT,
    begin_at             BIGINT NOT NULL,
    end_at               BIGINT NOT NULL,
    record_at            BIGINT NOT NULL,
    usage                BIGINT NOT NULL,
    relate_pkg_instance  TEXT,
    received_at          BIGINT NOT NULL,
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
    cutoff_at     BIGINT NOT NULL,
    usage         BIGINT NOT NULL,
    records       BIGINT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- Operator adjustments (records = 0): why, and who entered it.
    reason        TEXT,
    created_by    TEXT
);
CREATE INDEX usage_charges_by_instance ON usage_charges (instance_id, period);
CREATE INDEX usage_charges_by_buyer ON usage_charges (buyer_id, id);
