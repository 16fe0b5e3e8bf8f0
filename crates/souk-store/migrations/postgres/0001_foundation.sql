-- Parties (operators, sellers, buyers, resellers), their API keys, and the audit trail.
-- Instants are BIGINT milliseconds since the Unix epoch, UTC.

CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('operator', 'seller', 'buyer', 'reseller')),
    name        TEXT NOT NULL,
    email       TEXT,
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX parties_by_role ON parties (role, id);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    party_id        TEXT NOT NULL REFERENCES parties (id),
    label           TEXT,
    display_prefix  TEXT NOT NULL,
    key_hash        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT,
    revoked_at      BIGINT,
    last_used_at    BIGINT,
    CONSTRAINT api_keys_hash_unique UNIQUE (key_hash)
);
CREATE INDEX api_keys_by_party ON api_keys (party_id, id);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_by_subject ON audit_events (subject_id, id);
