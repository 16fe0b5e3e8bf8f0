-- Business rules §11: customers who may not be associated with a reseller (internal accounts,
-- consumer-cloud users, customers already reported), flagged by the operator. An invitation
-- link accepted by a flagged buyer is refused (409 customer_excluded).
CREATE TABLE association_exclusions (
    buyer_id  TEXT NOT NULL REFERENCES parties (id),
    flag      TEXT NOT NULL CHECK (flag IN ('internal', 'consumer_cloud', 'reported')),
    set_by    TEXT,
    set_at    BIGINT NOT NULL,
    PRIMARY KEY (buyer_id, flag)
);
