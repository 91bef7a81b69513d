//! Admission: every tick, each instance runs one admission step per queue, and
//! reads each queue's live figures for operations.
//!
//! The step is Lua in Redis (`store::scripts::admit`) whose token bucket lives
//! in Redis, so running it on many instances at once admits no more than
//! running it on one; tests call [`Scheduler::admit_once`] directly instead of
//! sleeping.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::Instrument;

use super::adaptive::{CONTROL_PERIOD_MS, MIN_SAMPLES};
use super::rates::MeasuredRates;
use super::settings::Snapshot;
use super::QueueError;
use crate::config::QueueConfig;
use crate::events::{Count, QueueCounts};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::adapt::{self, Control, Decision};
use crate::store::scripts::admit::{self, StepLimits};
use crate::store::scripts::open_queue;
use crate::telemetry::otel;

/// Most users one step examines, so one call never blocks Redis for long
/// (about 5 ms at this size); a large backlog drains over successive steps.
pub const MAX_USERS_PER_STEP: u64 = 5_000;
/// Time constant of the measured admission rate behind the ETA.
const RATE_AVERAGE_S: u64 = 10;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdmissionStep {
    pub admitted: u64,
    pub expired: u64,
    pub abandoned: u64,
    pub active: u64,
    pub waiting: u64,
}

/// Limits of one admission step; [`Scheduler::admit_once`] takes them from the config.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    /// 0 = unlimited.
    pub max_active: u64,
    /// Users per second; 0 = unlimited.
    pub rate: u64,
    pub tick_ms: u64,
    pub max_users_per_step: u64,
}

/// Live figures of one queue, read in one pipeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub waiting: u64,
    pub active: u64,
    /// Measured admissions per second, averaged over 10 s and over 60 s.
    pub admission_rate: f64,
    pub admission_rate_60: f64,
    pub joined: u64,
    pub admitted: u64,
    pub abandoned: u64,
    pub expired: u64,
    pub completed: u64,
    /// The adaptive controller's last step; `None` before its first.
    pub adaptive: Option<AdaptiveStatus>,
}

/// The adaptive controller's last step, as kept in the stats hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdaptiveStatus {
    /// The admission rate it set, users/s.
    pub rate: u64,
    /// Booking p99 over the window it judged (to within 25%, rounded up), ms.
    pub p99_ms: u64,
    pub samples: u64,
    pub errors: u64,
    /// `up`, `down` or `hold`.
    pub decision: String,
}

#[derive(Clone)]
pub struct Scheduler {
    redis: Redis,
    keys: Keys,
    rates: Arc<MeasuredRates>,
    config: Arc<QueueConfig>,
    /// Each queue's settings as this instance holds them: a queue that
    /// protects a site admits for its session's length.
    settings: Snapshot,
    /// What its steps did, for `queue.counts`.
    counts: QueueCounts,
}

impl Scheduler {
    pub(crate) fn new(
        redis: Redis,
        keys: Keys,
        rates: Arc<MeasuredRates>,
        config: Arc<QueueConfig>,
        settings: Snapshot,
        counts: QueueCounts,
    ) -> Self {
        Scheduler {
            redis,
            keys,
            rates,
            config,
            settings,
            counts,
        }
    }

    /// How long an admission lasts: a protected site's session (which its
    /// visitors' activity slides, `queue::SessionActivity`), else the
    /// configured window.
    fn admission_ms(&self, queue: &str) -> u64 {
        let session_s = self
            .settings
            .current(queue)
            .protect
            .as_ref()
            .map(|protect| protect.session_seconds);
        session_s.unwrap_or(self.config.active_ttl_s) * 1000
    }

    /// One admission step with the configured limits.
    pub async fn admit_once(&self, queue: &str) -> Result<AdmissionStep, QueueError> {
        let limits = AdmissionLimits {
            max_active: self.config.max_active,
            rate: self.config.admit_rate,
            tick_ms: self.config.admit_tick_ms,
            max_users_per_step: MAX_USERS_PER_STEP,
        };
        self.admit_with(queue, limits).await
    }

    pub async fn admit_with(&self, queue: &str, limits: AdmissionLimits) -> Result<AdmissionStep, QueueError> {
        self.admit_step(queue, limits)
            .instrument(otel::chore("admission"))
            .await
    }

