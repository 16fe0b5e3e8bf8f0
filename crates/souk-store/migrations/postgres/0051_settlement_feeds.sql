-- Settlement feeds (issue 12): after-sale refunds, supervision completions and on-demand
-- consumption reach the statements.
--
-- On-demand consumption settles as one line per instance and metering period that sums its usage
-- charges; a late charge of an already settled period settles on a later statement under the same
-- source id, so such lines are not in the settled-once rule: each usage charge is, here.
CREATE TABLE statement_usage_charges (
    charge_id     TEXT PRIMARY KEY,
    statement_id  TEXT NOT NULL REFERENCES statements (id),
    source_id     TEXT NOT NULL
);
CREATE INDEX statement_usage_charges_by_statement ON statement_usage_charges (statement_id, source_id);

DROP INDEX statement_lines_settled_once;
CREATE UNIQUE INDEX statement_lines_settled_once ON statement_lines (source_id, kind)
    WHERE kind NOT IN ('rebate', 'on_demand_consumption');

-- The run finds a period's refunds by when they were decided.
CREATE INDEX refunds_to_settle ON refunds (settlement, decided_at);
