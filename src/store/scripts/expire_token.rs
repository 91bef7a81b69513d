//! `lua/queue_expire_token.lua`: end an active token at once, after a payment.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_expire_token");

/// True when the token was active and is now ended.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    user_id: i64,
    issued_s: i64,
    nonce: u32,
) -> RedisResult<bool> {
    let bucket = keys.meta_bucket(user_id);
    let mut call = FUNCTION.call(&[&keys.active, &keys.stats, &bucket]);
    call.arg(user_id).arg(issued_s).arg(nonce);
    let ended: i64 = library::run(redis, &call).await?;
    Ok(ended == 1)
}
