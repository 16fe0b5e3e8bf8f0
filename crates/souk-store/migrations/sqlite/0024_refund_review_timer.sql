-- After-sale timers (business rules §4.3 Souk defaults): a negotiated refund request the seller
-- does not review is reminded, then escalated to the operators (or approved, per
-- configuration). The request's `deadline` holds the next of these; these columns say which
-- have happened.
ALTER TABLE refunds ADD COLUMN review_reminded_at INTEGER;
ALTER TABLE refunds ADD COLUMN escalated_at INTEGER;
