//! `lua/queue_standing.lua`: join a queue, or poll the place held in it.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, RedisResult, Script, Value};

use super::{lua, Fields};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_standing.lua");

#[derive(Clone, Copy)]
pub(crate) enum Mode {
    /// Take a place at the back unless one is held; a new token gets `nonce`.
    Join {
        nonce: u32,
    },
    Poll,
}

/// The caller's verified token, which puts back a place Redis lost with its data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Presented {
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    pub(crate) seq: i64,
    pub(crate) active_until_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StandingState {
    NeverJoined,
    Waiting,
    Active,
    Expired,
    /// The queue is closed to new places.
    Closed,
    /// In the pre-queue; `expiry_ms` is the opening.
    PreQueue,
    /// The opening is due: place the pre-queue, then ask again.
    OpeningDue,
}

/// The script's reply.
#[derive(Debug, Clone)]
pub(crate) struct Standing {
    pub(crate) state: StandingState,
    pub(crate) position: u64,
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    pub(crate) expiry_ms: i64,
    pub(crate) seq: i64,
}

impl FromRedisValue for Standing {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let state = match fields.next::<i64>()? {
            0 => StandingState::NeverJoined,
            1 => StandingState::Waiting,
            2 => StandingState::Active,
            3 => StandingState::Expired,
            4 => StandingState::Closed,
            5 => StandingState::PreQueue,
            6 => StandingState::OpeningDue,
            other => return Err(format!("queue_standing: unknown state {other}").into()),
        };
        Ok(Standing {
            state,
            position: fields.next()?,
            issued_s: fields.next()?,
            nonce: fields.next()?,
            expiry_ms: fields.next()?,
            seq: fields.next()?,
        })
    }
}

/// What one run needs besides the user: the idle timeout and how long the
/// user's record outlives its last write.
pub(crate) struct Timing {
    pub(crate) idle_timeout_s: u64,
    pub(crate) meta_ttl_s: u64,
}

pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    user_id: i64,
    mode: Mode,
    timing: &Timing,
    presented: Option<Presented>,
) -> RedisResult<Standing> {
    let (mode, nonce) = match mode {
        Mode::Join { nonce } => ("join", nonce),
        Mode::Poll => ("poll", 0),
    };
    let mut invocation = SCRIPT.key(&keys.waiting);
    invocation
        .key(&keys.active)
        .key(&keys.stats)
        .key(keys.meta_bucket(user_id))
        .key(&keys.settings)
        .key(&keys.prequeue)
        .arg(mode)
        .arg(user_id)
        .arg(timing.idle_timeout_s)
        .arg(nonce)
        .arg(timing.meta_ttl_s);
    // Most calls present no token: they send no arguments for one.
    if let Some(presented) = presented {
        invocation
            .arg(presented.issued_s)
            .arg(presented.nonce)
            .arg(presented.seq)
            .arg(presented.active_until_ms);
    }
    invocation.invoke_async(redis).await
}
