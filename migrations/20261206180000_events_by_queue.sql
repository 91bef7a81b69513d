-- A queue's report (src/events/report.rs) reads its events by type.
CREATE INDEX events_by_queue ON events (queue, type);
