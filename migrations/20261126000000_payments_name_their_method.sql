-- A payment names the method that took its money (src/booking/payments/method.rs).
-- The balance is the first method: its payments write ledger rows. A second
-- method (a card through a provider, say) takes its money elsewhere and writes
-- none, so the payment, not the ledger, is what every method has in common:
-- - payments.method: every row before this migration was paid from a balance
--   (hence the default); a second method adds its name to the CHECK, in a
--   migration of its own;
-- - an Idempotency-Key of a payment points at the payments it made, and a retry
--   is answered from them; a charge's key still points at its ledger row, the
--   one thing a charge writes. Payments are an array: a payment across a
--   concert's schedules makes one payment per schedule.
ALTER TABLE payments
    ADD COLUMN method TEXT NOT NULL DEFAULT 'balance'
    CONSTRAINT payments_method_known CHECK (method IN ('balance'));

ALTER TABLE idempotency_keys
    ADD COLUMN payment_ids BIGINT[],
    ALTER COLUMN ledger_ids DROP NOT NULL;
-- A payment's key pointed at the ledger rows it wrote, each naming its payment.
UPDATE idempotency_keys k SET
    payment_ids = ARRAY(
        SELECT l.payment_id FROM balance_ledger l
        WHERE l.id = ANY(k.ledger_ids) AND l.payment_id IS NOT NULL
        ORDER BY l.payment_id),
    ledger_ids = NULL
WHERE k.operation = 'payment';
-- A key whose effect left no payment cannot be answered; a retry runs anew.
DELETE FROM idempotency_keys WHERE cardinality(payment_ids) = 0;
ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_one_effect CHECK (num_nonnulls(ledger_ids, payment_ids) = 1);
