//! The anonymous visitors of a protected site: a place in the queue's line
//! with no user account.
//!
//! A visitor stands in the line exactly as a user does, under a line id of its
//! own: the negative of a number counted per queue in Redis. Users' ids are
//! positive (Postgres identities from 1), so the two never collide, and every
//! script, the admission step and the active set treat visitors as users with
//! no change. Counted rather than random so that consecutive visitors share
//! the line's per-user record hashes (`store::keys::META_BUCKET_SIZE` to a
//! hash) as users with neighbouring ids do. A counter Redis lost starts again
//! from the present second times 2^20, beyond every id given out before
//! unless more than a million visitors a second joined on average.
//!
//! A visitor's token is an ordinary queue token (signed, bound to the queue)
//! carrying the line id; the visitor keeps it in the `boxoffice_visitor`
//! cookie or shows it as a bearer token.

use std::time::{SystemTime, UNIX_EPOCH};

use super::token::QueueToken;
use super::QueueError;
use crate::events::{Count, QueueCounts};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::leave;

/// A visitor: its number in its queue (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Visitor(i64);

impl Visitor {
    /// The visitor standing under `line_id`, if that is a visitor's.
    pub(crate) fn of_line_id(line_id: i64) -> Option<Self> {
        (line_id < 0).then(|| Visitor(line_id.saturating_neg()))
    }

    /// The id it stands in line under.
    pub(crate) fn line_id(self) -> i64 {
        -self.0
    }

    /// The visitor as passes and answers name it: `v17`.
    pub(crate) fn name(self) -> String {
        format!("v{}", self.0)
    }

    /// A name as [`Visitor::name`] writes it.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        let number: i64 = name.strip_prefix('v')?.parse().ok()?;
        (number > 0).then_some(Visitor(number))
    }
}

/// Gives visitors their ids and lets them leave.
#[derive(Clone)]
pub(crate) struct Visitors {
    redis: Redis,
    keys: Keys,
    /// Departures, for `queue.counts`.
    counts: QueueCounts,
}

impl Visitors {
    pub(crate) fn new(redis: Redis, keys: Keys, counts: QueueCounts) -> Self {
        Visitors { redis, keys, counts }
    }

    /// A visitor never seen in `queue` before.
    pub(crate) async fn arrive(&self, queue: &str) -> Result<Visitor, QueueError> {
        let key = &self.keys.queue(queue).visitors;
        let restart = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
            << 20;
        let mut redis = self.redis.connection().await?;
        // One key, so one slot: a pipeline is fine on a Cluster.
        let (_, number): (Option<String>, i64) = redis::pipe()
            .cmd("SET")
            .arg(key)
            .arg(restart)
            .arg("NX")
            .cmd("INCR")
            .arg(key)
            .query_async(&mut redis)
            .await?;
        Ok(Visitor(number.max(1)))
    }

    /// Gives up the place `token` holds (waiting or admitted); true when one was held.
    pub(crate) async fn leave(&self, token: &QueueToken) -> Result<bool, QueueError> {
        let keys = self.keys.queue(&token.queue);
        let mut redis = self.redis.connection().await?;
        let left = leave::run(&mut redis, &keys, token.user_id, token.issued_s, token.nonce).await?;
        if left {
            self.counts.add(&token.queue, Count::Left, 1);
        }
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitors_stand_below_zero_and_users_never_read_as_visitors() {
        let visitor = Visitor::parse("v17").unwrap();
        assert_eq!(visitor.line_id(), -17);
        assert_eq!(Visitor::of_line_id(-17), Some(visitor));
        assert_eq!(visitor.name(), "v17");
        for user in [0, 1, 1000, i64::MAX] {
            assert_eq!(Visitor::of_line_id(user), None);
        }
        for bad in ["17", "v0", "v-3", "vx", ""] {
            assert_eq!(Visitor::parse(bad), None, "{bad}");
        }
    }
}
