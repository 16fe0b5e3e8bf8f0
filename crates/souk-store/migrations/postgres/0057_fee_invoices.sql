-- The platform's invoice to a seller for its platform fee (business rules §10 row 4, issue 12):
-- the seller's request over one or more of its paid statements (all periods together), the
-- operator's issue (number + the file in the blob store, its size and sha256), rejection or
-- void. A statement is on at most one open (requested or issued) fee invoice: its link is
-- released (released_at) when the invoice is rejected or voided, in the same transaction.

CREATE TABLE fee_invoices (
    id              TEXT PRIMARY KEY,
    seller_id       TEXT NOT NULL REFERENCES parties (id),
    invoice_type    TEXT NOT NULL CHECK (invoice_type IN ('digital_special', 'digital_general')),
    title           TEXT NOT NULL,
    tax_id          TEXT,
    email           TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('requested', 'issued', 'rejected', 'voided')),
    reason          TEXT,
    invoice_number  TEXT,
    filename        TEXT,
    content_type    TEXT,
    size_bytes      BIGINT,
    sha256          TEXT,
    storage_key     TEXT,
    requested_at    BIGINT NOT NULL,
    issued_at       BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX fee_invoices_by_seller ON fee_invoices (seller_id, id);
CREATE INDEX fee_invoices_by_state ON fee_invoices (state, id);

CREATE TABLE fee_invoice_statements (
    fee_invoice_id  TEXT NOT NULL REFERENCES fee_invoices (id),
    statement_id    TEXT NOT NULL REFERENCES statements (id),
    -- The order the seller chose them in.
    position        BIGINT NOT NULL,
    released_at     BIGINT,
    PRIMARY KEY (fee_invoice_id, statement_id)
);
-- One open fee invoice per statement, race-safe.
CREATE UNIQUE INDEX fee_invoice_statements_one_open ON fee_invoice_statements (statement_id)
    WHERE released_at IS NULL;
