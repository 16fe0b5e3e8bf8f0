-- Business rules §9: the deadline of the state a statement is in, set by each move (the
-- seller's invoice 30 days after the invoice notice, the operator's invoice check in 2 working
-- days, the payout in 10). A statement awaiting its invoice past the deadline is moved to
-- invoice_error by the timers; the operator's deadlines mark the statement overdue.
ALTER TABLE statements ADD COLUMN due_at BIGINT;
CREATE INDEX statements_due ON statements (due_at) WHERE due_at IS NOT NULL;
