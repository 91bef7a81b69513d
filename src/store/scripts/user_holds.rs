//! `lua/seats_user_holds.lua`: the seats one user validly holds, for payment.

use redis::{FromRedisValue, ParsingError, RedisResult, Value};

use super::library::{self, Function};
use super::{unknown_tag, Fields};
use crate::store::keys::ScheduleKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("seats_user_holds");

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserHolds {
    /// (seat number, hold expiry ms), in the order the seats were held.
    Held(Vec<(i32, i64)>),
    /// The user held seats, and every hold has lapsed.
    Lapsed,
    None,
}

impl FromRedisValue for UserHolds {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        let tag = fields.tag()?;
        match tag.as_str() {
            "held" => {
                let flat: Vec<i64> = fields.rest()?;
                let pairs = flat
                    .chunks_exact(2)
                    .filter_map(|pair| Some((i32::try_from(pair[0]).ok()?, pair[1])))
                    .collect();
                Ok(UserHolds::Held(pairs))
            }
            "expired" => Ok(UserHolds::Lapsed),
            "none" => Ok(UserHolds::None),
            other => Err(unknown_tag("seats_user_holds", other)),
        }
    }
}

pub(crate) async fn run(redis: &mut Connection, keys: &ScheduleKeys, user_id: i64) -> RedisResult<UserHolds> {
    let mut call = FUNCTION.call(&[&keys.holds, &keys.user_holds]);
    call.arg(user_id);
    library::run(redis, &call).await
}
