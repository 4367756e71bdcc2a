-- +goose Up
-- Sessions remember the browser they were made by, so their owner can
-- tell them apart on the account page.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_user_seen_idx ON sessions (user_id, last_seen_at);

-- Access tokens get an expiry and a scope. Tokens made before this
-- migration keep working as they did (read-write) for 90 days from now,
-- so no script breaks on upgrade day.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read-write' CHECK (scope IN ('read-only', 'read-write'));
UPDATE api_tokens SET expires_at = now() + INTERVAL '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;

-- An admin's invitation to register: single use, expiring; only the
-- token's SHA-256 is kept.
CREATE TABLE invitations (
    id         BIGSERIAL PRIMARY KEY,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL DEFAULT 'learner' CHECK (role IN ('learner', 'instructor', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX invitations_email_idx ON invitations (email);

-- One-time links that claim the first admin account of a fresh server.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE setup_tokens;
DROP TABLE invitations;
ALTER TABLE api_tokens DROP COLUMN scope;
ALTER TABLE api_tokens DROP COLUMN expires_at;
DROP INDEX sessions_user_seen_idx;
ALTER TABLE sessions DROP COLUMN user_agent;
