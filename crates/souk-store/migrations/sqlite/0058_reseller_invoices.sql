-- The reseller statement's invoice step (business rules §10 row 5, §11, issue 12): the
-- workflow's states, when the invoices are due and whether they were flagged overdue, the last
-- rejection's reason; and the reseller's invoices (several per statement, never one across
-- statements), each file in the blob store.
--
-- SQLite cannot change a CHECK: both reseller tables are rebuilt. The lines (children) are
-- copied first and the old tables dropped child first, so no foreign key is ever dangling; the
-- new lines' reference follows the statements' rename.
CREATE TABLE reseller_statements_new (
    id                     TEXT PRIMARY KEY,
    reseller_id            TEXT NOT NULL REFERENCES parties (id),
    period                 TEXT NOT NULL,
    currency               TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('issued', 'awaiting_invoice',
                               'invoice_review', 'invoice_error', 'payment_review',
                               'payment_error', 'paid')),
    sales_minor            INTEGER NOT NULL,
    refunds_minor          INTEGER NOT NULL,
    commission_minor       INTEGER NOT NULL,
    carried_in_minor       INTEGER NOT NULL,
    net_minor              INTEGER NOT NULL,
    payable_minor          INTEGER NOT NULL,
    carried_forward_minor  INTEGER NOT NULL,
    issued_at              INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    invoice_due_at         INTEGER,
    overdue_at             INTEGER,
    reason                 TEXT
);
-- Statements issued before the workflow that still owe a payment wait for their invoices,
-- due 30 days after they were issued.
INSERT INTO reseller_statements_new (id, reseller_id, period, currency, state, sales_minor,
        refunds_minor, commission_minor, carried_in_minor, net_minor, payable_minor,
        carried_forward_minor, issued_at, updated_at, invoice_due_at)
    SELECT id, reseller_id, period, currency,
           CASE WHEN state = 'issued' AND payable_minor > 0 THEN 'awaiting_invoice' ELSE state END,
           sales_minor, refunds_minor, commission_minor, carried_in_minor, net_minor,
           payable_minor, carried_forward_minor, issued_at, updated_at,
           CASE WHEN state = 'issued' AND payable_minor > 0 THEN issued_at + 2592000000 END
    FROM reseller_statements;
CREATE TABLE reseller_statement_lines_new (
    statement_id  TEXT NOT NULL REFERENCES reseller_statements_new (id),
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    order_id      TEXT NOT NULL,
    occurred_at   INTEGER NOT NULL,
    amount_minor  INTEGER NOT NULL,
    commission    TEXT NOT NULL,
    PRIMARY KEY (statement_id, seq)
);
INSERT INTO reseller_statement_lines_new SELECT statement_id, seq, kind, source_id, order_id,
    occurred_at, amount_minor, commission FROM reseller_statement_lines;
DROP TABLE reseller_statement_lines;
DROP TABLE reseller_statements;
ALTER TABLE reseller_statements_new RENAME TO reseller_statements;
ALTER TABLE reseller_statement_lines_new RENAME TO reseller_statement_lines;
CREATE UNIQUE INDEX reseller_statements_one_per_period ON reseller_statements (reseller_id, period, currency);
CREATE INDEX reseller_statements_invoice_due ON reseller_statements (state, invoice_due_at);
CREATE UNIQUE INDEX reseller_statement_lines_settled_once ON reseller_statement_lines (source_id, kind);

-- One row per uploaded invoice: `uploaded` (not submitted yet; the reseller may remove it),
-- `submitted` (under review), `accepted` or `rejected` (kept, with the statement's history).
CREATE TABLE reseller_statement_invoices (
    id              TEXT PRIMARY KEY,
    statement_id    TEXT NOT NULL REFERENCES reseller_statements (id),
    reseller_id     TEXT NOT NULL REFERENCES parties (id),
    invoice_number  TEXT NOT NULL,
    invoice_type    TEXT NOT NULL CHECK (invoice_type = 'special'),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    tax_rate_bp     INTEGER NOT NULL,
    filename        TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    storage_key     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('uploaded', 'submitted', 'accepted', 'rejected')),
    created_at      INTEGER NOT NULL
);
CREATE INDEX reseller_statement_invoices_by_statement ON reseller_statement_invoices (statement_id, id);
-- An invoice number once per statement, a rejected invoice's number may come again.
CREATE UNIQUE INDEX reseller_statement_invoices_one_number ON reseller_statement_invoices (statement_id, invoice_number)
    WHERE state <> 'rejected';
