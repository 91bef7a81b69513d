//! `lua/queue_check_active.lua`: the booking gate's read of one exact token.

use redis::{FromRedisValue, ParsingError, RedisResult, Value};

use super::library::{self, Function};
use super::standing::Presented;
use super::Fields;
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_check_active");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Active {
        expiry_ms: i64,
    },
    Waiting {
        position: u64,
    },
    Expired,
    /// The user has joined again since: this token is an older one.
    Stale,
    NeverJoined,
}

impl FromRedisValue for TokenCheck {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let state: i64 = fields.next()?;
        let value: i64 = fields.next()?;
        Ok(match state {
            0 => TokenCheck::NeverJoined,
            1 => TokenCheck::Active { expiry_ms: value },
            2 => TokenCheck::Waiting {
                position: value.max(0) as u64,
            },
            3 => TokenCheck::Expired,
            4 => TokenCheck::Stale,
            other => return Err(format!("queue_check_active: unknown state {other}").into()),
        })
    }
}

pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    user_id: i64,
    token: &Presented,
    meta_ttl_s: u64,
) -> RedisResult<TokenCheck> {
    let bucket = keys.meta_bucket(user_id);
    let mut call = FUNCTION.call(&[&keys.waiting, &keys.active, &bucket, &keys.stats, &keys.prequeue]);
    call.arg(user_id)
        .arg(token.issued_s)
        .arg(token.nonce)
        .arg(token.seq)
        .arg(token.active_until_ms)
        .arg(meta_ttl_s);
    library::run(redis, &call).await
}
