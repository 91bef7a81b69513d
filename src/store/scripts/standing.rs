//! `lua/queue_standing.lua`: join a queue, or poll the place held in it.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, RedisResult, Script, Value};

use super::{lua, Fields};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_standing.lua");

pub(crate) enum Mode {
    /// Take a place at the back unless one is held; a new token gets `nonce`.
    Join {
        nonce: u32,
        meta_ttl_s: u64,
    },
    Poll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StandingState {
    NeverJoined,
    Waiting,
    Active,
    Expired,
}

/// The script's reply.
#[derive(Debug, Clone)]
pub(crate) struct Standing {
    pub(crate) state: StandingState,
    pub(crate) position: u64,
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    pub(crate) expiry_ms: i64,
}

impl FromRedisValue for Standing {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let state = match fields.next::<i64>()? {
            0 => StandingState::NeverJoined,
            1 => StandingState::Waiting,
            2 => StandingState::Active,
            3 => StandingState::Expired,
            other => return Err(format!("queue_standing: unknown state {other}").into()),
        };
        Ok(Standing {
            state,
            position: fields.next()?,
            issued_s: fields.next()?,
            nonce: fields.next()?,
            expiry_ms: fields.next()?,
        })
    }
}

pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    user_id: i64,
    idle_timeout_s: u64,
    mode: Mode,
) -> RedisResult<Standing> {
    let mut invocation = SCRIPT.key(&keys.waiting);
    invocation
        .key(&keys.active)
        .key(&keys.stats)
        .key(keys.meta_bucket(user_id));
    match mode {
        Mode::Join { nonce, meta_ttl_s } => invocation
            .arg("join")
            .arg(user_id)
            .arg(idle_timeout_s)
            .arg(nonce)
            .arg(meta_ttl_s),
        Mode::Poll => invocation.arg("poll").arg(user_id).arg(idle_timeout_s),
    };
    invocation.invoke_async(redis).await
}
