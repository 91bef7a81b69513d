-- The reconciler reads the sales of the last few seconds every second, to teach
-- Redis any sale whose gateway died between commit and Redis.
CREATE INDEX reservations_created_idx ON reservations (created_at);
