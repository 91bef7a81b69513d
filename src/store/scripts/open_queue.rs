//! `lua/queue_open.lua`: place the pre-queue in the line, by lot, at the opening.
//!
//! The users' records are rewritten, and only Rust names their buckets: the
//! function is called with nobody first, and only when the opening is due and
//! people wait is the pre-queue read and the function called again naming
//! them all.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::{QueueKeys, META_TTL_S};
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_open");

/// How many were placed (0 before the opening, or with nobody in the pre-queue).
pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys) -> RedisResult<u64> {
    let queue_keys = [&keys.waiting, &keys.stats, &keys.prequeue, &keys.settings];
    let mut users: Vec<i64> = Vec::new();
    // Nobody joins the pre-queue once the opening is due, so the second call
    // names everyone (a third is for a Redis that lost it in between).
    for _ in 0..3 {
        let mut call = FUNCTION.call_naming(queue_keys.len() + users.len());
        call.arg(&queue_keys);
        for user in &users {
            call.arg(keys.meta_bucket_arg(*user));
        }
        call.arg(META_TTL_S).arg(&users);
        let placed: i64 = library::run(redis, &call).await?;
        if placed >= 0 {
            return Ok(placed.unsigned_abs());
        }
        users = redis::cmd("ZRANGE")
            .arg(&keys.prequeue)
            .arg(0)
            .arg(-1)
            .query_async(redis)
            .await?;
    }
    Ok(0)
}
