-- Renewal-period refunds (退续费, business rules §4.4) and the hardware return steps (§4.3).
-- A renewal order remembers the expiry it extended from and to, so its refund can move the
-- instance's expiry back (compare-and-set on `renewal_to`) while the period is not in effect.
ALTER TABLE orders ADD COLUMN renewal_from BIGINT;
ALTER TABLE orders ADD COLUMN renewal_to BIGINT;

ALTER TABLE refunds DROP CONSTRAINT refunds_kind_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_kind_check
    CHECK (kind IN ('no_reason', 'negotiated', 'operator_forced', 'renewal_period'));
ALTER TABLE refunds DROP CONSTRAINT refunds_state_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_state_check
    CHECK (state IN ('pending_seller_review', 'return_approved', 'return_shipped', 'refunded',
                     'rejected', 'withdrawn', 'lapsed'));
-- Hardware: what the buyer says of the goods, and the return shipment of received goods.
ALTER TABLE refunds ADD COLUMN goods_state TEXT;
ALTER TABLE refunds ADD COLUMN return_carrier TEXT;
ALTER TABLE refunds ADD COLUMN return_tracking TEXT;
-- When the current step lapses (return not shipped) or completes by itself (receipt).
ALTER TABLE refunds ADD COLUMN deadline BIGINT;
CREATE INDEX refunds_due ON refunds (state, deadline);

-- A request is open until it is refunded, rejected, withdrawn or lapsed.
DROP INDEX refunds_one_open_per_order;
CREATE UNIQUE INDEX refunds_one_open_per_order ON refunds (order_id)
    WHERE state IN ('pending_seller_review', 'return_approved', 'return_shipped');
