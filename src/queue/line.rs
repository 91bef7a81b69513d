//! The line itself: join a queue, poll the place held in it, with an ETA and a
//! hint of when to ask again. Each call is one Lua function call in Redis
//! (`queue_standing`, batched with others).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::challenge::{Failure, Solved};
use super::lanes::Lanes;
use super::pacing;
use super::rates::MeasuredRates;
use super::settings::Snapshot;
use super::token::{QueueToken, TokenSigner};
use super::visitors::Visitor;
use super::QueueError;
use crate::config::QueueConfig;
use crate::events::QueueCounts;
use crate::store::keys::{Keys, META_TTL_S};
use crate::store::redis::Redis;
use crate::store::scripts::open_queue;
use crate::store::scripts::standing::{Ask, JoinRules, Mode, Standing, StandingState, Timing};
use crate::users::UserDirectory;

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
    /// In the pre-queue (waiting, no place yet): when the queue opens.
    pub opens_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Line {
    redis: Redis,
    keys: Keys,
    lanes: Lanes,
    signer: TokenSigner,
    users: Arc<UserDirectory>,
    rates: Arc<MeasuredRates>,
    config: Arc<QueueConfig>,
    /// Each queue's settings as this instance holds them.
    settings: Snapshot,
}

impl Line {
    pub(crate) fn new(
        redis: Redis,
        keys: Keys,
        signer: TokenSigner,
        users: Arc<UserDirectory>,
        rates: Arc<MeasuredRates>,
        config: Arc<QueueConfig>,
        settings: Snapshot,
    ) -> Self {
        let timing = Timing {
            idle_timeout_s: config.idle_timeout_s,
            meta_ttl_s: META_TTL_S,
        };
        let lanes = Lanes::new(
            redis.clone(),
            keys.clone(),
            timing,
            settings.clone(),
            config.batch_max as usize,
        );
        Line {
            redis,
            keys,
            lanes,
            signer,
            users,
            rates,
            config,
            settings,
        }
    }

    /// The same line, counting its joins and polls into `counts` (the tools
    /// in `examples/` count nothing: they write no events).
    pub(crate) fn counting(mut self, counts: QueueCounts) -> Self {
        self.lanes = self.lanes.counting(counts);
        self
    }

    /// Takes a place at the back of `queue`, or returns the place already held.
    pub async fn join(&self, queue: &str, user_id: i64) -> Result<Ticket, QueueError> {
        let rules = self.settings.join_rules(queue);
        self.join_with(queue, user_id, None, rules, None).await
    }

    /// Joins, presenting the user's token if the client sent one: after a
    /// Redis that lost its data, the token's signed place is given back.
    pub(crate) async fn join_with(
        &self,
        queue: &str,
        user_id: i64,
        presented: Option<&str>,
        rules: JoinRules,
        challenge: Option<Solved>,
    ) -> Result<Ticket, QueueError> {
        self.users.require(user_id)?;
        let mode = Mode::Join {
            nonce: rand::random(),
            rules,
            mark: challenge.map(|Solved(mark)| mark),
        };
        self.answer(queue, user_id, mode, presented).await
    }

    /// Joins as the anonymous visitor `visitor` of a protected site (no user
    /// account), presenting the visitor's token if the client sent one.
    pub(crate) async fn join_as_visitor(
        &self,
        queue: &str,
        visitor: Visitor,
        presented: Option<&str>,
        rules: JoinRules,
        challenge: Option<Solved>,
    ) -> Result<Ticket, QueueError> {
        let mode = Mode::Join {
            nonce: rand::random(),
            rules,
            mark: challenge.map(|Solved(mark)| mark),
        };
        self.answer(queue, visitor.line_id(), mode, presented).await
    }

    /// Reports the place of `user_id` in `queue`; polling keeps a waiting place alive.
    pub async fn poll(&self, queue: &str, user_id: i64) -> Result<Ticket, QueueError> {
        self.poll_with(queue, user_id, None).await
    }

    /// Polls, presenting the user's token if the client sent one (see [`Line::join_with`]).
    pub(crate) async fn poll_with(
        &self,
        queue: &str,
        user_id: i64,
        presented: Option<&str>,
    ) -> Result<Ticket, QueueError> {
        self.users.require(user_id)?;
        self.answer(queue, user_id, Mode::Poll, presented).await
    }

    /// A join or poll by user id, with the token the client presented if any.
    async fn answer(
        &self,
        queue: &str,
        user_id: i64,
        mode: Mode,
        presented: Option<&str>,
    ) -> Result<Ticket, QueueError> {
        let shown = self.presented(queue, user_id, presented)?;
        let standing = self.standing(queue, user_id, mode, shown.as_ref()).await?;
        let shown = shown.as_ref().zip(presented);
        self.ticket(queue, user_id, standing, shown)
    }

    /// Polls with a token instead of a user id; an older token of the same user
    /// (replaced by a later join) reports as expired.
    pub(crate) async fn poll_token(&self, queue: &str, raw_token: &str) -> Result<Ticket, QueueError> {
        let token = self.signer.verify_for(queue, raw_token)?;
        self.users.require(token.user_id)?;
        self.poll_verified(queue, token, raw_token).await
    }

