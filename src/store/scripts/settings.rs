//! `lua/queue_settings.lua`: change a queue's live settings and record the change.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, RedisResult, Script, Value};

use super::{lua, Fields};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_settings.lua");

/// Events kept per queue.
const EVENTS_KEPT: u64 = 1000;

/// The settings hash before and after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    pub(crate) before: HashMap<String, String>,
    pub(crate) after: HashMap<String, String>,
}

impl FromRedisValue for Changed {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        Ok(Changed {
            before: fields.next()?,
            after: fields.next()?,
        })
    }
}

/// Sets each `(field, value)`; an empty value removes the field.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    who: &str,
    changes: &[(&str, String)],
) -> RedisResult<Changed> {
    let mut invocation = SCRIPT.key(&keys.settings);
    invocation.key(&keys.events).arg(who).arg(EVENTS_KEPT);
    for (field, value) in changes {
        invocation.arg(*field).arg(value);
    }
    invocation.invoke_async(redis).await
}
