//! `lua/queue_settings.lua`: write Redis's copy of a queue's live settings,
//! unless it holds that version or a newer one.

use std::sync::LazyLock;

use redis::{RedisResult, Script};

use super::lua;
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_settings.lua");

/// Replaces the hash with `fields` at `version`; false when Redis already held
/// that version or a newer one, and kept it.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    version: i64,
    fields: &[(&str, String)],
) -> RedisResult<bool> {
    let mut invocation = SCRIPT.key(&keys.settings);
    invocation.arg(version);
    for (field, value) in fields {
        invocation.arg(*field).arg(value);
    }
    invocation.invoke_async(redis).await
}
