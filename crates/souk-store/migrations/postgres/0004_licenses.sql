-- Licenses: sellers' AK/SK pairs for the open API, Souk-issued license codes (License 2.0),
-- the machines holding their floating seats, activation attempts (rate limit), products'
-- license policies and the Ed25519 keys that sign offline license files.
-- Instants are BIGINT ms UTC.

CREATE TABLE seller_access_keys (
    id             TEXT PRIMARY KEY,
    seller_id      TEXT NOT NULL REFERENCES parties (id),
    access_key     TEXT NOT NULL,
    secret_sealed  TEXT NOT NULL,
    label          TEXT,
    created_at     BIGINT NOT NULL,
    created_by     TEXT,
    revoked_at     BIGINT
);
CREATE UNIQUE INDEX seller_access_keys_ak ON seller_access_keys (access_key);
CREATE INDEX seller_access_keys_by_seller ON seller_access_keys (seller_id, id);

CREATE TABLE license_policies (
    product_id            TEXT PRIMARY KEY,
    seller_id             TEXT NOT NULL REFERENCES parties (id),
    seats                 BIGINT NOT NULL,
    heartbeat_window_ms   BIGINT NOT NULL,
    activations_per_hour  BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- One row per code; the status a heartbeat reports comes from the instance.
CREATE TABLE license_codes (
    code                  TEXT PRIMARY KEY,
    instance_id           TEXT NOT NULL REFERENCES instances (id),
    ordinal               BIGINT NOT NULL,
    seller_id             TEXT NOT NULL REFERENCES parties (id),
    buyer_id              TEXT NOT NULL REFERENCES parties (id),
    product_id            TEXT NOT NULL,
    sku_id                TEXT NOT NULL,
    order_id              TEXT NOT NULL,
    state                 TEXT NOT NULL CHECK (state IN ('issued', 'activated')),
    seats                 BIGINT NOT NULL,
    heartbeat_window_ms   BIGINT NOT NULL,
    activations_per_hour  BIGINT NOT NULL,
    activated_at          BIGINT,
    effective_at          BIGINT,
    last_heartbeat_at     BIGINT,
    created_at            BIGINT NOT NULL
);
CREATE UNIQUE INDEX license_codes_by_instance ON license_codes (instance_id, ordinal);
CREATE INDEX license_codes_by_seller ON license_codes (seller_id, code);

-- Machines holding (or having held) a seat. A seat is live while deactivated_at IS NULL and
-- last_seen_at is within the code's heartbeat window.
CREATE TABLE license_machines (
    code            TEXT NOT NULL REFERENCES license_codes (code),
    fingerprint     TEXT NOT NULL,
    activated_at    BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    deactivated_at  BIGINT,
    PRIMARY KEY (code, fingerprint)
);

CREATE TABLE license_activation_attempts (
    id    TEXT PRIMARY KEY,
    code  TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX license_activation_attempts_by_code ON license_activation_attempts (code, at);

CREATE TABLE license_signing_keys (
    key_id           TEXT PRIMARY KEY,
    public_key       TEXT NOT NULL,
    private_sealed   TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    retired_at       BIGINT
);
