//! `lua/seats_finalize_sale.lua`: after a committed sale, seats sold in Redis
//! and the buyer's holds on them dropped.

use std::sync::LazyLock;

use redis::{RedisResult, Script};

use super::lua;
use crate::store::keys::ScheduleKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("seats_finalize_sale.lua");

/// Returns how many seats were newly marked sold.
pub(crate) async fn run(redis: &mut Connection, keys: &ScheduleKeys, user_id: i64, seats: &[i32]) -> RedisResult<u64> {
    let mut invocation = SCRIPT.key(&keys.holds);
    invocation.key(&keys.sold).key(&keys.user_holds).arg(user_id);
    for seat in seats {
        invocation.arg(*seat);
    }
    invocation.invoke_async(redis).await
}
