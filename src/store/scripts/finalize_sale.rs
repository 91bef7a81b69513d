//! `lua/seats_finalize_sale.lua`: after a committed sale, seats sold in Redis
//! and the buyer's holds on them dropped.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::ScheduleKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("seats_finalize_sale");

/// Returns how many seats were newly marked sold.
pub(crate) async fn run(redis: &mut Connection, keys: &ScheduleKeys, user_id: i64, seats: &[i32]) -> RedisResult<u64> {
    let mut call = FUNCTION.call(&[&keys.holds, &keys.sold, &keys.user_holds]);
    call.arg(user_id).arg(seats);
    library::run(redis, &call).await
}
