-- A key row is now written whole by the statement that makes the effect, with
-- its result: the claim states of the earlier protocol (in progress, locked at)
-- can no longer occur. Rows left by that protocol without a result never
-- completed, so they are dropped rather than kept as half-claims.
DELETE FROM idempotency_keys WHERE response_body IS NULL;
ALTER TABLE idempotency_keys
    DROP COLUMN status,
    DROP COLUMN response_status,
    DROP COLUMN locked_at,
    ALTER COLUMN response_body SET NOT NULL;
