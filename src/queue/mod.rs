//! The waiting queue: fair first-come places in Redis, signed tokens, and the
//! gate that lets only admitted users into the booking API.
//!
//! Invariants, all kept inside Lua scripts so they hold across any number of
//! gateway instances:
//! - order is a per-queue sequence number (INCR), never wall-clock time;
//! - a user has at most one token per queue; joining again returns it;
//! - all times come from Redis `TIME`;
//! - at most `max_active` users are active, admitted at most `admit_rate` per second.
//!
//! Join and poll are one EVALSHA each and never touch Postgres.

pub mod gate;
pub mod pacing;
pub mod scheduler;
pub mod stats;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use redis::RedisError;

use crate::config::QueueConfig;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts;
use crate::users::UserDirectory;
pub use token::{QueueToken, TokenSigner};

/// How long per-user queue records outlive their last write.
const META_TTL_S: u64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("user {0} does not exist")]
    UserNotFound(i64),
    #[error("user {0} holds no token in this queue")]
    TokenNotFound(i64),
    #[error("no queue token was presented")]
    TokenMissing,
    #[error("the queue token is not valid")]
    TokenInvalid,
    #[error("the queue token belongs to another user or queue")]
    TokenMismatch,
    #[error("still waiting in line at position {position}")]
    NotAdmitted { position: u64 },
    #[error("the queue token has expired")]
    TokenExpired,
    #[error("Redis failed")]
    Redis(#[from] RedisError),
    #[error("unexpected reply from Redis: {0}")]
    UnexpectedReply(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Waiting,
    Active,
    Expired,
}

/// A user's standing in one queue, as join and poll report it.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub user_id: i64,
    pub token: String,
    pub state: TokenState,
    /// 1-based place while waiting, 0 otherwise.
    pub position: u64,
    pub issued_at: DateTime<Utc>,
    /// Waiting: when the place is lost without a poll. Active: end of the
    /// admission. Expired: when it ended.
    pub expires_at: DateTime<Utc>,
    pub eta_seconds: u64,
    pub poll_after_ms: u64,
}

/// A token the gate has accepted as active.
#[derive(Debug, Clone)]
pub struct Admission {
    pub token: QueueToken,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct QueueService {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Redis,
    keys: Keys,
    signer: TokenSigner,
    users: Arc<UserDirectory>,
    config: QueueConfig,
    /// Measured admission rate per queue, as last read from Redis (by an
    /// admission step or [`QueueService::refresh_rates`]); kept here so polls
    /// need not read it.
    rates: RwLock<HashMap<String, f64>>,
}

/// (state, position, issued_s, nonce, expiry_ms)
type StandingReply = (String, u64, i64, u32, i64);

impl QueueService {
    pub fn new(redis: Redis, keys: Keys, signer: TokenSigner, users: Arc<UserDirectory>, config: QueueConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                keys,
                signer,
                users,
                config,
                rates: RwLock::default(),
            }),
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    pub fn users(&self) -> &UserDirectory {
        &self.inner.users
    }

    /// Takes a place at the back of `queue`, or returns the place already held.
    pub async fn join(&self, queue: &str, user_id: i64) -> Result<Ticket, QueueError> {
        self.require_user(user_id)?;
        let keys = self.inner.keys.queue(queue);
        let nonce: u32 = rand::random();
        let mut redis = self.inner.redis.connection().await?;
        let reply: StandingReply = scripts::QUEUE_JOIN
            .key(&keys.waiting)
            .key(&keys.active)
            .key(&keys.stats)
            .key(keys.meta_bucket(user_id))
            .arg(user_id)
            .arg(nonce)
            .arg(self.inner.config.idle_timeout_s)
            .arg(META_TTL_S)
            .invoke_async(&mut redis)
            .await?;
        self.ticket(queue, user_id, reply)
    }

