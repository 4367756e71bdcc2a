-- +goose Up
-- A review belongs to one class: a learner in two classes may hold two
-- different overrides of one submission, each shown only in its class.
-- The table is rebuilt keyed by (class_id, submission_id).
CREATE TABLE class_reviews (
    class_id       BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    submission_id  TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    override_score INTEGER,
    reason         TEXT NOT NULL DEFAULT '',
    feedback       TEXT NOT NULL DEFAULT '',
    reviewer_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (class_id, submission_id)
);

-- Existing reviews go to each class the reviewer teaches in which the
-- learner is a member and the exercise is assigned. A review by an admin,
-- or by an account since deleted, that teaches no such class goes to every
-- class in which the learner is a member and the exercise is assigned, as
-- it showed before. Any other review (an instructor's, made through a
-- class that did not assign the exercise) is dropped: it was never theirs
-- to make.
INSERT INTO class_reviews (class_id, submission_id, override_score, reason, feedback, reviewer_id, updated_at)
SELECT classes.id, r.submission_id, r.override_score, r.reason, r.feedback, r.reviewer_id, r.updated_at
FROM submission_reviews r
JOIN submissions s ON s.id = r.submission_id
JOIN class_members m ON m.user_id = s.user_id
JOIN classes ON classes.id = m.class_id
JOIN assignments a ON a.class_id = classes.id AND a.kind = 'exercise' AND a.ref = s.exercise
LEFT JOIN users rv ON rv.id = r.reviewer_id
WHERE classes.instructor_id = r.reviewer_id
   OR ((r.reviewer_id IS NULL OR rv.role = 'admin') AND NOT EXISTS (
        SELECT 1 FROM class_members m2
        JOIN classes c2 ON c2.id = m2.class_id
        JOIN assignments a2 ON a2.class_id = c2.id AND a2.kind = 'exercise' AND a2.ref = s.exercise
        WHERE m2.user_id = s.user_id AND c2.instructor_id = r.reviewer_id));

DROP TABLE submission_reviews;
ALTER TABLE class_reviews RENAME TO submission_reviews;
CREATE INDEX submission_reviews_submission_idx ON submission_reviews (submission_id);

-- A notice of feedback names the class whose review it tells of, so one
-- class's news does not replace another's. Old notices have none.
ALTER TABLE notices ADD COLUMN class_id BIGINT;

-- +goose Down
ALTER TABLE notices DROP COLUMN class_id;

CREATE TABLE single_reviews (
    submission_id  TEXT PRIMARY KEY REFERENCES submissions (id) ON DELETE CASCADE,
    override_score INTEGER,
    reason         TEXT NOT NULL DEFAULT '',
    feedback       TEXT NOT NULL DEFAULT '',
    reviewer_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
-- One review per submission again: the latest.
INSERT INTO single_reviews (submission_id, override_score, reason, feedback, reviewer_id, updated_at)
SELECT r.submission_id, r.override_score, r.reason, r.feedback, r.reviewer_id, r.updated_at
FROM submission_reviews r
WHERE NOT EXISTS (
    SELECT 1 FROM submission_reviews r2
    WHERE r2.submission_id = r.submission_id
      AND (r2.updated_at > r.updated_at OR (r2.updated_at = r.updated_at AND r2.class_id > r.class_id)));
DROP TABLE submission_reviews;
ALTER TABLE single_reviews RENAME TO submission_reviews;
