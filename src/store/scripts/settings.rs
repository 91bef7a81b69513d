//! `lua/queue_settings.lua`: write Redis's copy of a queue's live settings,
//! unless it holds that version or a newer one.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_settings");

/// Replaces the hash with `fields` at `version`; false when Redis already held
/// that version or a newer one, and kept it.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    version: i64,
    fields: &[(&str, String)],
) -> RedisResult<bool> {
    let mut call = FUNCTION.call(&[&keys.settings]);
    call.arg(version);
    for (field, value) in fields {
        call.arg(*field).arg(value);
    }
    library::run(redis, &call).await
}
