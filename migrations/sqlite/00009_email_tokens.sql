-- +goose Up
-- When the account's address was confirmed (an emailed link was
-- followed); NULL while it is not.
ALTER TABLE users ADD COLUMN email_verified_at DATETIME;

-- Single-use links sent by email: password resets and address
-- confirmations. Only the token's SHA-256 is kept; email is the address the
-- link went to, so a link is worthless once the account's address changes.
CREATE TABLE email_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('reset', 'verify')),
    email      TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id);

-- +goose Down
DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
