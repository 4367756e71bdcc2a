-- +goose Up
-- A learner's attempts at estimation drills: the problem is the kind and
-- the seed it was generated from (so it can be shown and graded again),
-- the answers as typed (JSON by field), whether every quantity was within
-- the tolerance, and how long the learner took.
CREATE TABLE drill_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    answers     TEXT NOT NULL,
    right_count INTEGER NOT NULL,
    asked       INTEGER NOT NULL,
    correct     BOOLEAN NOT NULL,
    started_at  DATETIME NOT NULL,
    finished_at DATETIME NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX drill_attempts_user_finished_idx ON drill_attempts (user_id, finished_at);

-- +goose Down
DROP TABLE drill_attempts;
