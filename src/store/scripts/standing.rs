//! `lua/queue_standing.lua`: join a queue, or poll the place held in it, for
//! many users of one queue in one run.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, RedisResult, Script, Value};

use super::{eval, evalsha, lua};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

pub(crate) static SCRIPT: LazyLock<Script> = lua!("queue_standing.lua");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Take a place at the back unless one is held; a new token gets `nonce`.
    Join {
        nonce: u32,
        /// The queue's settings as the join gate read them.
        rules: JoinRules,
    },
    Poll,
}

/// The caller's verified token, which puts back a place Redis lost with its data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Presented {
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    pub(crate) seq: i64,
    pub(crate) active_until_ms: i64,
}

/// One user's join or poll: an entry of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ask {
    pub(crate) user_id: i64,
    pub(crate) mode: Mode,
    pub(crate) presented: Option<Presented>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StandingState {
    NeverJoined,
    Waiting,
    Active,
    Expired,
    /// The queue is closed to new places.
    Closed,
    /// In the pre-queue; `expiry_ms` is the opening.
    PreQueue,
    /// The opening is due: place the pre-queue, then ask again.
    OpeningDue,
}

/// One entry's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) state: StandingState,
    pub(crate) position: u64,
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
    pub(crate) expiry_ms: i64,
    pub(crate) seq: i64,
}

/// One entry's answer as the script sends it.
enum Answer {
    /// In line at `position`, with the user's 20-byte record.
    Waiting { position: u64, record: Vec<u8> },
    /// Any other state, spelled out.
    Other(Standing),
}

/// The script's reply: one [`Answer`] per entry, in the order sent.
struct Answers(Vec<Answer>);

impl FromRedisValue for Answers {
    fn from_redis_value(reply: Value) -> Result<Self, ParsingError> {
        let Value::Array(items) = reply else {
            return Err(format!("queue_standing: expected an array, got {reply:?}").into());
        };
        if items.len() % 2 != 0 {
            return Err(format!("queue_standing: {} values, not pairs", items.len()).into());
        }
        let mut answers = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(head), Some(blob)) = (items.next(), items.next()) {
            let (Value::Int(head), Value::BulkString(blob)) = (head, blob) else {
                return Err("queue_standing: expected an integer and a string per entry".into());
            };
            answers.push(if head > 0 {
                Answer::Waiting {
                    position: head as u64,
                    record: blob,
                }
            } else {
                Answer::Other(spelled_out(-head, &blob)?)
            });
        }
        Ok(Answers(answers))
    }
}

/// `-state` and struct '>IIdd': issued_s, nonce, expiry_ms, sequence.
fn spelled_out(state: i64, blob: &[u8]) -> Result<Standing, ParsingError> {
    let state = match state {
        0 => StandingState::NeverJoined,
        2 => StandingState::Active,
        3 => StandingState::Expired,
        4 => StandingState::Closed,
        5 => StandingState::PreQueue,
        6 => StandingState::OpeningDue,
        other => return Err(format!("queue_standing: unknown state {other}").into()),
    };
    let field = |at: usize, len: usize| {
        blob.get(at..at + len)
            .ok_or_else(|| ParsingError::from("queue_standing: a short answer"))
    };
    Ok(Standing {
        state,
        position: 0,
        issued_s: i64::from(be_u32(field(0, 4)?)),
        nonce: be_u32(field(4, 4)?),
        expiry_ms: be_f64(field(8, 8)?) as i64,
        seq: be_f64(field(16, 8)?) as i64,
    })
}

/// A waiting user's record: struct '>IIId' of issued_s, nonce, last seen (s
/// after issued_s) and sequence; records written before sequences were kept
/// have 12 bytes and sequence 0.
fn in_line(position: u64, record: &[u8], idle_timeout_s: u64) -> RedisResult<Standing> {
    let short = || redis::RedisError::from((redis::ErrorKind::Parse, "queue_standing: a short user record"));
    let issued_s = i64::from(be_u32(record.get(0..4).ok_or_else(short)?));
    let seen = i64::from(be_u32(record.get(8..12).ok_or_else(short)?));
    let idle = i64::try_from(idle_timeout_s).unwrap_or(i64::MAX / 2000);
    Ok(Standing {
        state: StandingState::Waiting,
        position,
        issued_s,
        nonce: be_u32(record.get(4..8).ok_or_else(short)?),
        expiry_ms: (issued_s + seen + idle) * 1000,
        seq: record.get(12..20).map_or(0, |bytes| be_f64(bytes) as i64),
    })
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word)
}

