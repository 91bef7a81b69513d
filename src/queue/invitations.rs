//! Presale invitations: codes an operator creates for a queue, each usable a
//! number of times, optionally by one user only and before a time. A join that
//! carries one before the queue's opening enters the line at once instead of
//! the pre-queue (the join gate decides when a code is needed, `JoinPermit`).
//!
//! Postgres counts the uses, so a use is counted once whichever instance the
//! join reaches: a redemption is one statement that takes a use under the
//! code's row lock and records who took it. One use per user and code: the
//! same user joining again with it is let in without using another.

use base64::Engine;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tracing::Instrument;

use super::QueueError;
use crate::store::db::Db;
use crate::telemetry::otel;

/// The most codes one call makes.
pub(crate) const MOST_PER_BATCH: u32 = 10_000;

/// What a batch of codes allows.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    /// Uses of each code.
    pub(crate) uses: u32,
    /// The one user who may use them, as the join names users; `None`: anyone.
    pub(crate) user_id: Option<String>,
    /// Usable only before this time.
    pub(crate) valid_until: Option<DateTime<Utc>>,
}

/// One code and what is left of it.
#[derive(Debug, Clone)]
pub(crate) struct Invitation {
    pub(crate) code: String,
    pub(crate) uses: i32,
    pub(crate) uses_left: i32,
    pub(crate) user_id: Option<String>,
    pub(crate) valid_until: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
}
crate::store::rows::from_row!(Invitation {
    code,
    uses,
    uses_left,
    user_id,
    valid_until,
    created_at
});

/// A code accepted for a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redeemed {
    /// This join took one of its uses.
    Now,
    /// The user had taken a use of it before; no other is taken.
    Before,
}

/// What the redemption statement found, to tell the refusals apart.
struct Outcome {
    taken: bool,
    found: bool,
    fits: bool,
    expired: bool,
    redeemed_before: bool,
}
crate::store::rows::from_row!(Outcome {
    taken,
    found,
    fits,
    expired,
    redeemed_before
});

/// The primary key of `queue_invitation_redemptions`: a second use by the same user.
const ONCE_PER_USER: &str = "queue_invitation_redemptions_once";

#[derive(Clone)]
pub(crate) struct Invitations {
    db: Db,
}

impl Invitations {
    pub(crate) fn new(db: Db) -> Self {
        Invitations { db }
    }

    /// Makes `count` codes of `queue` under `terms`; answers them.
    pub(crate) async fn create(&self, queue: &str, count: u32, terms: &Terms) -> Result<Vec<String>, QueueError> {
        let codes: Vec<String> = (0..count).map(|_| new_code()).collect();
        // Codes whose answer was lost are never shown, so never used: asking
        // again for new ones is safe.
        let (made, queue, terms) = (codes.clone(), queue.to_owned(), terms.clone());
        self.db
            .bounded_change(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO queue_invitations (code, queue, uses, uses_left, user_id, valid_until)
                         SELECT code, $2, $3, $3, $4, $5 FROM unnest($1::text[]) AS code",
                    )
                    .bind(made)
                    .bind(queue)
                    .bind(i32::try_from(terms.uses).unwrap_or(i32::MAX))
                    .bind(terms.user_id.as_deref())
                    .bind(terms.valid_until)
                    .execute(connection)
                    .instrument(otel::sql("invitations.create"))
                    .await?;
                    Ok::<_, QueueError>(())
                })
            })
            .await?;
        Ok(codes)
    }

    /// Every code of `queue`, oldest first.
    pub(crate) async fn list(&self, queue: &str) -> Result<Vec<Invitation>, QueueError> {
        let queue = queue.to_owned();
        self.db
            .bounded(move |connection| {
                Box::pin(async move {
                    let invitations = sqlx::query_as(
                        "SELECT code, uses, uses_left, user_id, valid_until, created_at
                         FROM queue_invitations WHERE queue = $1 ORDER BY created_at, code",
                    )
                    .bind(queue)
                    .fetch_all(connection)
                    .instrument(otel::sql("invitations.list"))
                    .await?;
                    Ok::<_, QueueError>(invitations)
                })
            })
            .await
    }

    /// Takes a use of `code` for `user_id` joining `queue`, unless the user
    /// took one before.
    ///
    /// One statement: the `UPDATE` holds the code's row lock, so concurrent
    /// redemptions by different users take the uses one after another, each
    /// seeing the count the one before left (`uses_left > 0` is checked again
    /// on the locked row). The same user twice at once: both may pass the
    /// `NOT EXISTS` (it reads the statement's snapshot), but the second's
    /// insert then meets the first's row under the primary key and the whole
    /// statement is rolled back, its use given back: that refusal is read as
    /// "redeemed before".
    pub(crate) async fn redeem(&self, queue: &str, code: &str, user_id: &str) -> Result<Redeemed, QueueError> {
        // Anyone can send the header: what cannot be one of our codes is
        // refused here, without a statement on the pool payments use too.
        if !well_formed(code) {
            return Err(QueueError::InvitationInvalid);
        }
        // Without an answer in time the outcome is unknown; the same join
        // again tells (`Before` once the use was taken).
        let (queue, code, user_id) = (queue.to_owned(), code.to_owned(), user_id.to_owned());
        self.db
            .bounded_change(move |connection| {
                Box::pin(async move { redeem_on(connection, &queue, &code, &user_id).await })
            })
            .await
    }
}

