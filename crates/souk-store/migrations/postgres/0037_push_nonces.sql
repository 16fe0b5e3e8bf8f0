-- Nonces of signature/ts/nonce usage pushes (KooGallery §9.5), per seller: a replay inside the
-- window is refused by every Souk process on this database, not only by the one that saw the
-- nonce first. seen_at is protocol time (Unix ms of the real clock). Rows past the window are
-- pruned by the processes themselves (see souk-store metering/nonces.rs).
CREATE TABLE push_nonces (
    seller_id  TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (seller_id, nonce)
);
CREATE INDEX push_nonces_by_age ON push_nonces (seen_at);
