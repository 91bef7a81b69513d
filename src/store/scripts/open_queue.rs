//! `lua/queue_open.lua`: place the pre-queue in the line, by lot, at the opening.

use std::sync::LazyLock;

use redis::{RedisResult, Script};

use super::lua;
use crate::store::keys::{QueueKeys, META_BUCKET_SIZE, META_TTL_S};
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_open.lua");

/// How many were placed (0 before the opening, or with nobody in the pre-queue).
pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys) -> RedisResult<u64> {
    SCRIPT
        .key(&keys.waiting)
        .key(&keys.stats)
        .key(&keys.prequeue)
        .key(&keys.settings)
        .arg(&keys.meta_prefix)
        .arg(META_BUCKET_SIZE)
        .arg(META_TTL_S)
        .invoke_async(redis)
        .await
}
