-- Renewal-period refunds (退续费, business rules §4.4) and the hardware return steps (§4.3).
-- A renewal order remembers the expiry it extended from and to, so its refund can move the
-- instance's expiry back (compare-and-set on `renewal_to`) while the period is not in effect.
ALTER TABLE orders ADD COLUMN renewal_from INTEGER;
ALTER TABLE orders ADD COLUMN renewal_to INTEGER;

-- SQLite cannot change a CHECK: the table is rebuilt (nothing references it).
CREATE TABLE refunds_new (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    buyer_id     TEXT NOT NULL REFERENCES parties (id),
    seller_id    TEXT NOT NULL REFERENCES parties (id),
    kind         TEXT NOT NULL CHECK (kind IN ('no_reason', 'negotiated', 'operator_forced', 'renewal_period')),
    state        TEXT NOT NULL CHECK (state IN ('pending_seller_review', 'return_approved', 'return_shipped', 'refunded',
                                                'rejected', 'withdrawn', 'lapsed')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    reason       TEXT,
    opinion      TEXT,
    settlement   TEXT NOT NULL DEFAULT 'none',
    created_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    -- Hardware: what the buyer says of the goods, and the return shipment of received goods.
    goods_state     TEXT,
    return_carrier  TEXT,
    return_tracking TEXT,
    -- When the current step lapses (return not shipped) or completes by itself (receipt).
    deadline        INTEGER
);
INSERT INTO refunds_new (id, order_id, buyer_id, seller_id, kind, state, amount_minor, currency,
                         reason, opinion, settlement, created_at, decided_at)
    SELECT id, order_id, buyer_id, seller_id, kind, state, amount_minor, currency,
           reason, opinion, settlement, created_at, decided_at FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_by_order ON refunds (order_id, id);
CREATE INDEX refunds_quota ON refunds (buyer_id, kind, created_at);
CREATE INDEX refunds_due ON refunds (state, deadline);
-- A request is open until it is refunded, rejected, withdrawn or lapsed.
CREATE UNIQUE INDEX refunds_one_open_per_order ON refunds (order_id)
    WHERE state IN ('pending_seller_review', 'return_approved', 'return_shipped');
