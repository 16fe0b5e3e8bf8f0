-- Settlement (business rules §8, §9): fee policies per product, monthly statements with their
-- lines, operator adjustments and refunds to settle, the run log, and the settlement ledger.
-- Money is BIGINT minor units + currency; exact rate-derived line figures are TEXT decimals in
-- minor units with four places (see souk_core::settlement, the rounding rule).

-- A product's fee policy (JSON souk_core::settlement::FeePolicy); no row: the marketplace default.
CREATE TABLE fee_policies (
    product_id  TEXT PRIMARY KEY REFERENCES products (id),
    policy      TEXT NOT NULL,
    updated_by  TEXT,
    updated_at  BIGINT NOT NULL
);

-- One row per period run (automatic or by hand).
CREATE TABLE settlement_runs (
    period       TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    statements   BIGINT NOT NULL DEFAULT 0
);

-- Immutable once issued except for `state`, `invoice_number` and `updated_at`.
CREATE TABLE statements (
    id                     TEXT PRIMARY KEY,
    seller_id              TEXT NOT NULL REFERENCES parties (id),
    period                 TEXT NOT NULL,
    currency               TEXT NOT NULL,
    state                  TEXT NOT NULL,
    period_start           BIGINT NOT NULL,
    gross_minor            BIGINT NOT NULL,
    refunds_minor          BIGINT NOT NULL,
    adjustments_minor      BIGINT NOT NULL,
    platform_fee_minor     BIGINT NOT NULL,
    rebate_minor           BIGINT NOT NULL,
    commission_minor       BIGINT NOT NULL,
    carried_in_minor       BIGINT NOT NULL,
    net_minor              BIGINT NOT NULL,
    payable_minor          BIGINT NOT NULL,
    carried_forward_minor  BIGINT NOT NULL,
    policies               TEXT NOT NULL,
    default_policy         TEXT NOT NULL,
    invoice_number         TEXT,
    issued_at              BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE UNIQUE INDEX statements_one_per_seller_period ON statements (seller_id, period, currency);
CREATE INDEX statements_by_period ON statements (period, id);

CREATE TABLE statement_lines (
    statement_id  TEXT NOT NULL REFERENCES statements (id),
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    order_id      TEXT,
    product_id    TEXT,
    occurred_at   BIGINT,
    carried       BIGINT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    platform_fee  TEXT NOT NULL,
    rebate        TEXT NOT NULL,
    commission    TEXT NOT NULL,
    net           TEXT NOT NULL,
    PRIMARY KEY (statement_id, seq)
);
-- Everything is settled once: an order, a refund, an adjustment appears on one statement only.
CREATE UNIQUE INDEX statement_lines_settled_once ON statement_lines (source_id, kind)
    WHERE kind <> 'rebate';

-- Refunds and operator corrections waiting for (or settled on) a statement.
CREATE TABLE settlement_adjustments (
    id            TEXT PRIMARY KEY,
    seller_id     TEXT NOT NULL REFERENCES parties (id),
    kind          TEXT NOT NULL CHECK (kind IN ('refund', 'adjustment')),
    order_id      TEXT,
    product_id    TEXT,
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    occurred_at   BIGINT NOT NULL,
    created_by    TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX settlement_adjustments_by_seller ON settlement_adjustments (seller_id, id);

-- Double-entry: every movement is two rows with opposite amounts (same movement_id).
CREATE TABLE settlement_entries (
    id            TEXT PRIMARY KEY,
    movement_id   TEXT NOT NULL,
    statement_id  TEXT,
    account       TEXT NOT NULL,
    party_id      TEXT,
    currency      TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    memo          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX settlement_entries_by_account ON settlement_entries (account, party_id, currency);
CREATE INDEX settlement_entries_by_statement ON settlement_entries (statement_id);

-- The run scans completed orders by completion time.
CREATE INDEX orders_completed ON orders (state, completed_at);
