-- +goose Up
-- Personal access tokens for scripts. Only the token's SHA-256 is kept;
-- the prefix helps its owner tell tokens apart.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- In-app notices: a learner hears of new feedback on a submission.
CREATE TABLE notices (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL,
    link          TEXT NOT NULL DEFAULT '',
    submission_id TEXT REFERENCES submissions (id) ON DELETE CASCADE,
    created_at    DATETIME NOT NULL,
    read_at       DATETIME
);
CREATE INDEX notices_user_idx ON notices (user_id, read_at);

-- Which submissions an instructor has looked at, so the rest wait for a
-- look.
CREATE TABLE submission_looks (
    submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    looked_at     DATETIME NOT NULL,
    PRIMARY KEY (submission_id, user_id)
);

-- +goose Down
DROP TABLE submission_looks;
DROP TABLE notices;
DROP TABLE api_tokens;
