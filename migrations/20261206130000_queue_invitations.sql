-- Presale invitations: codes an operator hands out so that their holders join
-- a queue before its opening (docs/queue.md, "Presale invitations"). Postgres
-- is the one counter of their uses, whichever instance a join reaches.
CREATE TABLE queue_invitations (
    code TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    uses INTEGER NOT NULL CONSTRAINT queue_invitations_uses_positive CHECK (uses > 0),
    uses_left INTEGER NOT NULL
        CONSTRAINT queue_invitations_uses_left_in_range CHECK (uses_left >= 0 AND uses_left <= uses),
    -- The one user who may use the code, as the join names them (a number, or
    -- a UUID for the concert queues); NULL: anyone.
    user_id TEXT,
    -- Usable only before this time; NULL: no end.
    valid_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX queue_invitations_by_queue ON queue_invitations (queue, created_at);

-- Who used which code: one use per user and code, so a user who joins again
-- with the same code does not use another. The primary key's name is mapped
-- by the redemption (src/queue/invitations.rs).
CREATE TABLE queue_invitation_redemptions (
    code TEXT NOT NULL REFERENCES queue_invitations (code) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    redeemed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT queue_invitation_redemptions_once PRIMARY KEY (code, user_id)
);
