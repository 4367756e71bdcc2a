-- +goose Up
-- An instructor may unlock every step of every exercise ladder for a
-- class: its learners may then submit any step without passing the one
-- before it.
ALTER TABLE classes ADD COLUMN ladders_unlocked BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE classes DROP COLUMN ladders_unlocked;
