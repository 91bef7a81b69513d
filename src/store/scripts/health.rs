//! `lua/queue_health.lua`: one instance's booking samples into the queue's
//! per-second health ring.

use std::sync::LazyLock;

use redis::{RedisResult, Script};

use super::lua;
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_health.lua");

/// Samples gathered by one instance since its last report.
pub(crate) struct Samples<'a> {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    /// (latency bucket, samples) for the buckets that have any.
    pub(crate) buckets: &'a [(u32, u64)],
}

pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys, samples: &Samples<'_>) -> RedisResult<()> {
    let mut invocation = SCRIPT.prepare_invoke();
    for slot in &keys.health {
        invocation.key(slot);
    }
    invocation.arg(samples.count).arg(samples.errors);
    for (bucket, count) in samples.buckets {
        invocation.arg(bucket).arg(count);
    }
    let _slot: u64 = invocation.invoke_async(redis).await?;
    Ok(())
}
