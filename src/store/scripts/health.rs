//! `lua/queue_health.lua`: one instance's booking samples into the queue's
//! per-second health ring.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_health");

/// Samples gathered by one instance since its last report.
pub(crate) struct Samples<'a> {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    /// (latency bucket, samples) for the buckets that have any.
    pub(crate) buckets: &'a [(u32, u64)],
}

pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys, samples: &Samples<'_>) -> RedisResult<()> {
    let mut call = FUNCTION.call_naming(keys.health.len());
    call.arg(&keys.health).arg(samples.count).arg(samples.errors);
    for (bucket, count) in samples.buckets {
        call.arg(bucket).arg(count);
    }
    let _slot: u64 = library::run(redis, &call).await?;
    Ok(())
}
