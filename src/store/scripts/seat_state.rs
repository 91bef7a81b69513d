//! `lua/seats_state.lua`: which seats of a schedule are taken.

use redis::{Cmd, FromRedisValue, ParsingError, Value};

use super::library::Function;
use super::{unknown_tag, Fields, Synced};
use crate::store::keys::ScheduleKeys;

static FUNCTION: Function = Function::new("seats_state");

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

pub(crate) fn call(keys: &ScheduleKeys) -> Cmd {
    FUNCTION.call(&[&keys.holds, &keys.sold])
}
