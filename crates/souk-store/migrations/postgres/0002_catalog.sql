-- The catalog: products, their reviewed revisions, SKUs with prices, and integration profiles.
-- Instants are BIGINT milliseconds since the Unix epoch, UTC; money is BIGINT minor units in
-- the product's currency. A product's content (descriptions, agreement, attributes, price
-- rules) is the validated `ProductSpec` of souk-core, stored as JSON in `spec`; the columns
-- beside it are what queries filter or join on.

CREATE TABLE products (
    id                TEXT PRIMARY KEY,
    seller_id         TEXT NOT NULL REFERENCES parties (id),
    status            TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'listed', 'rejected', 'delisted')),
    name              TEXT NOT NULL,
    delivery_type     TEXT NOT NULL,
    currency          TEXT NOT NULL,
    spec              TEXT NOT NULL,
    rejection_reason  TEXT,
    -- Set the first time the product is approved; from then on its SKUs are never deleted.
    first_listed_at   BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX products_by_seller ON products (seller_id, id);
CREATE INDEX products_by_status ON products (status, id);

-- A change to a listed product, reviewed while the listed version stays on sale.
CREATE TABLE product_revisions (
    id          TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL REFERENCES products (id),
    seller_id   TEXT NOT NULL REFERENCES parties (id),
    status      TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    spec        TEXT NOT NULL,
    reason      TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT
);
CREATE INDEX product_revisions_by_product ON product_revisions (product_id, id);
CREATE INDEX product_revisions_by_status ON product_revisions (status, id);
-- At most one revision under review per product.
CREATE UNIQUE INDEX product_revisions_one_pending ON product_revisions (product_id) WHERE status = 'submitted';

-- One row per attribute combination. `prices` is a JSON array of
-- {billing_mode, amount_minor, trial_days, wire_product_id}.
CREATE TABLE skus (
    id          TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL REFERENCES products (id),
    attr_key    TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    sku_code    TEXT NOT NULL,
    position    BIGINT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'delisted')),
    prices      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT skus_combination_unique UNIQUE (product_id, attr_key),
    CONSTRAINT skus_code_unique UNIQUE (sku_code)
);
CREATE INDEX skus_by_product ON skus (product_id, position);

-- How Souk calls the seller for a product. Operational configuration: changes take effect at
-- once, without review. `seller_key_sealed` is the seller's Key sealed under the master key.
CREATE TABLE integration_profiles (
    product_id         TEXT PRIMARY KEY REFERENCES products (id),
    seller_id          TEXT NOT NULL REFERENCES parties (id),
    protocol           TEXT NOT NULL CHECK (protocol IN ('v1', 'v2')),
    production_url     TEXT NOT NULL,
    seller_key_sealed  TEXT NOT NULL,
    pii_encrypt_bits   BIGINT NOT NULL CHECK (pii_encrypt_bits IN (128, 256)),
    buyer_fields       TEXT NOT NULL,
    license_mode       TEXT,
    updated_at         BIGINT NOT NULL
);
