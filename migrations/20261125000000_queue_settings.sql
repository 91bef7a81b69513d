-- A queue's live settings are decisions operators made, so Postgres keeps them
-- and every change to them. Redis holds the copy the queue's scripts read: it is
-- written after each change and rebuilt from here when Redis lost it
-- (src/queue/settings/). A column left NULL follows the configuration's default.
CREATE TABLE queue_settings (
    queue      TEXT PRIMARY KEY,
    state      TEXT CONSTRAINT queue_settings_state_check CHECK (state IN ('open', 'paused', 'closed')),
    -- Lua reads these as doubles: kept far below 2^53.
    max_active BIGINT CONSTRAINT queue_settings_max_active_check CHECK (max_active BETWEEN 0 AND 1000000000),
    admit_rate BIGINT CONSTRAINT queue_settings_admit_rate_check CHECK (admit_rate BETWEEN 0 AND 1000000000),
    -- Redis holds the opening as milliseconds since 1970.
    opens_at   TIMESTAMPTZ CONSTRAINT queue_settings_opens_at_check CHECK (opens_at >= '1970-01-01T00:00:00Z'),
    -- The knobs of adaptive admission, as the admin API names them; NULL = off.
    adaptive   JSONB,
    -- Bumped by every change. Redis's copy carries it, and an older copy never
    -- overwrites a newer one, whichever instance writes last.
    version    BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every change: who (the admin token's fingerprint), the fields it named, and
-- the settings before and after, each in the layout of the Redis hash.
CREATE TABLE queue_settings_changes (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue   TEXT NOT NULL REFERENCES queue_settings (queue),
    version BIGINT NOT NULL,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    who     TEXT NOT NULL,
    changes JSONB NOT NULL,
    before  JSONB NOT NULL,
    after   JSONB NOT NULL,
    CONSTRAINT queue_settings_changes_version_key UNIQUE (queue, version)
);
