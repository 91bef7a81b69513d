-- A queue's challenge at the door (the admin API's `challenge`:
-- {"kind": "altcha", "complexity": N}); NULL = none.
ALTER TABLE queue_settings ADD COLUMN challenge JSONB;
