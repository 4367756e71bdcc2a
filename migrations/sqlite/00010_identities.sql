-- +goose Up
-- An account's sign-in at an OpenID Connect provider, keyed by the pair the
-- provider promises never to reuse: its issuer and the subject it gives the
-- person. A later change of email at the provider still opens the same
-- account. One identity per provider per account, so an address handed to
-- a second person at the provider cannot attach them to the first one's
-- account.
CREATE TABLE user_identities (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    -- the address the provider gave at the last sign-in, for people who look
    email         TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL,
    last_login_at DATETIME NOT NULL,
    UNIQUE (issuer, subject),
    UNIQUE (user_id, issuer)
);

-- +goose Down
DROP TABLE user_identities;
