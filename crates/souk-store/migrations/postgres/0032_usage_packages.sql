-- Usage packages (套餐包, issue 11, business rules §6.4).

-- What a package SKU holds (souk_core::metering::package::PackageDef as JSON), set by the
-- product's seller. Orders copy it into their snapshot.
CREATE TABLE usage_package_defs (
    sku_id      TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL,
    seller_id   TEXT NOT NULL,
    def         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX usage_package_defs_by_product ON usage_package_defs (product_id);

-- One row per package instance once it took effect (opened).
CREATE TABLE usage_packages (
    id                   TEXT PRIMARY KEY,
    buyer_id             TEXT NOT NULL,
    seller_id            TEXT NOT NULL,
    product_id           TEXT NOT NULL,
    reset                TEXT NOT NULL,
    stop_when_exhausted  BIGINT NOT NULL,
    effective_at         BIGINT NOT NULL,
    expire_at            BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    -- Stop-when-exhausted: when its quota ran out (the seller was told to stop).
    exhausted_at         BIGINT
);
CREATE INDEX usage_packages_by_buyer ON usage_packages (buyer_id);

-- A package's quota of one billing item (an on-demand SKU) in its current period; usage in
-- ten-thousandths. A reset moves the period and clears used.
CREATE TABLE package_quotas (
    package_id    TEXT NOT NULL,
    sku_id        TEXT NOT NULL,
    quota         BIGINT NOT NULL,
    used          BIGINT NOT NULL,
    period_start  BIGINT NOT NULL,
    period_end    BIGINT NOT NULL,
    PRIMARY KEY (package_id, sku_id)
);
CREATE INDEX package_quotas_by_sku ON package_quotas (sku_id);
CREATE INDEX package_quotas_by_period_end ON package_quotas (period_end);

-- A charge's usage now splits into what packages covered, what was rated on demand (usage)
-- and what went past a stop-when-exhausted package (not billed).
ALTER TABLE usage_charges ADD COLUMN package_usage BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_charges ADD COLUMN excess_usage BIGINT NOT NULL DEFAULT 0;
