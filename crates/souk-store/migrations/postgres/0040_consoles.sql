-- The web consoles: people who log in for a party, their sessions and failed logins, and the
-- catalog's search index.

-- A person acting for one party with that party's role. `email` is stored lower-cased.
CREATE TABLE console_users (
    id             TEXT PRIMARY KEY,
    party_id       TEXT NOT NULL REFERENCES parties (id),
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT console_users_email_unique UNIQUE (email)
);
CREATE INDEX console_users_by_party ON console_users (party_id, id);

-- Sessions live in the database so that every `souk` process on it knows them. Only the
-- SHA-256 of the cookie's token is stored; `csrf_token` is what this session's forms carry.
CREATE TABLE console_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES console_users (id),
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

-- Failed logins per (lower-cased) e-mail address, for throttling; old rows are pruned on write.
CREATE TABLE console_login_failures (
    email  TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX console_login_failures_by_email ON console_login_failures (email, at);

-- One row per product, kept in step with `products` inside the catalog's own transactions:
-- the columns the storefront filters and sorts on, and `terms` (souk_core::search).
CREATE TABLE product_search (
    product_id       TEXT PRIMARY KEY REFERENCES products (id),
    status           TEXT NOT NULL,
    name             TEXT NOT NULL,
    category         TEXT NOT NULL,
    delivery_type    TEXT NOT NULL,
    -- The product's billing modes, each surrounded by spaces: ' monthly yearly trial '.
    billing_modes    TEXT NOT NULL,
    currency         TEXT NOT NULL,
    -- The lowest non-trial price (minor units), NULL when there is none.
    min_price_minor  BIGINT,
    terms            TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX product_search_listed_by_price ON product_search (status, min_price_minor);
CREATE INDEX product_search_listed_by_category ON product_search (status, category);

-- The full-text index (engine-specific, so left out of the schema-parity comparison like
-- every `*_fts*` object): `terms` split on spaces as they are (no text-search parser or
-- dictionary: they are already souk_core::search's tokens), stored so that matching rows are
-- rechecked without recomputing it.
ALTER TABLE product_search ADD COLUMN terms_fts tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(terms, ' '))) STORED;
CREATE INDEX product_search_fts ON product_search USING GIN (terms_fts);
