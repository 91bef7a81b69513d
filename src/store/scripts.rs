//! The Lua scripts of `lua/`, one per atomic operation, compiled into the binary.
//!
//! `redis::Script` runs them with EVALSHA and falls back to loading the source on
//! NOSCRIPT, so a restarted or flushed Redis needs no special handling;
//! [`load_all`] warms the script cache at start-up.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!(concat!("../../lua/", $file))));
    };
}

script!(QUEUE_JOIN, "queue_join.lua");
script!(QUEUE_POLL, "queue_poll.lua");
script!(QUEUE_CHECK_ACTIVE, "queue_check_active.lua");
script!(QUEUE_EXPIRE_TOKEN, "queue_expire_token.lua");
script!(QUEUE_ADMIT, "queue_admit.lua");
script!(SEATS_HOLD, "seats_hold.lua");
script!(SEATS_USER_HOLDS, "seats_user_holds.lua");
script!(SEATS_FINALIZE_SALE, "seats_finalize_sale.lua");
script!(SEATS_STATE, "seats_state.lua");
script!(SEATS_SWEEP, "seats_sweep.lua");

fn all() -> [&'static Script; 10] {
    [
        &QUEUE_JOIN,
        &QUEUE_POLL,
        &QUEUE_CHECK_ACTIVE,
        &QUEUE_EXPIRE_TOKEN,
        &QUEUE_ADMIT,
        &SEATS_HOLD,
        &SEATS_USER_HOLDS,
        &SEATS_FINALIZE_SALE,
        &SEATS_STATE,
        &SEATS_SWEEP,
    ]
}

/// Loads every script into Redis's script cache (SCRIPT LOAD).
pub async fn load_all(connection: &mut ConnectionManager) -> RedisResult<()> {
    for script in all() {
        script.prepare_invoke().load_async(connection).await?;
    }
    Ok(())
}
