-- +goose Up
-- The archive a learner uploaded for a build exercise, as sent (at most
-- 10 MB): the grader builds the service from it, a regrade builds it
-- again, and the learner and their class's staff can download it. language
-- is what it is built as (go, python, or dockerfile for its own).
CREATE TABLE submission_archives (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id) ON DELETE CASCADE,
    language      TEXT NOT NULL,
    format        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    data          BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- What a grading run of a build submission printed: the image build's
-- output and each replica's (a JSON object, replica name → text), each
-- capped with its last lines kept. Only the latest run's row is kept.
CREATE TABLE submission_logs (
    submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    run           INTEGER NOT NULL,
    build_log     TEXT NOT NULL DEFAULT '',
    replica_logs  TEXT NOT NULL DEFAULT '{}',
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (submission_id, run)
);

-- +goose Down
DROP TABLE submission_logs;
DROP TABLE submission_archives;
