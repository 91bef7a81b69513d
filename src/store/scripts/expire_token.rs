//! `lua/queue_expire_token.lua`: end an active token at once, after a payment.

use std::sync::LazyLock;

use redis::{RedisResult, Script};

use super::lua;
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_expire_token.lua");

/// True when the token was active and is now ended.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    user_id: i64,
    issued_s: i64,
    nonce: u32,
) -> RedisResult<bool> {
    let ended: i64 = SCRIPT
        .key(&keys.active)
        .key(&keys.stats)
        .key(keys.meta_bucket(user_id))
        .arg(user_id)
        .arg(issued_s)
        .arg(nonce)
        .invoke_async(redis)
        .await?;
    Ok(ended == 1)
}
