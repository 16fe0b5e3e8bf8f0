-- Seller vouchers 代金券 (business rules §8.2, issue 12): a seller issues a buyer a voucher of a
-- face value for its own products (or some of their SKUs), valid from/until, with the flags
-- "not for special-price packages" and "not with promotions". An order records the voucher
-- part it is paid with; paying takes it off the voucher's remaining balance (compare-and-set on
-- `remaining_minor`), a refund puts the voucher part back. Every movement of a voucher's
-- balance is a `voucher_entries` row, so remaining = face + Σ entries (the settlement check
-- verifies it).

CREATE TABLE vouchers (
    id                  TEXT PRIMARY KEY,
    seller_id           TEXT NOT NULL REFERENCES parties (id),
    buyer_id            TEXT NOT NULL REFERENCES parties (id),
    face_minor          INTEGER NOT NULL CHECK (face_minor > 0),
    remaining_minor     INTEGER NOT NULL CHECK (remaining_minor >= 0),
    currency            TEXT NOT NULL,
    product_ids         TEXT NOT NULL,
    sku_ids             TEXT NOT NULL,
    valid_from          INTEGER NOT NULL,
    valid_until         INTEGER NOT NULL,
    not_for_packages    INTEGER NOT NULL,
    not_with_promotions INTEGER NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    note                TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK (remaining_minor <= face_minor)
);
CREATE INDEX vouchers_by_seller ON vouchers (seller_id, id);
CREATE INDEX vouchers_by_buyer ON vouchers (buyer_id, id);

CREATE TABLE voucher_entries (
    id           TEXT PRIMARY KEY,
    voucher_id   TEXT NOT NULL REFERENCES vouchers (id),
    order_id     TEXT NOT NULL REFERENCES orders (id),
    kind         TEXT NOT NULL CHECK (kind IN ('use', 'refund')),
    refund_id    TEXT,
    amount_minor INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX voucher_entries_by_voucher ON voucher_entries (voucher_id, id);
CREATE INDEX voucher_entries_by_order ON voucher_entries (order_id);
-- An order uses its voucher once.
CREATE UNIQUE INDEX voucher_entries_one_use_per_order ON voucher_entries (order_id)
    WHERE kind = 'use';

ALTER TABLE orders ADD COLUMN voucher_id TEXT;
ALTER TABLE orders ADD COLUMN voucher_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN voucher_minor INTEGER NOT NULL DEFAULT 0;
