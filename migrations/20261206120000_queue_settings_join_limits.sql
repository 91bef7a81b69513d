-- A queue's join limits (the admin API's `joinLimits`: joins a minute per
-- identity, per client IP and per network), as JSON in the admin API's own
-- names; a limit it leaves out follows the configuration, and NULL = every
-- limit follows the configuration.
ALTER TABLE queue_settings ADD COLUMN join_limits JSONB;
