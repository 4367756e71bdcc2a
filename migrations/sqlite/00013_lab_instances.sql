-- +goose Up
-- The running lab instances of every replica: whose they are, what they
-- run, and which replica holds the live part. The per-learner and
-- per-server limits are counted here, so they hold across replicas; a
-- replica renews heartbeat_ms of what it holds, and rows whose heartbeat
-- stopped are taken over or swept. Times are Unix milliseconds.
CREATE TABLE lab_instances (
    id TEXT PRIMARY KEY,
    lab TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    design TEXT NOT NULL,
    holder TEXT NOT NULL,
    holder_url TEXT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX lab_instances_owner ON lab_instances (owner_id, lab);
CREATE INDEX lab_instances_holder ON lab_instances (holder);

-- +goose Down
DROP TABLE lab_instances;
