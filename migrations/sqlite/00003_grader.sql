-- +goose Up
-- A submitted design for a lab exercise. Immutable once made, except for
-- its grading state; numbered per learner and exercise.
CREATE TABLE submissions (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab         TEXT NOT NULL,
    exercise    TEXT NOT NULL,
    number      INTEGER NOT NULL,
    design      TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    score       INTEGER,
    max_score   INTEGER NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    run         INTEGER NOT NULL DEFAULT 0,
    job_id      INTEGER,
    created_at  DATETIME NOT NULL,
    started_at  DATETIME,
    finished_at DATETIME,
    UNIQUE (user_id, exercise, number)
);
CREATE INDEX submissions_user_created_idx ON submissions (user_id, created_at);

-- One check's result in one grading run of a submission. Rows of a run
-- that did not finish (a worker killed mid-job) are removed when a later
-- run records the result.
CREATE TABLE submission_checks (
    submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    run           INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    name          TEXT NOT NULL,
    requirement   TEXT NOT NULL,
    passed        BOOLEAN NOT NULL,
    points        INTEGER NOT NULL,
    max_points    INTEGER NOT NULL,
    message       TEXT NOT NULL,
    duration_ms   REAL NOT NULL,
    chart         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (submission_id, run, seq)
);

-- +goose Down
DROP TABLE submission_checks;
DROP TABLE submissions;