fn be_f64(bytes: &[u8]) -> f64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    f64::from_be_bytes(word)
}

/// What one run needs besides the users: the idle timeout and how long a
/// user's record outlives its last write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) idle_timeout_s: u64,
    pub(crate) meta_ttl_s: u64,
}

/// The queue's settings a join follows, as the gateway holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct JoinRules {
    /// A closed queue takes no new places.
    pub(crate) closed: bool,
    /// Before the opening (ms since 1970; 0: none) joins enter the pre-queue.
    pub(crate) opens_at_ms: u64,
}

/// Runs the entries in one script call; one answer per entry, in the order of
/// `asks`. Plain polls are sent (and served) first, see the script.
pub(crate) async fn run(
    redis: &mut Connection,
    keys: &QueueKeys,
    asks: &[Ask],
    timing: &Timing,
    fallback: JoinRules,
) -> RedisResult<Vec<Standing>> {
    // A run follows the settings its first join was let in with (the joins of
    // one run were read within moments of each other); a run of polls alone
    // follows `fallback`, for the answers of users in the pre-queue.
    let rules = asks
        .iter()
        .find_map(|ask| match ask.mode {
            Mode::Join { rules, .. } => Some(rules),
            Mode::Poll => None,
        })
        .unwrap_or(fallback);
    let plain = |ask: &&Ask| ask.mode == Mode::Poll && ask.presented.is_none();
    let polls = asks.iter().filter(plain).count();
    let mut call = evalsha(&SCRIPT, &[&keys.waiting, &keys.active, &keys.stats, &keys.prequeue]);
    call.arg(timing.idle_timeout_s)
        .arg(timing.meta_ttl_s)
        .arg(u8::from(rules.closed))
        .arg(rules.opens_at_ms)
        .arg(polls);
    let mut order = Vec::with_capacity(asks.len());
    for (index, ask) in asks.iter().enumerate().filter(|(_, ask)| plain(ask)) {
        call.arg(ask.user_id).arg(keys.meta_bucket_arg(ask.user_id));
        order.push(index);
    }
    for (index, ask) in asks.iter().enumerate().filter(|(_, ask)| !plain(ask)) {
        let bucket = keys.meta_bucket_arg(ask.user_id);
        match (ask.mode, ask.presented) {
            (Mode::Join { nonce, .. }, None) => call.arg("j").arg(ask.user_id).arg(bucket).arg(nonce),
            // Never without a token here: those went first, as plain polls.
            (Mode::Poll, token) => call
                .arg("P")
                .arg(ask.user_id)
                .arg(bucket)
                .arg(&presented(token.unwrap_or_default())),
            (Mode::Join { nonce, .. }, Some(token)) => call
                .arg("J")
                .arg(ask.user_id)
                .arg(bucket)
                .arg(nonce)
                .arg(&presented(token)),
        };
        order.push(index);
    }
    let Answers(answers) = eval(redis, &SCRIPT, &call).await?;
    if answers.len() != asks.len() {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Parse,
            "queue_standing answered a different number of entries than it was sent",
        )));
    }
    let mut standings: Vec<Option<Standing>> = vec![None; asks.len()];
    for (index, answer) in order.into_iter().zip(answers) {
        standings[index] = Some(match answer {
            Answer::Waiting { position, record } => in_line(position, &record, timing.idle_timeout_s)?,
            Answer::Other(standing) => standing,
        });
    }
    Ok(standings.into_iter().flatten().collect())
}

fn presented(token: Presented) -> [i64; 4] {
    [token.issued_s, i64::from(token.nonce), token.seq, token.active_until_ms]
}
