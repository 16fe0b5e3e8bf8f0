-- Resellers (business rules §11, issue 12): invitation links and the customers they associate,
-- sellers' authorisations per product (operator approval above the standard share), exclusive
-- offers (专属优惠) as private links, the reseller and entitlement of each order sold through
-- one, and the resellers' monthly statements with their lines.

CREATE TABLE reseller_invitations (
    token        TEXT PRIMARY KEY,
    reseller_id  TEXT NOT NULL REFERENCES parties (id),
    created_at   BIGINT NOT NULL
);
CREATE INDEX reseller_invitations_by_reseller ON reseller_invitations (reseller_id, created_at);

-- A customer is associated with one reseller (a second invitation does not move it).
CREATE TABLE reseller_customers (
    buyer_id       TEXT PRIMARY KEY REFERENCES parties (id),
    reseller_id    TEXT NOT NULL REFERENCES parties (id),
    invitation     TEXT NOT NULL,
    associated_at  BIGINT NOT NULL
);
CREATE INDEX reseller_customers_by_reseller ON reseller_customers (reseller_id, buyer_id);

-- terms: JSON souk_core::settlement::reseller::CommissionTerms (floor_minor unused here).
CREATE TABLE reseller_authorisations (
    id                TEXT PRIMARY KEY,
    seller_id         TEXT NOT NULL REFERENCES parties (id),
    reseller_id       TEXT NOT NULL REFERENCES parties (id),
    product_id        TEXT NOT NULL REFERENCES products (id),
    state             TEXT NOT NULL CHECK (state IN ('active', 'pending_approval', 'rejected', 'revoked')),
    terms             TEXT NOT NULL,
    max_discount_bp   BIGINT NOT NULL,
    reason            TEXT,
    created_at        BIGINT NOT NULL,
    decided_at        BIGINT,
    decided_by        TEXT
);
CREATE UNIQUE INDEX reseller_authorisations_one_open ON reseller_authorisations (reseller_id, product_id)
    WHERE state IN ('active', 'pending_approval');
CREATE INDEX reseller_authorisations_by_seller ON reseller_authorisations (seller_id, id);

CREATE TABLE reseller_offers (
    id                TEXT PRIMARY KEY,
    token             TEXT NOT NULL,
    reseller_id       TEXT NOT NULL REFERENCES parties (id),
    authorisation_id  TEXT NOT NULL REFERENCES reseller_authorisations (id),
    product_id        TEXT NOT NULL,
    sku_id            TEXT NOT NULL,
    billing_mode      TEXT NOT NULL,
    unit_price_minor  BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    valid_from        BIGINT NOT NULL,
    valid_until       BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX reseller_offers_by_token ON reseller_offers (token);
CREATE INDEX reseller_offers_by_reseller ON reseller_offers (reseller_id, id);

-- The reseller an order went through and what it was sold under (the entitlement).
CREATE TABLE order_resellers (
    order_id              TEXT PRIMARY KEY REFERENCES orders (id),
    reseller_id           TEXT NOT NULL REFERENCES parties (id),
    offer_id              TEXT,
    catalogue_unit_minor  BIGINT NOT NULL,
    unit_price_minor      BIGINT NOT NULL,
    terms                 TEXT NOT NULL,
    created_at            BIGINT NOT NULL
);
CREATE INDEX order_resellers_by_reseller ON order_resellers (reseller_id, order_id);

CREATE TABLE reseller_runs (
    period       TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    statements   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE reseller_statements (
    id                     TEXT PRIMARY KEY,
    reseller_id            TEXT NOT NULL REFERENCES parties (id),
    period                 TEXT NOT NULL,
    currency               TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('issued', 'paid')),
    sales_minor            BIGINT NOT NULL,
    refunds_minor          BIGINT NOT NULL,
    commission_minor       BIGINT NOT NULL,
    carried_in_minor       BIGINT NOT NULL,
    net_minor              BIGINT NOT NULL,
    payable_minor          BIGINT NOT NULL,
    carried_forward_minor  BIGINT NOT NULL,
    issued_at              BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE UNIQUE INDEX reseller_statements_one_per_period ON reseller_statements (reseller_id, period, currency);

CREATE TABLE reseller_statement_lines (
    statement_id  TEXT NOT NULL REFERENCES reseller_statements (id),
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    order_id      TEXT NOT NULL,
    occurred_at   BIGINT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    commission    TEXT NOT NULL,
    PRIMARY KEY (statement_id, seq)
);
CREATE UNIQUE INDEX reseller_statement_lines_settled_once ON reseller_statement_lines (source_id, kind);
