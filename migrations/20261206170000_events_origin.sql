-- Events born in Redis (a queue's admissions, time-outs, departures and rate
-- changes, a schedule's holds, written by their scripts into a STREAM each)
-- are moved here by the drain (src/events/drain.rs). `origin` names the
-- entry: its stream (`q:<queue>` or `s:<schedule>`) and its stream id. Two
-- instances draining the same entries, or one draining again after a lost
-- reply, write each event once.
ALTER TABLE events ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX events_origin ON events (origin) WHERE origin IS NOT NULL;
