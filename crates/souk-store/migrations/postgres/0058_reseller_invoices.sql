-- The reseller statement's invoice step (business rules §10 row 5, §11, issue 12): the
-- workflow's states, when the invoices are due and whether they were flagged overdue, the last
-- rejection's reason; and the reseller's invoices (several per statement, never one across
-- statements), each file in the blob store.
ALTER TABLE reseller_statements DROP CONSTRAINT reseller_statements_state_check;
ALTER TABLE reseller_statements ADD CONSTRAINT reseller_statements_state_check
    CHECK (state IN ('issued', 'awaiting_invoice', 'invoice_review', 'invoice_error',
                     'payment_review', 'payment_error', 'paid'));
ALTER TABLE reseller_statements ADD COLUMN invoice_due_at BIGINT;
ALTER TABLE reseller_statements ADD COLUMN overdue_at BIGINT;
ALTER TABLE reseller_statements ADD COLUMN reason TEXT;
-- Statements issued before the workflow that still owe a payment wait for their invoices,
-- due 30 days after they were issued.
UPDATE reseller_statements SET state = 'awaiting_invoice', invoice_due_at = issued_at + 2592000000
    WHERE state = 'issued' AND payable_minor > 0;
CREATE INDEX reseller_statements_invoice_due ON reseller_statements (state, invoice_due_at);

-- One row per uploaded invoice: `uploaded` (not submitted yet; the reseller may remove it),
-- `submitted` (under review), `accepted` or `rejected` (kept, with the statement's history).
CREATE TABLE reseller_statement_invoices (
    id              TEXT PRIMARY KEY,
    statement_id    TEXT NOT NULL REFERENCES reseller_statements (id),
    reseller_id     TEXT NOT NULL REFERENCES parties (id),
    invoice_number  TEXT NOT NULL,
    invoice_type    TEXT NOT NULL CHECK (invoice_type = 'special'),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    tax_rate_bp     BIGINT NOT NULL,
    filename        TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    storage_key     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('uploaded', 'submitted', 'accepted', 'rejected')),
    created_at      BIGINT NOT NULL
);
CREATE INDEX reseller_statement_invoices_by_statement ON reseller_statement_invoices (statement_id, id);
-- An invoice number once per statement, a rejected invoice's number may come again.
CREATE UNIQUE INDEX reseller_statement_invoices_one_number ON reseller_statement_invoices (statement_id, invoice_number)
    WHERE state <> 'rejected';
