//! `lua/seats_hold.lua`: hold seats for one user, all or nothing.

use redis::{Cmd, FromRedisValue, ParsingError, Value};

use super::library::Function;
use super::{unknown_tag, Fields, Synced};
use crate::store::keys::ScheduleKeys;

static FUNCTION: Function = Function::new("seats_hold");

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HoldOutcome {
    /// One hold expiry (ms) per requested seat, in the order asked.
    Held(Vec<i64>),
    /// Sold, or held by someone else.
    Taken(Vec<i32>),
    /// Over the per-user limit; how many the user already holds.
    Limit { already_held: u32 },
}

impl FromRedisValue for Synced<HoldOutcome> {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let tag = fields.tag()?;
        Ok(Synced::Ready(match tag.as_str() {
            "unsynced" => return Ok(Synced::Unsynced),
            "held" => HoldOutcome::Held(fields.rest()?),
            "taken" => HoldOutcome::Taken(fields.rest()?),
            "limit" => HoldOutcome::Limit {
                already_held: fields.next()?,
            },
            other => return Err(unknown_tag("seats_hold", other)),
        }))
    }
}

/// The call, to run (and run again after a rebuild of the sold set).
pub(crate) fn call(
    keys: &ScheduleKeys,
    user_id: i64,
    hold_ms: u64,
    max_per_user: u32,
    queue: &str,
    seats: &[i32],
) -> Cmd {
    let mut call = FUNCTION.call(&[&keys.holds, &keys.sold, &keys.user_holds, &keys.events]);
    call.arg(user_id).arg(hold_ms).arg(max_per_user).arg(queue).arg(seats);
    call
}
