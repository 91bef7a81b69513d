//! Passes ended before their expiry (the origin's checkout is done), refused
//! by every instance within a second.
//!
//! Every instance holds the list in memory ([`Revoked`], by queue), so a check never
//! asks Redis. An ending is appended to one Redis stream ([`RevocationLog`])
//! and taken into the instance's own list at once; every other instance reads
//! what is new in the stream about four times a second (`XRANGE` from the
//! last entry it read: one small call that usually answers nothing). An entry
//! lives in the list until its pass would have expired anyway; the stream is
//! trimmed of entries older than the longest session.
//!
//! If Redis loses the stream, instances keep what they hold; an instance
//! started after the loss does not learn of those endings, whose passes are
//! short-lived (a session's length at most).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use redis::RedisError;

use crate::store::redis::Redis;

/// How often each instance reads the stream: an ending reaches every
/// instance within this much (plus a call).
pub(crate) const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// Longest a session may last ([`crate::queue::settings`] refuses longer);
/// the stream keeps entries this long and an hour more.
pub(crate) const LONGEST_SESSION_S: u64 = 86_400;

/// Most entries read in one call; more are read at the next.
const READ_AT_MOST: usize = 10_000;

/// The `jti`s of ended passes by queue (an origin ends only its own queue's
/// passes), each with its pass's `exp`. Looked up by `&str`s: a check
/// allocates nothing here.
#[derive(Default)]
pub(crate) struct Revoked {
    held: RwLock<HashMap<String, HashMap<String, u64>>>,
}

impl Revoked {
    pub(crate) fn contains(&self, queue: &str, jti: &str) -> bool {
        self.held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(queue)
            .is_some_and(|ended| ended.contains_key(jti))
    }

    pub(crate) fn add(&self, queue: &str, jti: &str, exp: u64) {
        self.held
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(queue.to_string())
            .or_default()
            .insert(jti.to_string(), exp);
    }

    /// Forgets the endings of passes expired by `now_s`: they are refused as expired.
    pub(crate) fn prune(&self, now_s: u64) {
        let mut held = self.held.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for ended in held.values_mut() {
            ended.retain(|_, exp| *exp > now_s);
        }
        held.retain(|_, ended| !ended.is_empty());
    }

    pub(crate) fn len(&self) -> usize {
        let held = self.held.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.values().map(HashMap::len).sum()
    }
}

/// The Redis stream every instance's list is fed from.
pub(crate) struct RevocationLog {
    redis: Redis,
    key: String,
    /// The id of the last entry taken; `-` before the first read.
    last: Mutex<String>,
}

impl RevocationLog {
    pub(crate) fn new(redis: Redis, key: String) -> Self {
        RevocationLog {
            redis,
            key,
            last: Mutex::new("-".to_string()),
        }
    }

    /// Appends an ending, and trims entries older than the longest session.
    pub(crate) async fn publish(&self, queue: &str, jti: &str, exp: u64, now_ms: u64) -> Result<(), RedisError> {
        let oldest_ms = now_ms.saturating_sub((LONGEST_SESSION_S + 3600) * 1000);
        let mut redis = self.redis.connection().await?;
        redis::cmd("XADD")
            .arg(&self.key)
            .arg("MINID")
            .arg("~")
            .arg(oldest_ms)
            .arg("*")
            .arg("queue")
            .arg(queue)
            .arg("jti")
            .arg(jti)
            .arg("exp")
            .arg(exp)
            .query_async::<String>(&mut redis)
            .await?;
        Ok(())
    }

    /// Takes what is new in the stream into `revoked`; how many entries it read.
    pub(crate) async fn follow(&self, revoked: &Revoked) -> Result<usize, RedisError> {
        let from = {
            let last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if *last == "-" {
                last.clone()
            } else {
                format!("({last}")
            }
        };
        let mut redis = self.redis.connection().await?;
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(&self.key)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(READ_AT_MOST)
            .query_async(&mut redis)
            .await?;
        for (_, fields) in &entries {
            if let Some((queue, jti, exp)) = ended(fields) {
                revoked.add(queue, jti, exp);
            }
        }
        if let Some((id, _)) = entries.last() {
            *self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = id.clone();
        }
        Ok(entries.len())
    }
}

/// The `queue`, `jti` and `exp` of an entry's fields; an entry without them is skipped.
fn ended(fields: &[String]) -> Option<(&str, &str, u64)> {
    let (mut queue, mut jti, mut exp) = (None, None, None);
    for pair in fields.chunks_exact(2) {
        match pair[0].as_str() {
            "queue" => queue = Some(pair[1].as_str()),
            "jti" => jti = Some(pair[1].as_str()),
            "exp" => exp = pair[1].parse().ok(),
            _ => {}
        }
    }
    Some((queue?, jti?, exp?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ending_is_held_until_its_pass_would_have_expired() {
        let revoked = Revoked::default();
        revoked.add("q", "a", 100);
        revoked.add("q", "b", 200);
        revoked.prune(150);
        assert!(!revoked.contains("q", "a"));
        assert!(revoked.contains("q", "b"));
        assert!(!revoked.contains("other", "b"), "an ending is of one queue's pass");
    }

    #[test]
    fn an_entry_is_read_whatever_the_order_of_its_fields() {
        let fields = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ended(&fields(&["exp", "9", "jti", "x", "queue", "q"])),
            Some(("q", "x", 9))
        );
        assert_eq!(ended(&fields(&["queue", "q", "jti", "x"])), None);
        assert_eq!(ended(&fields(&["jti"])), None);
    }
}
