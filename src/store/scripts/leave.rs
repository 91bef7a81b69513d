//! `lua/queue_leave.lua`: a visitor gives up the place, waiting or admitted.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_leave");

/// True when a place was given up.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    user_id: i64,
    issued_s: i64,
    nonce: u32,
) -> RedisResult<bool> {
    let bucket = keys.meta_bucket(user_id);
    let mut call = FUNCTION.call(&[&keys.waiting, &keys.active, &keys.prequeue, &bucket, &keys.events]);
    call.arg(user_id).arg(issued_s).arg(nonce);
    let left: i64 = library::run(redis, &call).await?;
    Ok(left == 1)
}
