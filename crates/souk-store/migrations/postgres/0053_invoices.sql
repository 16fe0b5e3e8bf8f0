-- Invoices a seller issues its buyer (business rules §10 row 1, issue 12): the buyer's request
-- for a paid order, the seller's issue (the file is an attachment of the order, in the blob
-- store) or rejection, the void that lets a refund through (§4.1), and the overdue flag the
-- timer sets after `invoice.seller_to_buyer`.

CREATE TABLE invoices (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (id),
    buyer_id        TEXT NOT NULL REFERENCES parties (id),
    seller_id       TEXT NOT NULL REFERENCES parties (id),
    invoice_type    TEXT NOT NULL CHECK (invoice_type IN ('general', 'special')),
    title           TEXT NOT NULL,
    tax_id          TEXT,
    email           TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('requested', 'issued', 'rejected', 'voided')),
    reason          TEXT,
    invoice_number  TEXT,
    attachment_id   TEXT REFERENCES attachments (id),
    requested_at    BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    overdue_at      BIGINT,
    issued_at       BIGINT,
    updated_at      BIGINT NOT NULL
);
-- One open (requested or issued) invoice per order.
CREATE UNIQUE INDEX invoices_one_open_per_order ON invoices (order_id)
    WHERE state IN ('requested', 'issued');
CREATE INDEX invoices_by_order ON invoices (order_id, id);
CREATE INDEX invoices_by_seller ON invoices (seller_id, id);
CREATE INDEX invoices_by_buyer ON invoices (buyer_id, id);
CREATE INDEX invoices_due ON invoices (state, due_at);
