//! `lua/queue_adapt.lua`: one step of adaptive admission.

use redis::{FromRedisValue, ParsingError, RedisResult, Value};

use super::library::{self, Function};
use super::Fields;
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_adapt");

/// What the step is given.
pub(crate) struct Control {
    pub(crate) window_s: u64,
    pub(crate) period_ms: u64,
    pub(crate) min_samples: u64,
    pub(crate) default_rate: u64,
}

/// What the step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The queue is not in adaptive mode.
    Off,
    /// This period's step was already made (by this or another instance).
    Wait,
    Up,
    Down,
    Hold,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdaptReply {
    pub(crate) decision: Decision,
    pub(crate) rate: u64,
    pub(crate) p99_ms: u64,
    pub(crate) samples: u64,
    pub(crate) errors: u64,
}

impl FromRedisValue for AdaptReply {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let decision = match fields.tag()?.as_str() {
            "off" => Decision::Off,
            "wait" => Decision::Wait,
            "up" => Decision::Up,
            "down" => Decision::Down,
            "hold" => Decision::Hold,
            other => return Err(format!("unknown adaptive decision `{other}`").into()),
        };
        Ok(AdaptReply {
            decision,
            rate: fields.next()?,
            p99_ms: fields.next()?,
            samples: fields.next()?,
            errors: fields.next()?,
        })
    }
}

pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys, control: &Control) -> RedisResult<AdaptReply> {
    let mut call = FUNCTION.call_naming(4 + keys.health.len());
    call.arg(&keys.settings)
        .arg(&keys.stats)
        .arg(&keys.waiting)
        .arg(&keys.events)
        .arg(&keys.health);
    call.arg(control.window_s)
        .arg(control.period_ms)
        .arg(control.min_samples)
        .arg(control.default_rate);
    library::run(redis, &call).await
}
