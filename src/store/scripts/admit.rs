//! `lua/queue_admit.lua`: one admission step of one queue.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, RedisResult, Script, Value};

use super::{lua, Fields};
use crate::store::keys::{QueueKeys, META_BUCKET_SIZE};
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_admit.lua");

/// What one step may do.
pub(crate) struct StepLimits {
    pub(crate) max_active: u64,
    pub(crate) rate: u64,
    pub(crate) burst_window_ms: u64,
    pub(crate) max_examined: u64,
    pub(crate) idle_timeout_s: u64,
    pub(crate) active_ttl_ms: u64,
    pub(crate) rate_average_s: u64,
    pub(crate) first_elapsed_ms: u64,
}

/// The script's reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepReply {
    pub(crate) admitted: u64,
    pub(crate) expired: u64,
    pub(crate) abandoned: u64,
    pub(crate) active: u64,
    pub(crate) waiting: u64,
    /// Measured admissions per second; `None` before anything was measured.
    pub(crate) measured_rate: Option<f64>,
}

impl FromRedisValue for StepReply {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        Ok(StepReply {
            admitted: fields.next()?,
            expired: fields.next()?,
            abandoned: fields.next()?,
            active: fields.next()?,
            waiting: fields.next()?,
            measured_rate: fields.next::<String>()?.parse().ok(),
        })
    }
}

pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys, limits: &StepLimits) -> RedisResult<StepReply> {
    SCRIPT
        .key(&keys.waiting)
        .key(&keys.active)
        .key(&keys.stats)
        .key(&keys.settings)
        .arg(limits.max_active)
        .arg(limits.rate)
        .arg(limits.burst_window_ms)
        .arg(limits.max_examined)
        .arg(limits.idle_timeout_s)
        .arg(&keys.meta_prefix)
        .arg(META_BUCKET_SIZE)
        .arg(limits.active_ttl_ms)
        .arg(limits.rate_average_s)
        .arg(limits.first_elapsed_ms)
        .invoke_async(redis)
        .await
}
