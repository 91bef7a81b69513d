-- An idempotent request's answer is no longer kept as JSON beside its key: the
-- key points at the ledger rows its request wrote, and a retry's answer is
-- rebuilt from those rows (and the payments and reservations they name) by the
-- same Rust code that built the first answer, so the answer's shape has one
-- owner and renaming a field cannot break a replay.
ALTER TABLE idempotency_keys ADD COLUMN ledger_ids BIGINT[];
UPDATE idempotency_keys k SET ledger_ids = ARRAY(
    SELECT l.id FROM balance_ledger l
    WHERE l.user_id = k.user_id AND l.idempotency_key = k.key AND l.created_at >= k.created_at
    ORDER BY l.id);
-- A key whose effect left no ledger row cannot be answered; a retry runs anew.
DELETE FROM idempotency_keys WHERE cardinality(ledger_ids) = 0;
ALTER TABLE idempotency_keys
    ALTER COLUMN ledger_ids SET NOT NULL,
    DROP COLUMN response_body;

-- Nothing ever read a payment's status: every row is a completed payment.
ALTER TABLE payments DROP COLUMN status;