async fn redeem_on(
    connection: &mut PgConnection,
    queue: &str,
    code: &str,
    user_id: &str,
) -> Result<Redeemed, QueueError> {
    let outcome: Result<Outcome, sqlx::Error> = sqlx::query_as(
        "WITH taken AS (
                 UPDATE queue_invitations SET uses_left = uses_left - 1
                 WHERE code = $1 AND queue = $2 AND (user_id IS NULL OR user_id = $3)
                   AND (valid_until IS NULL OR valid_until > now()) AND uses_left > 0
                   AND NOT EXISTS (SELECT 1 FROM queue_invitation_redemptions r
                                   WHERE r.code = $1 AND r.user_id = $3)
                 RETURNING code
             ), recorded AS (
                 INSERT INTO queue_invitation_redemptions (code, user_id)
                 SELECT code, $3 FROM taken RETURNING code
             ), found AS (
                 SELECT queue = $2 AND (user_id IS NULL OR user_id = $3) AS fits,
                        valid_until IS NOT NULL AND valid_until <= now() AS expired
                 FROM queue_invitations WHERE code = $1
             )
             SELECT EXISTS (SELECT 1 FROM recorded) AS taken,
                    EXISTS (SELECT 1 FROM found) AS found,
                    COALESCE((SELECT fits FROM found), false) AS fits,
                    COALESCE((SELECT expired FROM found), false) AS expired,
                    EXISTS (SELECT 1 FROM queue_invitation_redemptions r
                            WHERE r.code = $1 AND r.user_id = $3) AS redeemed_before",
    )
    .bind(code)
    .bind(queue)
    .bind(user_id)
    .fetch_one(&mut *connection)
    .instrument(otel::sql("invitations.redeem"))
    .await;
    let outcome = match outcome {
        Err(sqlx::Error::Database(err)) if err.constraint() == Some(ONCE_PER_USER) => return Ok(Redeemed::Before),
        other => other?,
    };
    match outcome {
        Outcome { taken: true, .. } => Ok(Redeemed::Now),
        Outcome { found: false, .. } | Outcome { fits: false, .. } => Err(QueueError::InvitationInvalid),
        Outcome {
            redeemed_before: true, ..
        } => Ok(Redeemed::Before),
        Outcome { expired: true, .. } => Err(QueueError::InvitationExpired),
        Outcome { .. } => {
            // No use was left when this statement took the row's lock. The
            // same user's own redemption may have taken the last one while
            // this statement waited for the lock (its snapshot predates
            // it): a fresh read tells.
            let before: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM queue_invitation_redemptions WHERE code = $1 AND user_id = $2)",
            )
            .bind(code)
            .bind(user_id)
            .fetch_one(&mut *connection)
            .instrument(otel::sql("invitations.redeemed_before"))
            .await?;
            if before {
                Ok(Redeemed::Before)
            } else {
                Err(QueueError::InvitationUsedUp)
            }
        }
    }
}

/// A code: 128 random bits, base64url, behind a prefix that says what it is.
fn new_code() -> String {
    let bits: [u8; 16] = rand::random();
    format!("inv_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bits))
}

/// The shape `new_code` gives: `inv_` and 22 base64url characters.
fn well_formed(code: &str) -> bool {
    code.strip_prefix("inv_").is_some_and(|bits| {
        bits.len() == 22
            && bits
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::{new_code, well_formed};

    #[test]
    fn codes_carry_128_random_bits_in_a_header_safe_alphabet() {
        let (one, other) = (new_code(), new_code());
        assert_ne!(one, other);
        assert_eq!(one.len(), "inv_".len() + 22);
        assert!(one[4..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn only_the_shape_of_a_code_reaches_postgres() {
        assert!(well_formed(&new_code()));
        for junk in [
            "",
            "inv_",
            "nope",
            "inv_short",
            &format!("inv_{}", "!".repeat(22)),
            &"inv_A".repeat(40),
        ] {
            assert!(!well_formed(junk), "{junk}");
        }
    }
}
