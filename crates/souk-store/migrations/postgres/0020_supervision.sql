-- Service supervision (business rules §3). One row per supervised order holding the state
-- souk_core::supervision decided (JSON), with the columns timers and tenancy filter on pulled
-- out; `version` is the compare-and-set token every step checks.
CREATE TABLE supervisions (
    order_id     TEXT PRIMARY KEY REFERENCES orders (id),
    buyer_id     TEXT NOT NULL REFERENCES parties (id),
    seller_id    TEXT NOT NULL REFERENCES parties (id),
    instance_id  TEXT NOT NULL,
    node         TEXT NOT NULL,
    deadline     BIGINT,
    frozen       BIGINT NOT NULL DEFAULT 0,
    state        TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX supervisions_due ON supervisions (node, deadline);

-- The evidence base for disputes: append-only, refused UPDATE and DELETE by triggers.
CREATE TABLE supervision_log (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES supervisions (order_id),
    seq         BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    from_node   TEXT NOT NULL,
    to_node     TEXT NOT NULL,
    reason      TEXT,
    payload     TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX supervision_log_order_seq ON supervision_log (order_id, seq);

CREATE FUNCTION supervision_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'supervision_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER supervision_log_no_change BEFORE UPDATE OR DELETE ON supervision_log
    FOR EACH ROW EXECUTE FUNCTION supervision_log_append_only();
