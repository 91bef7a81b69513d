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

/// Booking latency of one queue over the last seconds, all instances together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BookingLatency {
    /// To within 25%, rounded up; 0 with no samples.
    pub(crate) p99_ms: u64,
    pub(crate) samples: u64,
    pub(crate) errors: u64,
}

impl BookingLatency {
    /// Reads the record's per-second hashes (`t`, `n`, `e`, buckets) of the
    /// `window_s` seconds up to `now_s`: the same reading as `lua/queue_adapt.lua`.
    fn of(slots: &[HashMap<String, String>], now_s: u64, window_s: u64) -> Self {
        let mut buckets = [0_u64; LAST_BUCKET + 1];
        let (mut samples, mut errors) = (0, 0);
        for slot in slots {
            let number = |field: &str| slot.get(field).and_then(|value| value.parse::<u64>().ok());
            let Some(second) = number("t") else { continue };
            if second > now_s || second + window_s <= now_s {
                continue;
            }
            samples += number("n").unwrap_or(0);
            errors += number("e").unwrap_or(0);
            for (field, count) in slot {
                if let (Ok(bucket), Ok(count)) = (field.parse::<usize>(), count.parse::<u64>()) {
                    if let Some(total) = buckets.get_mut(bucket) {
                        *total += count;
                    }
                }
            }
        }
        let rank = (samples * 99).div_ceil(100);
        let mut seen = 0;
        let p99_ms = if samples == 0 {
            0
        } else {
            (0_i32..)
                .zip(buckets)
                .find_map(|(bucket, count)| {
                    seen += count;
                    (seen >= rank).then(|| GROWTH.powi(bucket).ceil() as u64)
                })
                .unwrap_or(0)
        };
        BookingLatency {
            p99_ms,
            samples,
            errors,
        }
    }
}

impl BookingHealth {
    /// The queue's booking latency over the last `window_s` seconds, as every
    /// instance reported it (whether or not the queue is adaptive).
    pub(crate) async fn latency(&self, queue: &str, window_s: u64) -> Result<BookingLatency, QueueError> {
        let keys = self.keys.queue(queue);
        let mut pipe = redis::pipe();
        for slot in &keys.health {
            pipe.hgetall(slot);
        }
        let mut redis = self.redis.connection().await?;
        // The ring's seconds are Redis's, so the window is judged by its clock.
        let (now_s, _micros): (u64, u64) = redis::cmd("TIME").query_async(&mut redis).await?;
        let slots: Vec<HashMap<String, String>> = pipe.query_async(&mut redis).await?;
        Ok(BookingLatency::of(&slots, now_s, window_s))
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

    fn slot(second: u64, pairs: &[(&str, u64)]) -> HashMap<String, String> {
        let mut slot: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        slot.insert("t".into(), second.to_string());
        slot
    }

    #[test]
    fn the_p99_is_read_from_the_window_only() {
        // 100 samples now: 98 at bucket 10 (<= 10 ms), 2 at bucket 24 (<= 212 ms).
        let now = slot(1000, &[("n", 100), ("e", 1), ("10", 98), ("24", 2)]);
        // Slow samples from before the window count for nothing.
        let old = slot(990, &[("n", 50), ("30", 50)]);
        let latency = BookingLatency::of(&[now.clone(), old], 1000, 5);
        assert_eq!(
            latency,
            BookingLatency {
                p99_ms: 212,
                samples: 100,
                errors: 1
            }
        );
        let fast = slot(999, &[("n", 1000), ("10", 1000)]);
        assert_eq!(BookingLatency::of(&[now, fast], 1000, 5).p99_ms, 10);
        assert_eq!(BookingLatency::of(&[], 1000, 5), BookingLatency::default());
    }
}
