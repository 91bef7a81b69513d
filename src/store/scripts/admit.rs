//! `lua/queue_admit.lua`: one admission step of one queue.
//!
//! Whether a user at the head of the line is still there (polled within the
//! idle timeout) is in the user's record, whose bucket key only Rust names:
//! so the step first reads the head it may examine (`queue_admit_head`), then
//! runs with those users' buckets (`queue_admit`). When the line moved in
//! between (another instance admitted them), the step stops at the first user
//! it was not given and is run again with the new head, a few times at most;
//! whatever is left waits for the next tick, its allowance kept.

use redis::{FromRedisValue, ParsingError, RedisResult, Value};

use super::library::{self, Function};
use super::Fields;
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static HEAD: Function = Function::new("queue_admit_head");
static STEP: Function = Function::new("queue_admit");

/// Runs of one step at most, when the line keeps moving under it.
const MAX_RUNS: usize = 4;

/// What one step may do.
pub(crate) struct StepLimits {
    pub(crate) max_active: u64,
    pub(crate) rate: u64,
    pub(crate) burst_window_ms: u64,
    pub(crate) max_examined: u64,
    pub(crate) idle_timeout_s: u64,
    pub(crate) active_ttl_ms: u64,
    pub(crate) rate_average_s: u64,
    pub(crate) first_elapsed_ms: u64,
}

/// The step's reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepReply {
    pub(crate) admitted: u64,
    pub(crate) expired: u64,
    pub(crate) abandoned: u64,
    pub(crate) active: u64,
    pub(crate) waiting: u64,
    /// Measured admissions per second; `None` before anything was measured.
    pub(crate) measured_rate: Option<f64>,
    /// It stopped at a user it was not given, with more to admit.
    short: bool,
}

impl FromRedisValue for StepReply {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let mut fields = Fields::of(reply)?;
        Ok(StepReply {
            admitted: fields.next()?,
            expired: fields.next()?,
            abandoned: fields.next()?,
            active: fields.next()?,
            waiting: fields.next()?,
            measured_rate: fields.next::<String>()?.parse().ok(),
            short: fields.next::<i64>()? == 1,
        })
    }
}

pub(crate) async fn run(redis: &mut Connection, keys: &QueueKeys, limits: &StepLimits) -> RedisResult<StepReply> {
    let mut total = run_once(redis, keys, limits).await?;
    for _ in 1..MAX_RUNS {
        if !total.short {
            break;
        }
        let more = run_once(redis, keys, limits).await?;
        total = StepReply {
            admitted: total.admitted + more.admitted,
            expired: total.expired + more.expired,
            abandoned: total.abandoned + more.abandoned,
            ..more
        };
    }
    Ok(total)
}

/// The head, then the step with the head's buckets.
async fn run_once(redis: &mut Connection, keys: &QueueKeys, limits: &StepLimits) -> RedisResult<StepReply> {
    let queue_keys = [&keys.waiting, &keys.active, &keys.stats, &keys.settings];
    let budget = [
        limits.max_active,
        limits.rate,
        limits.burst_window_ms,
        limits.max_examined,
        limits.first_elapsed_ms,
    ];
    let mut head = HEAD.call_naming(queue_keys.len());
    head.arg(&queue_keys).arg(&budget);
    let users: Vec<i64> = library::run(redis, &head).await?;

    let mut step = STEP.call_naming(queue_keys.len() + 1 + users.len());
    step.arg(&queue_keys).arg(&keys.events);
    for user in &users {
        step.arg(keys.meta_bucket_arg(*user));
    }
    step.arg(&budget)
        .arg(limits.idle_timeout_s)
        .arg(limits.active_ttl_ms)
        .arg(limits.rate_average_s)
        .arg(&users);
    library::run(redis, &step).await
}
