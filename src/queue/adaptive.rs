//! Adaptive admission: in this mode a queue's admission rate follows the
//! booking side's health instead of a fixed number.
//!
//! Every instance times each hold and payment it answers ([`BookingHealth::record`],
//! called by the HTTP layer with the queue of the request's token) and adds what
//! it saw to the queue's health record in Redis twice a second
//! ([`BookingHealth::report`]): a ring of per-second hashes of latency buckets,
//! so the figures of all instances meet in one place and one second's samples
//! land in one hash whichever instance served them (`lua/queue_health.lua`).
//!
//! Once a second, the admission step first runs the controller
//! (`lua/queue_adapt.lua`), which reads the last `BOXOFFICE_ADAPTIVE_WINDOW_S`
//! seconds of that record and moves the rate:
//! - booking p99 over the target, or errors (5xx, cut-off requests) over the
//!   allowed share: multiply by `decreaseToPercent`, not below `minRate`, then
//!   no further cut for one window (the samples that caused the cut are still in it);
//! - otherwise, with people waiting: add `increaseBy`, not above `maxRate`;
//! - fewer than [`MIN_SAMPLES`] samples are not judged (a quiet back end is healthy).
//!
//! The step is guarded by a period in Redis, so any number of instances make
//! one step a second between them. `max_active` and `paused` still apply.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::QueueError;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::health::{self, Samples};

/// Fewest samples in a window for the controller to judge it.
pub(crate) const MIN_SAMPLES: u64 = 10;
/// How often the controller may move the rate: `increaseBy` is per this period.
pub(crate) const CONTROL_PERIOD_MS: u64 = 1000;
/// How often each instance reports its samples.
pub(crate) const REPORT_EVERY: Duration = Duration::from_millis(500);
/// Latency buckets grow by this factor: bucket b holds latencies up to
/// `GROWTH^b` ms, so the p99 is read to within 25%, rounded up.
const GROWTH: f64 = 1.25;
/// The last bucket (1.25^48 ms is 45 s) takes everything slower.
const LAST_BUCKET: usize = 48;

/// What one instance saw of one queue since its last report.
struct Tally {
    count: u64,
    errors: u64,
    buckets: [u64; LAST_BUCKET + 1],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            count: 0,
            errors: 0,
            buckets: [0; LAST_BUCKET + 1],
        }
    }
}

/// The bucket of a latency.
pub(crate) fn bucket_of(latency: Duration) -> usize {
    let ms = latency.as_secs_f64() * 1000.0;
    if ms <= 1.0 {
        return 0;
    }
    // Float to integer `as` saturates; the latency is positive here.
    ((ms.ln() / GROWTH.ln()).ceil() as usize).min(LAST_BUCKET)
}

/// This instance's booking samples, per queue, until the next report.
pub(crate) struct BookingHealth {
    redis: Redis,
    keys: Keys,
    tallies: Mutex<HashMap<String, Tally>>,
}

impl BookingHealth {
    pub(crate) fn new(redis: Redis, keys: Keys) -> Self {
        BookingHealth {
            redis,
            keys,
            tallies: Mutex::default(),
        }
    }

    /// One hold or payment of `queue`, answered after `latency`; `failed` when
    /// the back end failed it (a 5xx, or cut off before any answer).
    pub(crate) fn record(&self, queue: &str, latency: Duration, failed: bool) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tally = match tallies.get_mut(queue) {
            Some(tally) => tally,
            None => tallies.entry(queue.to_string()).or_default(),
        };
        tally.count += 1;
        tally.errors += u64::from(failed);
        tally.buckets[bucket_of(latency)] += 1;
    }

    /// Adds what this instance saw to each queue's record in Redis. Samples of
    /// a report that fails are dropped: the next report carries fresh ones.
    pub(crate) async fn report(&self) -> Result<(), QueueError> {
        let tallies = std::mem::take(&mut *self.tallies.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        if tallies.is_empty() {
            return Ok(());
        }
        let mut redis = self.redis.connection().await?;
        for (queue, tally) in tallies {
            let buckets: Vec<(u32, u64)> = (0_u32..).zip(tally.buckets).filter(|(_, count)| *count > 0).collect();
            let samples = Samples {
                count: tally.count,
                errors: tally.errors,
                buckets: &buckets,
            };
            health::run(&mut redis, &self.keys.queue(&queue), &samples).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_by_a_quarter() {
        assert_eq!(bucket_of(Duration::from_micros(300)), 0);
        assert_eq!(bucket_of(Duration::from_millis(1)), 0);
        // 1.25^23 = 169.4 ms, 1.25^24 = 211.8 ms.
        assert_eq!(bucket_of(Duration::from_millis(169)), 23);
        assert_eq!(bucket_of(Duration::from_millis(170)), 24);
        assert_eq!(bucket_of(Duration::from_millis(211)), 24);
        assert_eq!(bucket_of(Duration::from_secs(3600)), LAST_BUCKET);
    }
}
