//! `lua/seats_sweep.lua`: forget a schedule's lapsed holds.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::ScheduleKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("seats_sweep");

/// Returns how many lapsed holds were removed.
pub(crate) async fn run(redis: &mut Connection, keys: &ScheduleKeys) -> RedisResult<u64> {
    library::run(redis, &FUNCTION.call(&[&keys.holds, &keys.user_holds, &keys.events])).await
}
