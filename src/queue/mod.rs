//! The waiting queue: fair first-come places in Redis, signed tokens, admission
//! at a controlled rate, and the gate that lets only admitted users book.
//!
//! The services, wired together in `startup`:
//! - [`Line`] (`line.rs`): join a queue and poll the place, with an ETA;
//! - [`Scheduler`] (`scheduler.rs`): the admission step and the queue's live figures;
//! - [`Gate`] (`gate.rs`): is this token active, and ending it after a payment;
//! - [`Settings`] (`settings/`): the live settings operators change, kept in
//!   Postgres with their history, held by each instance for joins and copied
//!   into Redis for the Lua functions;
//! - [`Invitations`] (`invitations.rs`): presale codes, their uses counted in Postgres;
//! - [`Challenges`] (`challenge.rs`): ALTCHA proofs of work asked at the door,
//!   each solution taken once in Redis;
//! - [`overview`] (`overview.rs`): a queue's figures and settings at a glance;
//! - [`BookingHealth`] (`adaptive.rs`): booking latency, for adaptive admission.
//!
//! Invariants, all kept inside Lua functions so they hold across any number of
//! gateway instances:
//! - order is a per-queue sequence number, never wall-clock time;
//! - a user has at most one token per queue; joining again returns it;
//! - all times come from Redis `TIME`;
//! - at most `max_active` users are active, admitted at most `admit_rate` per second.
//!
//! Join and poll are one FCALL each (or a share of one, batched) and never
//! touch Postgres.

pub(crate) mod activity;
pub(crate) mod adaptive;
pub mod challenge;
pub(crate) mod gate;
pub(crate) mod invitations;
pub(crate) mod lanes;
pub(crate) mod line;
pub(crate) mod overview;
pub(crate) mod pacing;
pub(crate) mod rates;
pub(crate) mod scheduler;
pub(crate) mod settings;
pub(crate) mod token;
pub(crate) mod visitors;

use redis::RedisError;

use crate::store::db::DbError;
use crate::users::UnknownUser;
pub(crate) use activity::SessionActivity;
pub(crate) use adaptive::BookingHealth;
pub use challenge::Challenges;
pub(crate) use gate::Gate;
pub(crate) use gate::Pass;
pub(crate) use invitations::Invitations;
pub use line::{Line, Ticket, TokenState};
pub use scheduler::{AdaptiveStatus, AdmissionLimits, AdmissionStep, QueueStats, Scheduler, MAX_USERS_PER_STEP};
pub(crate) use settings::Settings;
pub use token::{QueueToken, TokenSigner};
pub(crate) use visitors::{Visitor, Visitors};

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
    #[error("this queue is closed to newcomers; people already in line keep their places")]
    QueueClosed,
    #[error("Redis failed")]
    Redis(#[from] RedisError),
    /// Nothing was sent to Postgres (it is down, or no connection came in
    /// time), or it gave up on the statement and rolled it back.
    #[error("Postgres is unavailable; nothing was done")]
    PostgresDown,
    #[error("Postgres failed")]
    Database(#[from] sqlx::Error),
    /// A change was sent and no answer came in time: it may have been made.
    #[error("Postgres did not answer in time; the change may or may not have been made")]
    OutcomeUnknown,
    #[error("stored settings are unreadable: {0}")]
    Unreadable(String),
    /// The queue's opening was due, and placing its pre-queue left it still
    /// due: the line cannot answer this join or poll. Ours to fix, not the
    /// client's.
    #[error("the queue's opening did not place its pre-queue")]
    OpeningNotPlaced,
    /// No such code, a code of another queue, or one bound to another user.
    #[error("this invitation code is not valid for this queue and user")]
    InvitationInvalid,
    #[error("this invitation code has no uses left")]
    InvitationUsedUp,
    #[error("this invitation code has expired")]
    InvitationExpired,
    /// The queue asks each join for a solved challenge, and this one has none.
    #[error("this queue asks for a solved challenge: fetch one from /queues/{queue}/challenge and send its solution in X-Altcha")]
    ChallengeRequired { queue: String },
    #[error("the challenge's solution was refused ({})", .0.as_str())]
    ChallengeFailed(challenge::Failure),
}

impl From<DbError> for QueueError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => {
                if let Some(cause) = cause {
                    tracing::debug!(error = %cause, "no Postgres connection for the queue");
                }
                QueueError::PostgresDown
            }
            DbError::Refused(err) => QueueError::Database(err),
            DbError::OutcomeUnknown(cause) => {
                tracing::warn!(error = ?cause, "a queue change got no answer: outcome unknown");
                QueueError::OutcomeUnknown
            }
        }
    }
}

impl From<UnknownUser> for QueueError {
    fn from(UnknownUser(user_id): UnknownUser) -> Self {
        QueueError::UserNotFound(user_id)
    }
}
