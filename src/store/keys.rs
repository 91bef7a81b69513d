//! The only place Redis keys are named.
//!
//! Every key of one queue carries the queue as a Redis Cluster hash tag
//! (`{bo:q:default}:waiting`), and every key of one schedule carries the schedule
//! (`{bo:s:7}:holds`), so each Lua script touches a single slot and stays valid on
//! a cluster. The admission script also derives per-user metadata buckets from
//! [`QueueKeys::meta_prefix`] and [`META_BUCKET_SIZE`] (same tag, same slot).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};

use redis::{RedisWrite, ToRedisArgs};

/// Users per metadata hash. Small hashes are stored as compact listpacks by Redis
/// (`hash-max-listpack-entries` is 128), which is what keeps a waiting user cheap.
/// A listpack lookup scans it, so smaller is faster and larger is leaner; the
/// measurements behind 32 are in loadtest/RESULTS.md.
pub(crate) const META_BUCKET_SIZE: i64 = 32;

/// Seconds in a queue's booking-health ring: the longest adaptive window is one
/// less (the slot being written is the current second).
pub(crate) const HEALTH_SLOTS: usize = 8;

/// How long a queue's per-user records outlive their last write.
pub(crate) const META_TTL_S: u64 = 24 * 3600;

#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: Arc<str>,
    /// Built once per queue: the hot paths then format only the per-user bucket.
    /// Queues are the configured default plus one per concert, so this stays small.
    queues: Arc<RwLock<HashMap<String, Arc<QueueKeys>>>>,
}

/// Keys of one waiting queue.
#[derive(Clone, Debug)]
pub(crate) struct QueueKeys {
    /// ZSET user id -> join sequence number (first come, first served).
    pub(crate) waiting: String,
    /// ZSET user id -> expiry of the active token, ms of Redis `TIME`.
    pub(crate) active: String,
    /// HASH of counters: sequence, rate bucket, measured throughput, totals.
    pub(crate) stats: String,
    /// HASH of the live settings operators change through the admin API: a
    /// copy of Postgres's, with the `version` it copies.
    pub(crate) settings: String,
    /// ZSET user id -> lottery ticket, of those who joined before the opening.
    pub(crate) prequeue: String,
    /// STRING counter of the anonymous visitors of a protected site (`queue/visitors.rs`).
    pub(crate) visitors: String,
    /// HASHes of booking latency, one per second of a ring (see lua/queue_health.lua).
    pub(crate) health: [String; HEALTH_SLOTS],
    /// STREAM of the queue's events born in its scripts (admitted, timed out,
    /// left), until the drain moves them into Postgres (`events/drain.rs`).
    pub(crate) events: String,
    /// Prefix of the STRINGs that mark a challenge's solution as taken (`queue/challenge.rs`).
    pub(crate) spent_challenge_prefix: String,
    /// Prefix of the HASHes user id -> 20 bytes: issued_s, nonce, last seen, sequence (see lua/queue_standing.lua).
    pub(crate) meta_prefix: String,
}

/// Keys of one concert schedule's seats.
#[derive(Clone, Debug)]
pub(crate) struct ScheduleKeys {
    /// HASH seat number -> "user id:expiry ms".
    pub(crate) holds: String,
    /// SET of sold seat numbers; member "0" marks it as rebuilt from Postgres.
    pub(crate) sold: String,
    /// HASH user id -> comma-separated seat numbers that user holds.
    pub(crate) user_holds: String,
    /// STREAM of the schedule's events born in its scripts (seats held and
    /// released), until the drain moves them into Postgres (`events/drain.rs`).
    pub(crate) events: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: Arc::from(prefix),
            queues: Arc::default(),
        }
    }

    pub(crate) fn queue(&self, queue: &str) -> Arc<QueueKeys> {
        if let Some(keys) = self.queues.read().unwrap_or_else(|p| p.into_inner()).get(queue) {
            return keys.clone();
        }
        let keys = Arc::new(self.build_queue_keys(queue));
        self.queues
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(queue.to_string(), keys.clone());
        keys
    }

    fn build_queue_keys(&self, queue: &str) -> QueueKeys {
        let tag = format!("{{{}:q:{}}}", self.prefix, queue);
        QueueKeys {
            waiting: format!("{tag}:waiting"),
            active: format!("{tag}:active"),
            stats: format!("{tag}:stats"),
            settings: format!("{tag}:settings"),
            prequeue: format!("{tag}:prequeue"),
            visitors: format!("{tag}:visitors"),
            events: format!("{tag}:events"),
            health: std::array::from_fn(|slot| format!("{tag}:health:{slot}")),
            meta_prefix: format!("{tag}:meta:"),
            spent_challenge_prefix: format!("{tag}:altcha:"),
        }
    }

    /// Counter bumped whenever the catalog changes; instances reload when it moves.
    pub(crate) fn catalog_version(&self) -> String {
        format!("{{{}:catalog}}:version", self.prefix)
    }

    /// STREAM of ended admission passes (`jti`, `exp`), which every instance
    /// follows into its in-memory revocation list (`pass/revocation.rs`).
    pub(crate) fn revoked_passes(&self) -> String {
        format!("{{{}:passes}}:revoked", self.prefix)
    }

    /// A `SCAN` pattern matching every key of one queue.
    pub(crate) fn queue_pattern(&self, queue: &str) -> String {
        format!("{{{}:q:{}}}:*", self.prefix, queue)
    }

    pub(crate) fn schedule(&self, schedule_id: i64) -> ScheduleKeys {
        let tag = format!("{{{}:s:{}}}", self.prefix, schedule_id);
        ScheduleKeys {
            holds: format!("{tag}:holds"),
            sold: format!("{tag}:sold"),
            user_holds: format!("{tag}:user_holds"),
            events: format!("{tag}:events"),
        }
    }
}