    async fn admit_step(&self, queue: &str, limits: AdmissionLimits) -> Result<AdmissionStep, QueueError> {
        let keys = self.keys.queue(queue);
        let step = StepLimits {
            max_active: limits.max_active,
            rate: limits.rate,
            // One tick's worth after a pause: a stalled instance must not release a flood.
            burst_window_ms: limits.tick_ms.max(1000),
            max_examined: limits.max_users_per_step,
            idle_timeout_s: self.config.idle_timeout_s,
            active_ttl_ms: self.admission_ms(queue),
            rate_average_s: RATE_AVERAGE_S,
            first_elapsed_ms: limits.tick_ms,
        };
        let mut redis = self.redis.connection().await?;
        // An opening nobody has asked about yet is this step's to make.
        let placed = open_queue::run(&mut redis, &keys).await?;
        if placed > 0 {
            tracing::info!(queue, placed, "queue opened: the pre-queue is placed by lot");
        }
        // A queue in adaptive mode first has its rate set from booking health.
        let control = Control {
            window_s: self.config.adaptive_window_s,
            period_ms: CONTROL_PERIOD_MS,
            min_samples: MIN_SAMPLES,
            default_rate: limits.rate,
        };
        let adapted = adapt::run(&mut redis, &keys, &control).await?;
        if adapted.decision == Decision::Down {
            tracing::info!(queue, decision = ?adapted.decision, rate = adapted.rate, p99_ms = adapted.p99_ms,
                samples = adapted.samples, errors = adapted.errors, "adaptive admission rate");
        }
        let reply = admit::run(&mut redis, &keys, &step).await?;
        self.rates.remember(queue, reply.measured_rate);
        self.counts.add(queue, Count::Admitted, reply.admitted);
        self.counts.add(queue, Count::TimedOut, reply.expired + reply.abandoned);
        Ok(AdmissionStep {
            admitted: reply.admitted,
            expired: reply.expired,
            abandoned: reply.abandoned,
            active: reply.active,
            waiting: reply.waiting,
        })
    }

    /// Reads the measured admission rate of `queues` from Redis, for instances
    /// that do not run the scheduler themselves. One call per queue, sent
    /// together: each queue is a slot of its own on a cluster, where one
    /// pipeline across them would be refused (CROSSSLOT).
    pub(crate) async fn refresh_rates(&self, queues: &[String]) -> Result<(), QueueError> {
        let redis = self.redis.connection().await?;
        let reads = queues.iter().map(|queue| {
            let mut redis = redis.clone();
            let key = self.keys.queue(queue).stats.clone();
            async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg("rate")
                    .query_async::<Option<String>>(&mut redis)
                    .await
            }
        });
        let rates = futures_util::future::try_join_all(reads).await?;
        for (queue, rate) in queues.iter().zip(rates) {
            self.rates.remember(queue, rate.and_then(|rate| rate.parse().ok()));
        }
        Ok(())
    }

    /// Redis memory the queue's keys take: (keys, bytes), by `MEMORY USAGE` of
    /// each. Scans every key of the queue, so it is for tools, not requests;
    /// single Redis only (a cluster's SCAN reaches one node).
    pub async fn memory_usage(&self, queue: &str) -> Result<(u64, u64), QueueError> {
        if self.redis.is_cluster() {
            return Err(QueueError::Redis(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "memory_usage scans one node: run it against a single Redis",
            ))));
        }
        let pattern = self.keys.queue_pattern(queue);
        let mut redis = self.redis.connection().await?;
        let (mut cursor, mut keys, mut bytes) = (0_u64, 0_u64, 0_u64);
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await?;
            for key in batch {
                let usage: Option<u64> = redis::cmd("MEMORY")
                    .arg("USAGE")
                    .arg(&key)
                    .arg("SAMPLES")
                    .arg(0)
                    .query_async(&mut redis)
                    .await?;
                bytes += usage.unwrap_or(0);
                keys += 1;
            }
            cursor = next;
            if cursor == 0 {
                return Ok((keys, bytes));
            }
        }
    }

    pub async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let keys = self.keys.queue(queue);
        let mut redis = self.redis.connection().await?;
        let (waiting, active, counters): (u64, u64, HashMap<String, String>) = redis::pipe()
            .zcard(&keys.waiting)
            .zcard(&keys.active)
            .hgetall(&keys.stats)
            .query_async(&mut redis)
            .await?;
        let rate = counters.get("rate").and_then(|v| v.parse().ok());
        self.rates.remember(queue, rate);
        let count = |name: &str| -> u64 { counters.get(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
        Ok(QueueStats {
            waiting,
            active,
            admission_rate: rate.unwrap_or(0.0),
            admission_rate_60: counters.get("rate60").and_then(|v| v.parse().ok()).unwrap_or(0.0),
            joined: count("joined"),
            admitted: count("admitted"),
            abandoned: count("abandoned"),
            expired: count("expired"),
            completed: count("completed"),
            adaptive: counters.get("adaptive_decision").map(|decision| AdaptiveStatus {
                rate: count("adaptive_rate"),
                p99_ms: count("adaptive_p99_ms"),
                samples: count("adaptive_samples"),
                errors: count("adaptive_errors"),
                decision: decision.clone(),
            }),
        })
    }
}
