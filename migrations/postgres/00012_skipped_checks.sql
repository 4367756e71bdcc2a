-- +goose Up
-- A check the target could not take (it lacks a capability the check
-- needs) is skipped: it scores nothing either way and says why. Before
-- this column it was kept as failed with 0 of 0 points.
ALTER TABLE submission_checks ADD COLUMN skipped BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE submission_checks SET skipped = TRUE WHERE max_points = 0 AND NOT passed;

-- +goose Down
ALTER TABLE submission_checks DROP COLUMN skipped;