impl QueueKeys {
    /// The mark of a solved challenge, by its signature, written straight
    /// into the join's command.
    pub(crate) fn spent_challenge_arg<'a>(&'a self, signature: &'a [u8; 32]) -> SpentChallenge<'a> {
        SpentChallenge {
            prefix: &self.spent_challenge_prefix,
            signature,
        }
    }

    pub(crate) fn meta_bucket(&self, user_id: i64) -> String {
        format!("{}{}", self.meta_prefix, user_id.div_euclid(META_BUCKET_SIZE))
    }

    /// The same key as [`QueueKeys::meta_bucket`], written straight into a
    /// command's buffer: a batch of polls names one bucket per entry.
    pub(crate) fn meta_bucket_arg(&self, user_id: i64) -> MetaBucket<'_> {
        MetaBucket {
            prefix: &self.meta_prefix,
            bucket: user_id.div_euclid(META_BUCKET_SIZE),
        }
    }
}

/// A user's meta bucket key as a command argument (see [`QueueKeys::meta_bucket_arg`]).
pub(crate) struct MetaBucket<'a> {
    prefix: &'a str,
    bucket: i64,
}

impl ToRedisArgs for MetaBucket<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // Writes into memory: they cannot fail.
        let _ = arg.write_all(self.prefix.as_bytes());
        let _ = arg.write_all(itoa::Buffer::new().format(self.bucket).as_bytes());
    }
}

/// A challenge's mark as a command argument: the queue's prefix and the
/// signature in hex.
pub(crate) struct SpentChallenge<'a> {
    prefix: &'a str,
    signature: &'a [u8; 32],
}

impl ToRedisArgs for SpentChallenge<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        let _ = arg.write_all(self.prefix.as_bytes());
        let _ = arg.write_all(hex::encode(self.signature).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_share_one_hash_tag() {
        let keys = Keys::new("bo").queue("hero-autumn");
        assert_eq!(keys.waiting, "{bo:q:hero-autumn}:waiting");
        assert_eq!(keys.meta_bucket(1234), "{bo:q:hero-autumn}:meta:38");
        assert_eq!(
            redis::ToRedisArgs::to_redis_args(&keys.meta_bucket_arg(1234)),
            vec![keys.meta_bucket(1234).into_bytes()]
        );
        let last_of_first = META_BUCKET_SIZE - 1;
        assert_eq!(keys.meta_bucket(0), keys.meta_bucket(last_of_first));
        assert_ne!(keys.meta_bucket(last_of_first), keys.meta_bucket(META_BUCKET_SIZE));
        for key in [
            &keys.active,
            &keys.stats,
            &keys.settings,
            &keys.meta_prefix,
            &keys.health[0],
            &keys.health[HEALTH_SLOTS - 1],
        ] {
            assert!(key.starts_with("{bo:q:hero-autumn}:"), "{key}");
        }
        assert_eq!(Keys::new("bo").queue_pattern("hero-autumn"), "{bo:q:hero-autumn}:*");
    }

    #[test]
    fn schedule_keys_share_one_hash_tag() {
        let keys = Keys::new("t1").schedule(7);
        for key in [&keys.holds, &keys.sold, &keys.user_holds] {
            assert!(key.starts_with("{t1:s:7}:"), "{key}");
        }
    }
}
