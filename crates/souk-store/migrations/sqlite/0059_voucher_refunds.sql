-- Seller vouchers (business rules §8.2): an order a voucher paid in full can be refunded. Its
-- refund returns no cash (`amount_minor` = 0) and gives the voucher part back to the voucher
-- (`voucher_minor`). The use case allows a zero amount only for such orders.
--
-- SQLite cannot change a CHECK: the table is rebuilt with every column, index and default of
-- 0023 to 0056 (nothing references `refunds`, no trigger is on it).
CREATE TABLE refunds_new (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    buyer_id     TEXT NOT NULL REFERENCES parties (id),
    seller_id    TEXT NOT NULL REFERENCES parties (id),
    kind         TEXT NOT NULL CHECK (kind IN ('no_reason', 'negotiated', 'operator_forced', 'renewal_period')),
    state        TEXT NOT NULL CHECK (state IN ('pending_seller_review', 'return_approved', 'return_shipped', 'refunded',
                                                'rejected', 'withdrawn', 'lapsed')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT NOT NULL,
    reason       TEXT,
    opinion      TEXT,
    settlement   TEXT NOT NULL DEFAULT 'none',
    created_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    goods_state     TEXT,
    return_carrier  TEXT,
    return_tracking TEXT,
    deadline        INTEGER,
    review_reminded_at INTEGER,
    escalated_at       INTEGER,
    awaiting_operator  INTEGER NOT NULL DEFAULT 0,
    voucher_minor      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO refunds_new (id, order_id, buyer_id, seller_id, kind, state, amount_minor, currency,
                         reason, opinion, settlement, created_at, decided_at, goods_state,
                         return_carrier, return_tracking, deadline, review_reminded_at,
                         escalated_at, awaiting_operator, voucher_minor)
    SELECT id, order_id, buyer_id, seller_id, kind, state, amount_minor, currency,
           reason, opinion, settlement, created_at, decided_at, goods_state,
           return_carrier, return_tracking, deadline, review_reminded_at,
           escalated_at, awaiting_operator, voucher_minor FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_by_order ON refunds (order_id, id);
CREATE INDEX refunds_quota ON refunds (buyer_id, kind, created_at);
CREATE INDEX refunds_due ON refunds (state, deadline);
-- A request is open until it is refunded, rejected, withdrawn or lapsed.
CREATE UNIQUE INDEX refunds_one_open_per_order ON refunds (order_id)
    WHERE state IN ('pending_seller_review', 'return_approved', 'return_shipped');
-- The run finds a period's refunds by when they were decided.
CREATE INDEX refunds_to_settle ON refunds (settlement, decided_at);
