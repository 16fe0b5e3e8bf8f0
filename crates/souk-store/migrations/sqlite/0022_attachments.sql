-- Attachments of an order (requirements, delivery evidence, refund records). The bytes live in
-- the blob store (local filesystem or S3-compatible) under `storage_key`; this row is what
-- proves them: size and sha256 taken while streaming the upload.
CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    uploader_id   TEXT NOT NULL REFERENCES parties (id),
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256        TEXT NOT NULL,
    storage_key   TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX attachments_by_order ON attachments (order_id, id);