    /// Polls with a visitor's token: the token must be a visitor's, of `queue`.
    pub(crate) async fn poll_visitor(&self, queue: &str, raw_token: &str) -> Result<(Visitor, Ticket), QueueError> {
        let token = self.signer.verify_for(queue, raw_token)?;
        let visitor = Visitor::of_line_id(token.user_id).ok_or(QueueError::TokenMismatch)?;
        Ok((visitor, self.poll_verified(queue, token, raw_token).await?))
    }

    /// The visitor whose token `raw_token` is, in `queue`, if it is a visitor's.
    pub(crate) fn visitor_of(&self, queue: &str, raw_token: &str) -> Result<(Visitor, QueueToken), QueueError> {
        let token = self.signer.verify_for(queue, raw_token)?;
        let visitor = Visitor::of_line_id(token.user_id).ok_or(QueueError::TokenMismatch)?;
        Ok((visitor, token))
    }

    async fn poll_verified(&self, queue: &str, token: QueueToken, raw_token: &str) -> Result<Ticket, QueueError> {
        let standing = self.standing(queue, token.user_id, Mode::Poll, Some(&token)).await?;
        let same_join = standing.issued_s == token.issued_s && standing.nonce == token.nonce;
        let mut ticket = self.ticket(queue, token.user_id, standing, Some((&token, raw_token)))?;
        if !same_join {
            ticket.state = TokenState::Expired;
            ticket.position = 0;
            ticket.eta_seconds = 0;
            ticket.poll_after_ms = 0;
            ticket.token = raw_token.trim().to_string();
            ticket.issued_at = seconds(token.issued_s);
        }
        Ok(ticket)
    }

    /// The token a client sent with a request that names `user_id`: it must be
    /// genuine, of this queue and of that user.
    fn presented(&self, queue: &str, user_id: i64, raw: Option<&str>) -> Result<Option<QueueToken>, QueueError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let token = self.signer.verify_for(queue, raw)?;
        if token.user_id != user_id {
            return Err(QueueError::TokenMismatch);
        }
        Ok(Some(token))
    }

    async fn standing(
        &self,
        queue: &str,
        user_id: i64,
        mode: Mode,
        presented: Option<&QueueToken>,
    ) -> Result<Standing, QueueError> {
        let ask = Ask {
            user_id,
            mode,
            presented: presented.map(QueueToken::presented),
        };
        let standing = self.lanes.ask(queue, ask).await?;
        if standing.state != StandingState::OpeningDue {
            return Ok(standing);
        }
        // The first to ask after the opening places the pre-queue (by lot), then
        // everyone, this caller included, is answered from the line.
        let mut redis = self.redis.connection().await?;
        let placed = open_queue::run(&mut redis, &self.keys.queue(queue)).await?;
        if placed > 0 {
            tracing::info!(queue, placed, "queue opened: the pre-queue is placed by lot");
        }
        Ok(self.lanes.ask(queue, ask).await?)
    }

    /// The answer to a join or poll. `shown` is the verified token the client
    /// sent and its text: when it is exactly the token this answer carries, it
    /// is sent back as it came instead of being signed again.
    fn ticket(
        &self,
        queue: &str,
        user_id: i64,
        standing: Standing,
        shown: Option<(&QueueToken, &str)>,
    ) -> Result<Ticket, QueueError> {
        let state = match standing.state {
            StandingState::Waiting => TokenState::Waiting,
            StandingState::Active => TokenState::Active,
            StandingState::Expired => TokenState::Expired,
            StandingState::NeverJoined => return Err(QueueError::TokenNotFound(user_id)),
            StandingState::Closed => return Err(QueueError::QueueClosed),
            StandingState::PreQueue => return Ok(self.prequeue_ticket(queue, user_id, &standing)),
            StandingState::OpeningDue => return Err(QueueError::OpeningNotPlaced),
            StandingState::ChallengeSpent => return Err(QueueError::ChallengeFailed(Failure::Spent)),
        };
        let token = QueueToken {
            queue: queue.to_string(),
            user_id,
            issued_s: standing.issued_s,
            nonce: standing.nonce,
            seq: standing.seq,
            // An active token carries its end, so it is honoured to the end even
            // by a Redis that lost it.
            active_until_ms: if state == TokenState::Active {
                standing.expiry_ms
            } else {
                0
            },
        };
        let token = match shown {
            Some((shown, raw)) if *shown == token => raw.trim().to_string(),
            _ => self.signer.sign(&token),
        };
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
            opens_at: None,
        })
    }

    /// Waiting with no place yet: asked to poll again near the opening (not
    /// all in the same millisecond).
    fn prequeue_ticket(&self, queue: &str, user_id: i64, standing: &Standing) -> Ticket {
        let opens_at = DateTime::from_timestamp_millis(standing.expiry_ms).unwrap_or_default();
        let until_open_ms = (opens_at - Utc::now()).num_milliseconds().max(0) as u64;
        let token = self.signer.sign(&QueueToken {
            queue: queue.to_string(),
            user_id,
            issued_s: standing.issued_s,
            nonce: standing.nonce,
            seq: 0,
            active_until_ms: 0,
        });
        Ticket {
            user_id,
            token,
            state: TokenState::Waiting,
            position: 0,
            issued_at: seconds(standing.issued_s),
            expires_at: opens_at,
            eta_seconds: until_open_ms.div_ceil(1000),
            poll_after_ms: until_open_ms.clamp(pacing::MIN_POLL_MS, pacing::MAX_POLL_MS) + rand::random_range(0..500),
            opens_at: Some(opens_at),
        }
    }
}

fn seconds(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at, 0).unwrap_or_default()
}
