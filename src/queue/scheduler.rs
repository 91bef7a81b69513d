//! Admission: every tick, each instance runs one admission step per queue.
//!
//! The step is a single Lua script whose token bucket lives in Redis, so running
//! it on many instances at once admits no more than running it on one; tests
//! call [`QueueService::admit_once`] directly instead of sleeping.

use std::time::Duration;

use tokio::sync::watch;

use super::{QueueError, QueueService};
use crate::store::keys::META_BUCKET_SIZE;
use crate::store::scripts;

/// Most users one step examines, so one script never blocks Redis for long
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

/// Limits of one admission step; [`QueueService::admit_once`] takes them from the config.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    /// 0 = unlimited.
    pub max_active: u64,
    /// Users per second; 0 = unlimited.
    pub rate: u64,
    pub tick_ms: u64,
    pub max_users_per_step: u64,
}

impl QueueService {
    pub async fn admit_once(&self, queue: &str) -> Result<AdmissionStep, QueueError> {
        let config = self.config();
        let limits = AdmissionLimits {
            max_active: config.max_active,
            rate: config.admit_rate,
            tick_ms: config.admit_tick_ms,
            max_users_per_step: MAX_USERS_PER_STEP,
        };
        self.admit_with(queue, limits).await
    }

    pub async fn admit_with(&self, queue: &str, limits: AdmissionLimits) -> Result<AdmissionStep, QueueError> {
        let keys = self.inner.keys.queue(queue);
        // One tick's worth after a pause: a stalled instance must not release a flood.
        let burst = (limits.rate * limits.tick_ms.max(1000) / 1000).max(1);
        let mut redis = self.inner.redis.connection().await?;
        let (admitted, expired, abandoned, active, waiting, rate): (u64, u64, u64, u64, u64, String) =
            scripts::QUEUE_ADMIT
                .key(&keys.waiting)
                .key(&keys.active)
                .key(&keys.stats)
                .arg(limits.max_active)
                .arg(limits.rate)
                .arg(burst)
                .arg(limits.max_users_per_step)
                .arg(self.config().idle_timeout_s)
                .arg(&keys.meta_prefix)
                .arg(META_BUCKET_SIZE)
                .arg(self.config().active_ttl_s * 1000)
                .arg(RATE_AVERAGE_S)
                .arg(limits.tick_ms)
                .invoke_async(&mut redis)
                .await?;
        self.remember_rate(queue, &rate);
        Ok(AdmissionStep {
            admitted,
            expired,
            abandoned,
            active,
            waiting,
        })
    }

    /// Runs admission steps for `queues()` every tick until `shutdown` changes.
    pub async fn run_admission(self, queues: impl Fn() -> Vec<String> + Send, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(Duration::from_millis(self.config().admit_tick_ms.max(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            for queue in queues() {
                match self.admit_once(&queue).await {
                    Ok(step) if step.admitted + step.expired + step.abandoned > 0 => {
                        tracing::debug!(queue, ?step, "admission step");
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(queue, error = %err, "admission step failed"),
                }
            }
        }
    }
}
