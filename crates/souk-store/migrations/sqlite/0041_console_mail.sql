-- E-mail for the consoles' people: the outbox the mail worker drains, the language each login
-- reads mail in, and password-reset tokens.

-- The language a person's mail is written in: the one they last logged in with.
ALTER TABLE console_users ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';

-- One row per (event, recipient), written in the transaction that records the event (a
-- message-centre notice, a password-reset request), so that no mail is lost; the unique key
-- makes a second row for the same event and address impossible, so none is sent twice.
-- state: pending -> sent | failed (gave up after smtp.max_attempts) | skipped (no SMTP set up).
CREATE TABLE email_outbox (
    id               TEXT PRIMARY KEY,
    event_key        TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    lang             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    -- A console path the mail links to, e.g. /messages.
    link             TEXT,
    -- Sealed with the master key (a password-reset token); erased once the mail is sent.
    secret_sealed    TEXT,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    CONSTRAINT email_outbox_event_recipient_unique UNIQUE (event_key, recipient)
);
CREATE INDEX email_outbox_due ON email_outbox (state, next_attempt_at);

-- Password resets: only the SHA-256 of the token mailed is kept; a token works once, until
-- expires_at.
CREATE TABLE console_password_resets (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES console_users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX console_password_resets_by_user ON console_password_resets (user_id, created_at);
