//! `lua/seats_state.lua`: which seats of a schedule are taken.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, Script, ScriptInvocation, Value};

use super::{lua, unknown_tag, Fields, Synced};
use crate::store::keys::ScheduleKeys;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("seats_state.lua");

/// Seat numbers sold or under a live hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TakenSeats(pub(crate) Vec<i32>);

impl FromRedisValue for Synced<TakenSeats> {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let tag = fields.tag()?;
        match tag.as_str() {
            "unsynced" => Ok(Synced::Unsynced),
            "ok" => {
                let _sold_count: u64 = fields.next()?;
                Ok(Synced::Ready(TakenSeats(fields.rest()?)))
            }
            other => Err(unknown_tag("seats_state", other)),
        }
    }
}

pub(crate) fn invocation<'a>(keys: &ScheduleKeys) -> ScriptInvocation<'a> {
    let mut invocation = SCRIPT.key(&keys.holds);
    invocation.key(&keys.sold);
    invocation
}
