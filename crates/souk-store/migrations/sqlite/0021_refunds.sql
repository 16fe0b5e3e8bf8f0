-- Refund requests (business rules §4). A refunded row is also what the coming settlement run
-- deducts from the seller (`settlement = 'to_deduct'` until that run marks it).
CREATE TABLE refunds (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    buyer_id     TEXT NOT NULL REFERENCES parties (id),
    seller_id    TEXT NOT NULL REFERENCES parties (id),
    kind         TEXT NOT NULL CHECK (kind IN ('no_reason', 'negotiated', 'operator_forced')),
    state        TEXT NOT NULL CHECK (state IN ('pending_seller_review', 'refunded', 'rejected', 'withdrawn')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    reason       TEXT,
    opinion      TEXT,
    settlement   TEXT NOT NULL DEFAULT 'none',
    created_at   INTEGER NOT NULL,
    decided_at   INTEGER
);
CREATE INDEX refunds_by_order ON refunds (order_id, id);
-- The no-reason quota counts a buyer's refunded no-reason requests over a rolling year.
CREATE INDEX refunds_quota ON refunds (buyer_id, kind, created_at);
-- One open request per order (§4.3): a second is `409 refund_pending`.
CREATE UNIQUE INDEX refunds_one_open_per_order ON refunds (order_id) WHERE state = 'pending_seller_review';
