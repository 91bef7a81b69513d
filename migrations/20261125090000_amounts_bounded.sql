-- Money is bounded so that every sum formed from it fits (src/booking/money.rs):
-- a seat's price is at most 1,000,000,000 won, a payment at most 10^15. Prices
-- up to 2^63-1 were accepted before, and their sums wrapped. NOT VALID: every
-- new or changed row is checked, while rows written before stay readable, and
-- the audit names them.
ALTER TABLE seats ADD CONSTRAINT seats_price_bounded CHECK (price <= 1000000000) NOT VALID;
ALTER TABLE reservations ADD CONSTRAINT reservations_price_bounded CHECK (price <= 1000000000) NOT VALID;
ALTER TABLE payments ADD CONSTRAINT payments_amount_bounded CHECK (amount <= 1000000000000000) NOT VALID;
