-- +goose Up
-- A grading run holds a lease on its submission: the worker renews it every
-- few seconds, and a run whose lease ran out (its worker was killed) is
-- handed to another worker at once instead of after the queue's long
-- rescue delay. Two workers never grade one submission at once: a run
-- starts only on a submission that is queued or whose lease has expired.
ALTER TABLE submissions ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE submissions ADD COLUMN lease_until TIMESTAMPTZ;
-- Runs cut short by a lost worker; after a few the submission is given up.
ALTER TABLE submissions ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
-- The technical side of a result (why containers did not start, what
-- failed), for instructors and admins; learners read message.
ALTER TABLE submissions ADD COLUMN staff_detail TEXT NOT NULL DEFAULT '';
CREATE INDEX submissions_status_lease_idx ON submissions (status, lease_until);

-- +goose Down
DROP INDEX submissions_status_lease_idx;
ALTER TABLE submissions DROP COLUMN staff_detail;
ALTER TABLE submissions DROP COLUMN interruptions;
ALTER TABLE submissions DROP COLUMN lease_until;
ALTER TABLE submissions DROP COLUMN lease_owner;
