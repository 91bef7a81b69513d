//! `lua/queue_standing.lua`: join a queue, or poll the place held in it, for
//! many users of one queue in one run.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, RedisResult, Script, Value};

use super::lua;
use crate::store::keys::{QueueKeys, META_BUCKET_SIZE};
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_standing.lua");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One user's join or poll: an entry of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ask {
    pub(crate) user_id: i64,
    pub(crate) mode: Mode,
    pub(crate) presented: Option<Presented>,
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

/// One entry's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) state: StandingState,
    pub(crate) position: u64,
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    pub(crate) expiry_ms: i64,
    pub(crate) seq: i64,
}

/// The script's reply: one [`Standing`] per entry, in order.
pub(crate) struct Standings(pub(crate) Vec<Standing>);

const FIELDS: usize = 6;

impl FromRedisValue for Standings {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let Value::Array(items) = reply else {
            return Err(format!("queue_standing: expected an array, got {reply:?}").into());
        };
        if items.len() % FIELDS != 0 {
            return Err(format!("queue_standing: {} integers, not a multiple of {FIELDS}", items.len()).into());
        }
        // Read in place: the reply of a full batch is hundreds of integers.
        let int = |value: &Value| match value {
            Value::Int(value) => Ok(*value),
            other => Err(ParsingError::from(format!(
                "queue_standing: expected an integer, got {other:?}"
            ))),
        };
        items
            .chunks_exact(FIELDS)
            .map(|entry| {
                let state = match int(&entry[0])? {
                    0 => StandingState::NeverJoined,
                    1 => StandingState::Waiting,
                    2 => StandingState::Active,
                    3 => StandingState::Expired,
                    4 => StandingState::Closed,
                    5 => StandingState::PreQueue,
                    6 => StandingState::OpeningDue,
                    other => return Err(format!("queue_standing: unknown state {other}").into()),
                };
                let non_negative = |value: i64| {
                    u64::try_from(value).map_err(|_| ParsingError::from("queue_standing: a negative count"))
                };
                Ok(Standing {
                    state,
                    position: non_negative(int(&entry[1])?)?,
                    issued_s: int(&entry[2])?,
                    nonce: u32::try_from(int(&entry[3])?)
                        .map_err(|_| ParsingError::from("queue_standing: a nonce out of range"))?,
                    expiry_ms: int(&entry[4])?,
                    seq: int(&entry[5])?,
                })
            })
            .collect::<Result<_, _>>()
            .map(Standings)
    }
}

/// What one run needs besides the users: the idle timeout and how long a
/// user's record outlives its last write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) idle_timeout_s: u64,
    pub(crate) meta_ttl_s: u64,
}

/// Runs the entries in order, in one script call; one answer per entry.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    asks: &[Ask],
    timing: &Timing,
) -> RedisResult<Vec<Standing>> {
    let mut invocation = SCRIPT.key(&keys.waiting);
    invocation
        .key(&keys.active)
        .key(&keys.stats)
        .key(&keys.settings)
        .key(&keys.prequeue)
        .arg(timing.idle_timeout_s)
        .arg(timing.meta_ttl_s)
        .arg(&keys.meta_prefix)
        .arg(META_BUCKET_SIZE);
    for ask in asks {
        // Most entries present no token: they send no arguments for one.
        match (ask.mode, ask.presented) {
            (Mode::Poll, None) => invocation.arg("p").arg(ask.user_id),
            (Mode::Join { nonce }, None) => invocation.arg("j").arg(ask.user_id).arg(nonce),
            (Mode::Poll, Some(token)) => invocation.arg("P").arg(ask.user_id).arg(&presented(token)),
            (Mode::Join { nonce }, Some(token)) => {
                invocation.arg("J").arg(ask.user_id).arg(nonce).arg(&presented(token))
            }
        };
    }
    let Standings(standings) = invocation.invoke_async(redis).await?;
    if standings.len() != asks.len() {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Parse,
            "queue_standing answered a different number of entries than it was sent",
        )));
    }
    Ok(standings)
}

fn presented(token: Presented) -> [i64; 4] {
    [token.issued_s, i64::from(token.nonce), token.seq, token.active_until_ms]
}