    /// Reports the place of `user_id` in `queue`; polling keeps a waiting place alive.
    pub async fn poll(&self, queue: &str, user_id: i64) -> Result<Ticket, QueueError> {
        self.require_user(user_id)?;
        let keys = self.inner.keys.queue(queue);
        let mut redis = self.inner.redis.connection().await?;
        let reply: StandingReply = scripts::QUEUE_POLL
            .key(&keys.waiting)
            .key(&keys.active)
            .key(&keys.stats)
            .key(keys.meta_bucket(user_id))
            .arg(user_id)
            .arg(self.inner.config.idle_timeout_s)
            .invoke_async(&mut redis)
            .await?;
        self.ticket(queue, user_id, reply)
    }

    /// Polls with a token instead of a user id; an older token of the same user
    /// (replaced by a later join) reports as expired.
    pub async fn poll_token(&self, queue: &str, raw_token: &str) -> Result<Ticket, QueueError> {
        let token = self.verify(queue, raw_token, None)?;
        let mut ticket = self.poll(queue, token.user_id).await?;
        if ticket.token != raw_token {
            ticket.state = TokenState::Expired;
            ticket.position = 0;
            ticket.eta_seconds = 0;
            ticket.poll_after_ms = 0;
            ticket.token = raw_token.to_string();
            ticket.issued_at = seconds(token.issued_s);
        }
        Ok(ticket)
    }

    fn require_user(&self, user_id: i64) -> Result<(), QueueError> {
        if self.inner.users.contains(user_id) {
            Ok(())
        } else {
            Err(QueueError::UserNotFound(user_id))
        }
    }

    fn ticket(&self, queue: &str, user_id: i64, reply: StandingReply) -> Result<Ticket, QueueError> {
        let (state, position, issued_s, nonce, expiry_ms) = reply;
        let state = match state.as_str() {
            "waiting" => TokenState::Waiting,
            "active" => TokenState::Active,
            "expired" => TokenState::Expired,
            "none" => return Err(QueueError::TokenNotFound(user_id)),
            other => return Err(QueueError::UnexpectedReply(other.to_string())),
        };
        let token = self.inner.signer.sign(&QueueToken {
            queue: queue.to_string(),
            user_id,
            issued_s,
            nonce,
        });
        let position = if state == TokenState::Waiting { position } else { 0 };
        let eta_seconds = pacing::eta_seconds(position, self.admission_rate(queue));
        Ok(Ticket {
            user_id,
            token,
            state,
            position,
            issued_at: seconds(issued_s),
            expires_at: millis(expiry_ms),
            eta_seconds,
            poll_after_ms: pacing::poll_after_ms(position, eta_seconds),
        })
    }

    /// The measured admission rate, or the configured one before anything was measured.
    fn admission_rate(&self, queue: &str) -> f64 {
        let measured = self
            .inner
            .rates
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(queue)
            .copied();
        match measured {
            Some(rate) if rate > 0.0 => rate,
            _ if self.inner.config.admit_rate > 0 => self.inner.config.admit_rate as f64,
            _ => f64::from(u32::MAX),
        }
    }

    /// Remembers a measured rate read from Redis (`""` = nothing measured yet).
    pub(crate) fn remember_rate(&self, queue: &str, measured: &str) {
        if let Ok(rate) = measured.parse::<f64>() {
            let mut rates = self.inner.rates.write().unwrap_or_else(|p| p.into_inner());
            match rates.get_mut(queue) {
                Some(known) => *known = rate,
                None => {
                    rates.insert(queue.to_string(), rate);
                }
            }
        }
    }

    /// Reads the measured admission rate of `queues` from Redis in one pipeline,
    /// for instances that do not run the scheduler themselves.
    pub async fn refresh_rates(&self, queues: &[String]) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        for queue in queues {
            pipe.hget(&self.inner.keys.queue(queue).stats, "rate");
        }
        let mut redis = self.inner.redis.connection().await?;
        let rates: Vec<Option<String>> = pipe.query_async(&mut redis).await?;
        for (queue, rate) in queues.iter().zip(rates) {
            self.remember_rate(queue, rate.as_deref().unwrap_or(""));
        }
        Ok(())
    }
}

fn seconds(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at, 0).unwrap_or_default()
}

fn millis(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at).unwrap_or_default()
}
