-- How a product's on-demand usage is rated when it is not the flat per-unit price: Step or
-- Tier bands (souk_core::metering::PriceMode as JSON). Orders copy it into their snapshot, so a
-- change applies to purchases made after it.
CREATE TABLE usage_prices (
    product_id  TEXT PRIMARY KEY,
    seller_id   TEXT NOT NULL,
    price       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
