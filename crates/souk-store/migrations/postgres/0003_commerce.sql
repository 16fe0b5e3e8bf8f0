-- Balances, orders, instances, the provisioning job queue (outbox), call attempts and the
-- message centre. Money is BIGINT minor units + currency; instants BIGINT ms UTC.

CREATE TABLE accounts (
    buyer_id            TEXT NOT NULL REFERENCES parties (id),
    currency            TEXT NOT NULL,
    credit_limit_minor  BIGINT NOT NULL DEFAULT 0,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (buyer_id, currency)
);

-- Append-only: a balance is the sum of its entries.
CREATE TABLE ledger_entries (
    id            TEXT PRIMARY KEY,
    buyer_id      TEXT NOT NULL REFERENCES parties (id),
    currency      TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('top_up', 'order_debit', 'refund')),
    order_id      TEXT,
    memo          TEXT,
    created_by    TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX ledger_entries_by_buyer ON ledger_entries (buyer_id, currency, id);
-- An order is debited once and refunded at most once, whatever retries happen.
CREATE UNIQUE INDEX ledger_entries_once_per_order ON ledger_entries (order_id, kind) WHERE order_id IS NOT NULL;

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL,
    buyer_id        TEXT NOT NULL REFERENCES parties (id),
    seller_id       TEXT NOT NULL REFERENCES parties (id),
    product_id      TEXT NOT NULL,
    sku_id          TEXT NOT NULL,
    instance_id     TEXT NOT NULL,
    term            TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    snapshot        TEXT NOT NULL,
    pay_deadline    BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    paid_at         BIGINT,
    completed_at    BIGINT,
    cancelled_at    BIGINT,
    failed_at       BIGINT,
    refunded_at     BIGINT,
    failure_reason  TEXT
);
CREATE INDEX orders_by_buyer ON orders (buyer_id, id);
CREATE INDEX orders_by_seller ON orders (seller_id, id);
CREATE INDEX orders_by_instance ON orders (instance_id, id);
CREATE INDEX orders_unpaid ON orders (state, pay_deadline);

CREATE TABLE instances (
    id                    TEXT PRIMARY KEY,
    buyer_id              TEXT NOT NULL REFERENCES parties (id),
    seller_id             TEXT NOT NULL REFERENCES parties (id),
    product_id            TEXT NOT NULL,
    sku_id                TEXT NOT NULL,
    origin_order_id       TEXT NOT NULL,
    delivery_type         TEXT NOT NULL,
    state                 TEXT NOT NULL,
    term                  TEXT NOT NULL,
    quantity              BIGINT NOT NULL,
    trial                 BIGINT NOT NULL DEFAULT 0,
    auto_renew            BIGINT NOT NULL DEFAULT 0,
    auto_renew_tried_for  BIGINT,
    period_start          BIGINT,
    expire_at             BIGINT,
    seller_instance_id    TEXT,
    app_info_sealed       TEXT,
    license_sealed        TEXT,
    created_at            BIGINT NOT NULL,
    opened_at             BIGINT,
    frozen_at             BIGINT,
    released_at           BIGINT,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX instances_by_buyer ON instances (buyer_id, id);
CREATE INDEX instances_by_seller ON instances (seller_id, id);
CREATE INDEX instances_timers ON instances (state, expire_at);

-- The outbox: one row per logical call to a seller, written in the same transaction as the
-- change that needs it. seq orders the calls of one instance.
CREATE TABLE jobs (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,
    state             TEXT NOT NULL,
    phase             TEXT NOT NULL DEFAULT 'send',
    instance_id       TEXT NOT NULL,
    order_id          TEXT NOT NULL,
    seller_id         TEXT NOT NULL,
    product_id        TEXT NOT NULL,
    payload           TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    first_attempt_at  BIGINT,
    next_attempt_at   BIGINT NOT NULL,
    lease_until       BIGINT,
    lease_owner       TEXT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    finished_at       BIGINT
);
CREATE INDEX jobs_due ON jobs (state, next_attempt_at);
CREATE INDEX jobs_by_instance ON jobs (instance_id, seq);
CREATE INDEX jobs_by_seller ON jobs (seller_id, seq);

-- Every attempt of every call: the "production interface messages" sellers read.
CREATE TABLE call_attempts (
    id             TEXT PRIMARY KEY,
    job_id         TEXT NOT NULL,
    seller_id      TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    instance_id    TEXT NOT NULL,
    activity       TEXT NOT NULL,
    business_id    TEXT,
    request        TEXT NOT NULL,
    http_status    BIGINT,
    response_body  TEXT,
    body_sign      TEXT NOT NULL,
    result_code    TEXT,
    outcome        TEXT NOT NULL,
    error          TEXT,
    latency_ms     BIGINT NOT NULL,
    started_at     BIGINT NOT NULL
);
CREATE INDEX call_attempts_by_seller ON call_attempts (seller_id, id);
CREATE INDEX call_attempts_by_job ON call_attempts (job_id, id);

-- The in-app message centre.
CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    party_id    TEXT NOT NULL REFERENCES parties (id),
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    ref_id      TEXT,
    created_at  BIGINT NOT NULL,
    read_at     BIGINT
);
CREATE INDEX messages_by_party ON messages (party_id, id);
