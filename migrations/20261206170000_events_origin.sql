-- Events born in Redis (a queue's admissions, time-outs and departures,
-- written by its scripts into a STREAM) are moved here by the drain
-- (src/events/drain.rs). `origin` is the entry's stream id: two instances
-- draining the same entries, or one draining again after a lost reply, write
-- each event once.
ALTER TABLE events ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX events_origin ON events (queue, origin) WHERE origin IS NOT NULL;
