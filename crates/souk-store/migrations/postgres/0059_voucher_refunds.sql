-- Seller vouchers (business rules §8.2): an order a voucher paid in full can be refunded. Its
-- refund returns no cash (`amount_minor` = 0) and gives the voucher part back to the voucher
-- (`voucher_minor`). The use case allows a zero amount only for such orders.
ALTER TABLE refunds DROP CONSTRAINT refunds_amount_minor_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_amount_minor_check CHECK (amount_minor >= 0);
