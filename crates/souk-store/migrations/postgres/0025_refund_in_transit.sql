-- Hardware "not received" while the goods are in transit (business rules §4.3): such a request
-- waits for an operator's confirmation before the seller may decide it (1 until then).
ALTER TABLE refunds ADD COLUMN awaiting_operator BIGINT NOT NULL DEFAULT 0;
