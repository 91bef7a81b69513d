//! How a payment takes its money: the seam between the checkout, which is the
//! same for every way of paying, and each method, which is not.
//!
//! The checkout (`mod.rs`) checks the gate and the holds, sums the total, asks
//! the method to capture it, and answers with a receipt or the method's
//! refusal; a retry with an Idempotency-Key is answered from the payments the
//! key points at, whichever method made them. A method decides how it takes
//! the money and records the sale, how a replayed receipt finds the balance it
//! shows, and what the audit checks its payments against. The balance
//! (`balance.rs`) is the first and only method: one statement debits it and
//! writes the payments, reservations, ledger rows and key together.
//!
//! A second method, say a card through an external provider with its webhook,
//! is one file beside `balance.rs` and one migration (its name in the
//! `payments_method_known` check, and whatever it records of the provider),
//! plus its case in each `match` below and the route that chooses it. Its
//! capture may answer with an outcome of its own (a payment pending until the
//! provider's webhook confirms it); the checkout, the receipt and the replays
//! stay as they are.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::balance;
use crate::booking::holds::Hold;
use crate::booking::idempotency::IdempotencyKey;
use crate::booking::BookingError;
use crate::store::db::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaymentMethod {
    /// The user's balance, debited in the statement that records the sale.
    Balance,
}

/// What a method is asked to capture: the buyer's live holds and their total
/// (within the bounds of money), and the request's key, if any, which the
/// method stores with the sale, pointing at its payments.
pub(super) struct Sale<'a> {
    pub(super) user_id: i64,
    /// The queue whose admission the buyer pays with; the sale's events name it.
    pub(super) queue: &'a str,
    pub(super) holds: &'a [Hold],
    pub(super) total: i64,
    pub(super) key: Option<&'a IdempotencyKey>,
}

/// What a capture came to. A sale failed by Postgres (a seat sold meanwhile, a
/// statement that got no answer) is an error, not an outcome.
pub(super) enum Captured {
    /// The money is taken and the sale recorded, all in one commit.
    Paid(Paid),
    /// The method declined; nothing was recorded.
    Refused(Refusal),
}

/// A recorded sale: one payment per schedule, ascending, their time, and the
/// balance the receipt shows.
pub(super) struct Paid {
    pub(super) payment_ids: Vec<i64>,
    pub(super) paid_at: DateTime<Utc>,
    pub(super) balance_after: i64,
}

/// Why a method declined to take the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The balance is less than the total.
    InsufficientBalance { balance: i64, required: i64 },
}

impl From<Refusal> for BookingError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InsufficientBalance { balance, required } => {
                BookingError::InsufficientBalance { balance, required }
            }
        }
    }
}

/// One method's payments against its own record of the money it took, in the
/// audit's snapshot (sums of stored rows: `i128`, as the audit's).
pub(crate) struct MethodAudit {
    pub(crate) method: PaymentMethod,
    /// What the method's payments sum to.
    pub(crate) paid: i128,
    /// What the method's own record says it took (the ledger, for the balance).
    pub(crate) taken: i128,
    /// Payments without an entry of their amount in that record.
    pub(crate) unmatched: i64,
}

impl MethodAudit {
    /// What these figures say is wrong.
    pub(crate) fn violations(&self) -> Vec<String> {
        let (name, record) = (self.method.name(), self.method.record());
        let mut violations = Vec::new();
        if self.paid != self.taken {
            violations.push(format!(
                "{name} payments ({}) differ from the money {record} shows taken ({})",
                self.paid, self.taken
            ));
        }
        if self.unmatched > 0 {
            violations.push(format!(
                "{} {name} payment(s) have no entry of their amount in {record}",
                self.unmatched
            ));
        }
        violations
    }
}

impl PaymentMethod {
    /// Every method, for the audit.
    pub(crate) const ALL: [PaymentMethod; 1] = [PaymentMethod::Balance];

    /// As `payments.method` stores it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PaymentMethod::Balance => "balance",
        }
    }

    /// Where the method records the money it took, as the audit names it.
    fn record(self) -> &'static str {
        match self {
            PaymentMethod::Balance => "the ledger",
        }
    }

    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.name() == name)
    }

    /// What an Idempotency-Key of a payment adds to the request's fingerprint,
    /// so that a key used with another method is refused as reused. The
    /// balance adds nothing: it was the only way to pay when keys were first
    /// fingerprinted, and a retry of a key made then must still match.
    pub(super) fn key_part(self) -> Option<&'static str> {
        match self {
            PaymentMethod::Balance => None,
        }
    }

    /// Takes `sale.total` and records the sale, all or nothing.
    pub(super) async fn capture(self, db: &Db, sale: &Sale<'_>) -> Result<Captured, BookingError> {
        match self {
            PaymentMethod::Balance => balance::capture(db, sale).await,
        }
    }

    /// The balance a replayed receipt of `payment_ids` shows: what the first
    /// answer showed.
    pub(crate) async fn balance_after(
        self,
        db: &mut PgConnection,
        user_id: i64,
        payment_ids: &[i64],
    ) -> Result<i64, BookingError> {
        match self {
            PaymentMethod::Balance => balance::balance_after(db, user_id, payment_ids).await,
        }
    }

    /// This method's figures, read within the audit's snapshot.
    pub(crate) async fn audit(self, snapshot: &mut PgConnection) -> Result<MethodAudit, BookingError> {
        match self {
            PaymentMethod::Balance => balance::audit(snapshot).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_found_by_the_name_it_is_stored_under() {
        for method in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::named(method.name()), Some(method));
        }
        assert_eq!(PaymentMethod::named("card"), None);
    }
}
