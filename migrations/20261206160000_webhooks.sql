-- Webhooks (src/events/webhooks/): the endpoints operators registered, one
-- delivery owed to an endpoint per event it asked for, and every attempt at
-- sending one, with its outcome.
CREATE TABLE webhooks (
    id          UUID PRIMARY KEY,
    url         TEXT NOT NULL,
    event_types TEXT[] NOT NULL,
    -- The Standard Webhooks secret, `whsec_` and base64: the deliveries are
    -- signed with it, so it is kept as given.
    secret      TEXT NOT NULL,
    -- The highest event `seq` whose delivery the fan-out has made for this
    -- endpoint: it starts at the last event before the registration.
    fanned_to   BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by  TEXT
);

-- One event owed to one endpoint. `webhook-id` is derived from the event, so
-- every attempt carries the same one. A delivery is sent by the instance that
-- claimed it until `leased_until`; one whose instance died is claimed again
-- after its lease. `attempts` counts claims, so an attempt cut off by a crash
-- counts too.
CREATE TABLE webhook_deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id   UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq    BIGINT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INT NOT NULL DEFAULT 0,
    next_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    leased_until TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_seq)
);

-- The claims' search: pending deliveries by when they are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';

-- Each attempt's outcome: the status the endpoint answered, or why there was
-- none. An attempt whose instance died before it was answered has no row.
CREATE TABLE webhook_attempts (
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     INT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    duration_ms INT NOT NULL,
    status      INT,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
