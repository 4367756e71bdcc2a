-- +goose Up
-- A class an instructor runs through the module; learners join it with
-- its code.
CREATE TABLE classes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instructor_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    join_code     TEXT NOT NULL UNIQUE,
    created_at    DATETIME NOT NULL
);
CREATE INDEX classes_instructor_idx ON classes (instructor_id);

CREATE TABLE class_members (
    class_id  INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at DATETIME NOT NULL,
    PRIMARY KEY (class_id, user_id)
);
CREATE INDEX class_members_user_idx ON class_members (user_id);

-- A lab exercise or a lesson's quiz set for a class, perhaps with a due date.
CREATE TABLE assignments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    class_id   INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    due_at     DATETIME,
    created_at DATETIME NOT NULL,
    UNIQUE (class_id, kind, ref)
);

-- An instructor's review of a submission: a score that overrides the
-- grader's (kept beside it), the reason, and feedback the learner sees.
CREATE TABLE submission_reviews (
    submission_id  TEXT PRIMARY KEY REFERENCES submissions (id) ON DELETE CASCADE,
    override_score INTEGER,
    reason         TEXT NOT NULL DEFAULT '',
    feedback       TEXT NOT NULL DEFAULT '',
    reviewer_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    updated_at     DATETIME NOT NULL
);

-- +goose Down
DROP TABLE submission_reviews;
DROP TABLE assignments;
DROP TABLE class_members;
DROP TABLE classes;
