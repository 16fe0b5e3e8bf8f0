-- A seller's invoice to the platform for a statement (business rules §9, §10 row 3, issue 12):
-- one row per submission (a rejected invoice stays, its replacement is a new row), the file in
-- the blob store with its size and sha256. Submitting one moves the statement to
-- invoice_review in the same transaction.

CREATE TABLE statement_invoices (
    id              TEXT PRIMARY KEY,
    statement_id    TEXT NOT NULL REFERENCES statements (id),
    seller_id       TEXT NOT NULL REFERENCES parties (id),
    invoice_number  TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    tax_rate_bp     INTEGER NOT NULL,
    filename        TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    storage_key     TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX statement_invoices_by_statement ON statement_invoices (statement_id, id);
