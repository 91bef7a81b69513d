//! The bounds of money, chosen so that every sum the service forms fits.
//!
//! A seat's price is at most [`MAX_PRICE`]; a hold's or a payment's total, a
//! charge and a balance at most [`MAX_AMOUNT`]. Sums of bounded amounts are
//! formed here with checked arithmetic, so a total can never wrap: one that
//! would pass the bound is refused (`AMOUNT_OUT_OF_RANGE`). [`MAX_AMOUNT`] is
//! below 2^53, so every amount is exact as a JavaScript client's number (and
//! as a Lua double, though no Lua script sees a price: holds are seat numbers,
//! and totals are summed here). Postgres holds the same bounds as `CHECK`
//! constraints on new rows (migration `…_amounts_bounded`); rows written before
//! them may be larger, so sums of stored rows stay `numeric` ([`parse_sum`]),
//! and the audit names what is out of bounds.

use super::BookingError;

/// The largest price of a seat, in won.
pub(crate) const MAX_PRICE: i64 = 1_000_000_000;

/// The largest total, charge or balance, in won.
pub(crate) const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

// Checked when compiling: every amount is exact as a double, and a price is an amount.
const _: () = assert!(MAX_AMOUNT < 1 << 53 && MAX_PRICE <= MAX_AMOUNT);

/// What `prices` cost together: each a seat's price (0 to [`MAX_PRICE`]) and
/// the total at most [`MAX_AMOUNT`], else `AmountOutOfRange`.
pub(crate) fn price_total(prices: impl IntoIterator<Item = i64>) -> Result<i64, BookingError> {
    bounded_sum(prices, MAX_PRICE)
}

/// The sum of `amounts`, each and all together at most [`MAX_AMOUNT`].
pub(crate) fn amount_total(amounts: impl IntoIterator<Item = i64>) -> Result<i64, BookingError> {
    bounded_sum(amounts, MAX_AMOUNT)
}

fn bounded_sum(items: impl IntoIterator<Item = i64>, item_max: i64) -> Result<i64, BookingError> {
    items.into_iter().try_fold(0i64, |total, item| {
        (0..=item_max)
            .contains(&item)
            .then(|| total.checked_add(item))
            .flatten()
            .filter(|total| *total <= MAX_AMOUNT)
            .ok_or(BookingError::AmountOutOfRange)
    })
}

/// A sum Postgres computed as `numeric` and sent as text (sqlx reads no
/// `numeric` without a decimal crate). A sum of `bigint`s is an integer, and
/// one of fewer than 2^64 rows fits an `i128`.
pub(crate) fn parse_sum(text: &str) -> Result<i128, BookingError> {
    text.parse()
        .map_err(|_| BookingError::Inconsistent(format!("Postgres summed to `{text}`, not an integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_that_would_wrap_are_refused_not_wrapped() {
        // The prices: three seats summing to 2 after wrapping, two to -2.
        let third = 6_148_914_691_236_517_206;
        assert!(price_total([third; 3]).is_err());
        assert!(price_total([i64::MAX, i64::MAX]).is_err());
        assert!(amount_total([i64::MAX, 1]).is_err());
        assert!(price_total([-1]).is_err(), "a negative price is out of range too");
        assert!(price_total([MAX_PRICE + 1]).is_err());
        assert!(amount_total([MAX_AMOUNT, 1]).is_err());
        assert_eq!(price_total([MAX_PRICE; 4]).ok(), Some(4 * MAX_PRICE));
        assert_eq!(amount_total([MAX_AMOUNT - 1, 1]).ok(), Some(MAX_AMOUNT));
        assert_eq!(price_total([]).ok(), Some(0));
    }

    #[test]
    fn postgres_holds_the_same_bounds() {
        let migration = include_str!("../../migrations/20261125090000_amounts_bounded.sql");
        for bound in [format!("price <= {MAX_PRICE}"), format!("amount <= {MAX_AMOUNT}")] {
            assert!(migration.contains(&bound), "the migration says {bound}");
        }
    }
}
