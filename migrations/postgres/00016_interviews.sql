-- +goose Up
-- A learner's mock interview on one problem: its timer (the time banked
-- while paused plus, while running, the time since running_since) and
-- when it ended.
CREATE TABLE interview_sessions (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    problem_slug  TEXT NOT NULL,
    limit_seconds INTEGER NOT NULL,
    banked_ms     BIGINT NOT NULL DEFAULT 0,
    running_since TIMESTAMPTZ,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ
);
CREATE INDEX interview_sessions_user_idx ON interview_sessions (user_id, started_at);

-- One stage of a session: the learner's answer (Markdown), the diagram
-- (JSON) of the design stages, and once closed, the checkpoints ticked
-- (a JSON array of indexes) out of how many.
CREATE TABLE interview_stages (
    session_id  BIGINT NOT NULL REFERENCES interview_sessions (id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,
    answer      TEXT NOT NULL DEFAULT '',
    diagram     TEXT NOT NULL DEFAULT '',
    ticked      TEXT NOT NULL DEFAULT '[]',
    checkpoints INTEGER NOT NULL DEFAULT 0,
    closed_at   TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, stage)
);

-- An instructor's review of a session, in a class that assigns its
-- problem: the checkpoints the instructor ticks per stage (a JSON object
-- of stage to indexes), the score they make (percent) and feedback.
CREATE TABLE interview_reviews (
    session_id  BIGINT NOT NULL REFERENCES interview_sessions (id) ON DELETE CASCADE,
    class_id    BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    ticked      TEXT NOT NULL DEFAULT '{}',
    score       INTEGER NOT NULL,
    feedback    TEXT NOT NULL DEFAULT '',
    reviewer_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, class_id)
);
CREATE INDEX interview_reviews_class_idx ON interview_reviews (class_id);

-- +goose Down
DROP TABLE interview_reviews;
DROP TABLE interview_stages;
DROP TABLE interview_sessions;
