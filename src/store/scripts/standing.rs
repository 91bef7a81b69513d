//! `lua/queue_standing.lua`: join a queue, or poll the place held in it, for
//! many users of one queue in one call.
//!
//! The call is written into one command buffer, each user's meta bucket key
//! straight into it: a batch names one bucket per entry, and an allocation per
//! argument would cost more than the rest of the gateway's work on a poll.

use redis::{FromRedisValue, ParsingError, RedisResult, Value};

use super::library::{self, Function};
use super::record::{be_f64, be_u32, UserRecord};
use crate::store::keys::QueueKeys;
use crate::store::redis::Connection;

static FUNCTION: Function = Function::new("queue_standing");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Take a place at the back unless one is held; a new token gets `nonce`.
    Join {
        nonce: u32,
        /// The queue's settings as the join gate read them.
        rules: JoinRules,
        /// The solved challenge this join is let in with, taken with it.
        mark: Option<ChallengeMark>,
    },
    Poll,
}

/// A solved challenge (`queue::challenge`), taken by the join it lets in:
/// its signature names its mark, kept until `until_ms` (ms since 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChallengeMark {
    pub(crate) signature: [u8; 32],
    pub(crate) until_ms: i64,
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
    /// The join's challenge was used before: no join was made.
    ChallengeSpent,
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

/// One entry's answer as the function sends it.
enum Answer {
    /// In line at `position`, with the user's 20-byte record.
    Waiting { position: u64, record: Vec<u8> },
    /// Any other state, spelled out.
    Other(Standing),
}

/// The function's reply: one [`Answer`] per entry, in the order sent.
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
        7 => StandingState::ChallengeSpent,
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

/// A waiting user's answer, from the user's record (see [`UserRecord`]).
fn in_line(position: u64, record: &[u8], idle_timeout_s: u64) -> RedisResult<Standing> {
    let record = UserRecord::decode(record)
        .ok_or_else(|| redis::RedisError::from((redis::ErrorKind::Parse, "queue_standing: a short user record")))?;
    let idle = i64::try_from(idle_timeout_s).unwrap_or(i64::MAX / 2000);
    Ok(Standing {
        state: StandingState::Waiting,
        position,
        issued_s: record.issued_s,
        nonce: record.nonce,
        expiry_ms: (record.issued_s + record.seen_s + idle) * 1000,
        seq: record.seq,
    })
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
    /// A join with a presale invitation, before the opening: it takes a place
    /// in the line at once, ahead of the pre-queue (`opens_at_ms` is 0). Such
    /// joins go in runs of their own (`queue::lanes`).
    pub(crate) invited: bool,
}

impl JoinRules {
    /// The rules of an invited join before the opening: the line's, as if open.
    pub(crate) fn invited(self) -> Self {
        JoinRules {
            closed: self.closed,
            opens_at_ms: 0,
            invited: true,
        }
    }

    /// ARGV[3] of `queue_standing`.
    fn admission_flag(self) -> u8 {
        match (self.closed, self.invited) {
            (true, _) => 1,
            (false, true) => 2,
            (false, false) => 0,
        }
    }
}

/// Runs the entries in one call; one answer per entry, in the order of
/// `asks`. Plain polls are sent (and served) first, see the function.
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
    // The entries in the order sent: plain polls, then the rest.
    let order: Vec<usize> = (asks.iter().enumerate().filter(|(_, ask)| plain(ask)))
        .chain(asks.iter().enumerate().filter(|(_, ask)| !plain(ask)))
        .map(|(index, _)| index)
        .collect();
    let queue_keys = [&keys.waiting, &keys.active, &keys.stats, &keys.prequeue];
    let mark_of = |ask: &Ask| match ask.mode {
        Mode::Join { mark, .. } => mark,
        Mode::Poll => None,
    };
    let marks = asks.iter().filter(|ask| mark_of(ask).is_some()).count();
    let mut call = FUNCTION.call_naming(queue_keys.len() + asks.len() + marks);
    call.arg(&queue_keys);
    for &index in &order {
        call.arg(keys.meta_bucket_arg(asks[index].user_id));
    }
    for &index in &order {
        if let Some(mark) = mark_of(&asks[index]) {
            call.arg(keys.spent_challenge_arg(&mark.signature));
        }
    }
    // The KEYS index of the next mark, as the entries name them.
    let mut mark_key = queue_keys.len() + asks.len();
    call.arg(timing.idle_timeout_s)
        .arg(timing.meta_ttl_s)
        .arg(rules.admission_flag())
        .arg(rules.opens_at_ms)
        .arg(polls);
    for &index in &order {
        let ask = &asks[index];
        match (ask.mode, ask.presented) {
            (Mode::Poll, None) => call.arg(ask.user_id),
            (Mode::Join { nonce, mark: None, .. }, None) => call.arg("j").arg(ask.user_id).arg(nonce),
            (Mode::Poll, Some(token)) => call.arg("P").arg(ask.user_id).arg(&presented(token)),
            (Mode::Join { nonce, mark: None, .. }, Some(token)) => {
                call.arg("J").arg(ask.user_id).arg(nonce).arg(&presented(token))
            }
            (
                Mode::Join {
                    nonce,
                    mark: Some(mark),
                    ..
                },
                None,
            ) => {
                mark_key += 1;
                call.arg("k")
                    .arg(ask.user_id)
                    .arg(nonce)
                    .arg(mark_key)
                    .arg(mark.until_ms)
            }
            (
                Mode::Join {
                    nonce,
                    mark: Some(mark),
                    ..
                },
                Some(token),
            ) => {
                mark_key += 1;
                call.arg("K")
                    .arg(ask.user_id)
                    .arg(nonce)
                    .arg(&presented(token))
                    .arg(mark_key)
                    .arg(mark.until_ms)
            }
        };
    }
    let Answers(answers) = library::run_batch(redis, &call, asks.len()).await?;
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
