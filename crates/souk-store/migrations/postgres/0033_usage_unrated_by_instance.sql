-- Rating reads unrated usage per (instance, stop-when-exhausted package) and marks it per
-- instance. Ordering the unrated index that way lets the collection's GROUP BY read it in
-- order, from the index alone (no sort of every unrated record, no table lookup), and the
-- marking UPDATE find one instance's records without scanning the others'. Same number of
-- indexes on the ingest path as before: this one replaces the index on end_at alone.
DROP INDEX usage_records_unrated;
CREATE INDEX usage_records_unrated ON usage_records (instance_id, relate_pkg_instance, end_at, usage)
    WHERE charge_id IS NULL;
