-- Products whose usage is rated once a business day (business rules §6.4, §7
-- `usage.collect_daily`); every other product's usage is rated hourly. Set by the product's
-- seller with its usage price; read at each collection (not copied into orders).
CREATE TABLE usage_daily_products (
    product_id  TEXT PRIMARY KEY,
    seller_id   TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
