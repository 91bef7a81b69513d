//! `lua/challenge_spend.lua`: takes solved challenges, each once.

use redis::RedisResult;

use super::library::{self, Function};
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("challenge_spend");

/// A solution's mark (`QueueKeys::spent_challenge`) and when it may lapse, ms since 1970.
pub(crate) struct Mark {
    pub(crate) key: String,
    pub(crate) until_ms: i64,
}

/// For each mark, in order: true when this call took it, false when it was taken before.
pub(crate) async fn run(redis: &mut Connection, marks: &[Mark]) -> RedisResult<Vec<bool>> {
    let mut call = FUNCTION.call_naming(marks.len());
    for mark in marks {
        call.arg(&mark.key);
    }
    for mark in marks {
        call.arg(mark.until_ms);
    }
    let taken: Vec<i64> = library::run(redis, &call).await?;
    Ok(taken.into_iter().map(|taken| taken == 1).collect())
}
