-- What happened in a sale, for GET /admin/events (src/events/). A row is
-- written in the same statement as what it describes, so it commits or rolls
-- back with it. `id` is the order of insertion, which is not the order of
-- commit; `seq`, the public id, is given by the sequencer once the row is
-- committed, in one increasing run (NULL until then). Readers read only rows
-- with a `seq`.
CREATE TABLE events (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq   BIGINT UNIQUE,
    type  TEXT NOT NULL,
    queue TEXT,
    time  TIMESTAMPTZ NOT NULL DEFAULT now(),
    data  JSONB NOT NULL
);

-- The sequencer's work: the committed rows it has not numbered yet.
CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;
