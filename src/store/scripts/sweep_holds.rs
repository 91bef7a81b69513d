//! `lua/seats_sweep.lua`: forget a schedule's lapsed holds.

use std::sync::LazyLock;

use redis::{RedisResult, Script};

use super::lua;
use crate::store::keys::ScheduleKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("seats_sweep.lua");

/// Returns how many lapsed holds were removed.
pub(crate) async fn run(redis: &mut Connection, keys: &ScheduleKeys) -> RedisResult<u64> {
    SCRIPT.key(&keys.holds).key(&keys.user_holds).invoke_async(redis).await
}
