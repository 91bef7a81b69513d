-- A queue may protect a site (the admin API's `protect`: the origin, the paths
-- it guards, the session's length, the fail mode, the bypass rules), as JSON in
-- the admin API's own names; NULL = the queue protects no site.
ALTER TABLE queue_settings ADD COLUMN protect JSONB;

-- The keys with which a protected site's origin ends its visitors' sessions
-- (POST /gate/{queue}/end). Only a key's SHA-256 is kept: the key itself is
-- shown once, when it is made.
CREATE TABLE queue_origin_keys (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue      TEXT NOT NULL,
    key_sha256 BYTEA NOT NULL CONSTRAINT queue_origin_keys_key_sha256_key UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX queue_origin_keys_queue ON queue_origin_keys (queue);
