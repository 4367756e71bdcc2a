-- +goose Up
-- A learner's path through the lessons: opened, and perhaps completed.
CREATE TABLE lesson_progress (
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_slug    TEXT NOT NULL,
    first_opened_at TIMESTAMPTZ NOT NULL,
    last_opened_at TIMESTAMPTZ NOT NULL,
    completed_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, lesson_slug)
);

-- Every graded quiz attempt, with the answers as given (JSON).
CREATE TABLE quiz_attempts (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_slug TEXT NOT NULL,
    score       INTEGER NOT NULL,
    max_score   INTEGER NOT NULL,
    passed      BOOLEAN NOT NULL,
    answers     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX quiz_attempts_user_lesson_idx ON quiz_attempts (user_id, lesson_slug);

-- A learner's written answer to an interview question and self-rating.
CREATE TABLE question_answers (
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question_slug  TEXT NOT NULL,
    answer         TEXT NOT NULL,
    revealed_at    TIMESTAMPTZ,
    rating         INTEGER,
    key_points_hit TEXT NOT NULL DEFAULT '[]',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, question_slug)
);

-- Spaced-repetition state per learner and card (SM-2).
CREATE TABLE card_states (
    user_id          BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    card_id          TEXT NOT NULL,
    ease             DOUBLE PRECISION NOT NULL,
    interval_days    INTEGER NOT NULL,
    repetitions      INTEGER NOT NULL,
    lapses           INTEGER NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    last_reviewed_at TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, card_id)
);
CREATE INDEX card_states_due_idx ON card_states (user_id, due_at);

CREATE TABLE card_reviews (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    card_id     TEXT NOT NULL,
    grade       INTEGER NOT NULL,
    reviewed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX card_reviews_user_time_idx ON card_reviews (user_id, reviewed_at);

-- Checklist outcomes a learner ticked by hand.
CREATE TABLE outcome_ticks (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    outcome_id TEXT NOT NULL,
    ticked_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, outcome_id)
);

-- +goose Down
DROP TABLE outcome_ticks;
DROP TABLE card_reviews;
DROP TABLE card_states;
DROP TABLE question_answers;
DROP TABLE quiz_attempts;
DROP TABLE lesson_progress;
