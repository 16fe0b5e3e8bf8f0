-- The storefront's price sorts walk this index (search.rs, "probe"): price, then newest
-- among equal prices. Without `status` in front, so that no statistics are needed for the
-- engine to see that walking it beats sorting every product.
CREATE INDEX product_search_by_price ON product_search (min_price_minor, product_id);
