//! The line itself: join a queue, poll the place held in it, with an ETA and a
//! hint of when to ask again. Each call is one script run in Redis.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::pacing;
use super::rates::MeasuredRates;
use super::token::{QueueToken, TokenSigner};
use super::QueueError;
use crate::config::QueueConfig;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::standing::{self, Mode, Standing, StandingState};
use crate::users::UserDirectory;

/// How long per-user queue records outlive their last write.
const META_TTL_S: u64 = 24 * 3600;

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

#[derive(Clone)]
pub struct Line {
    redis: Redis,
    keys: Keys,
    signer: TokenSigner,
    users: Arc<UserDirectory>,
    rates: Arc<MeasuredRates>,
    config: Arc<QueueConfig>,
}

impl Line {
    pub(crate) fn new(
        redis: Redis,
        keys: Keys,
        signer: TokenSigner,
        users: Arc<UserDirectory>,
        rates: Arc<MeasuredRates>,
        config: Arc<QueueConfig>,
    ) -> Self {
        Line {
            redis,
            keys,
            signer,
            users,
            rates,
            config,
        }
    }

    /// Takes a place at the back of `queue`, or returns the place already held.
    pub async fn join(&self, queue: &str, user_id: i64) -> Result<Ticket, QueueError> {
        let mode = Mode::Join {
            nonce: rand::random(),
            meta_ttl_s: META_TTL_S,
        };
        self.standing(queue, user_id, mode).await
    }

    /// Reports the place of `user_id` in `queue`; polling keeps a waiting place alive.
    pub async fn poll(&self, queue: &str, user_id: i64) -> Result<Ticket, QueueError> {
        self.standing(queue, user_id, Mode::Poll).await
    }

    /// Polls with a token instead of a user id; an older token of the same user
    /// (replaced by a later join) reports as expired.
    pub(crate) async fn poll_token(&self, queue: &str, raw_token: &str) -> Result<Ticket, QueueError> {
        let token = self.signer.verify_for(queue, raw_token)?;
        let mut ticket = self.poll(queue, token.user_id).await?;
        if ticket.token != raw_token.trim() {
            ticket.state = TokenState::Expired;
            ticket.position = 0;
            ticket.eta_seconds = 0;
            ticket.poll_after_ms = 0;
            ticket.token = raw_token.trim().to_string();
            ticket.issued_at = seconds(token.issued_s);
        }
        Ok(ticket)
    }

    async fn standing(&self, queue: &str, user_id: i64, mode: Mode) -> Result<Ticket, QueueError> {
        self.users.require(user_id)?;
        let keys = self.keys.queue(queue);
        let mut redis = self.redis.connection().await?;
        let standing = standing::run(&mut redis, &keys, user_id, self.config.idle_timeout_s, mode).await?;
        self.ticket(queue, user_id, standing)
    }

    fn ticket(&self, queue: &str, user_id: i64, standing: Standing) -> Result<Ticket, QueueError> {
        let state = match standing.state {
            StandingState::Waiting => TokenState::Waiting,
            StandingState::Active => TokenState::Active,
            StandingState::Expired => TokenState::Expired,
            StandingState::NeverJoined => return Err(QueueError::TokenNotFound(user_id)),
        };
        let token = self.signer.sign(&QueueToken {
            queue: queue.to_string(),
            user_id,
            issued_s: standing.issued_s,
            nonce: standing.nonce,
        });
        let position = if state == TokenState::Waiting {
            standing.position
        } else {
            0
        };
        let rate = self.rates.rate_for(queue, self.config.admit_rate);
        let eta_seconds = pacing::eta_seconds(position, rate);
        Ok(Ticket {
            user_id,
            token,
            state,
            position,
            issued_at: seconds(standing.issued_s),
            expires_at: DateTime::from_timestamp_millis(standing.expiry_ms).unwrap_or_default(),
            eta_seconds,
            poll_after_ms: pacing::poll_after_ms(position, eta_seconds),
        })
    }
}

fn seconds(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at, 0).unwrap_or_default()
}
