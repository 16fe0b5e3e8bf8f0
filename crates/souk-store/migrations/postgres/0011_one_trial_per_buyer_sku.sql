-- One trial per buyer per SKU (business rules §6.3, `trial.per_account_per_sku = 1`), decided by
-- the database so that concurrent orders cannot both get one. Every trial order counts except a
-- cancelled one (never paid: the buyer did not get to try); a refunded trial still counts.
-- A violation is reported as `409 trial_used`.
--
-- Creating the index fails if a database already holds two such orders for one buyer and SKU
-- (possible before this rule moved into the database). Find them with
--   SELECT buyer_id, sku_id, COUNT(*) FROM orders WHERE kind = 'trial' AND state <> 'cancelled'
--   GROUP BY buyer_id, sku_id HAVING COUNT(*) > 1;
-- and decide by hand which order to keep before starting this version.
CREATE UNIQUE INDEX orders_one_trial_per_buyer_sku ON orders (buyer_id, sku_id)
    WHERE kind = 'trial' AND state <> 'cancelled';
