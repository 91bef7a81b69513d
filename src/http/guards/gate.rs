//! The one gate of both API surfaces: extractors that let a booking route run
//! only with an active queue token, built on the domain's [`Gate::check`].
//!
//! Which queue a route's token must belong to is the route's choice, made by a
//! [`TokenQueue`]: `/api` books through the default queue, `/api/v1` through
//! the queue of the concert in its path, and `/api/v1/payments` through the
//! concert the token itself names. The domain's gate then reads the token once
//! (signature, the route's test of its queue, its state in Redis). A request
//! that also names a user binds that user to the token with
//! [`ActiveToken::user`] (the domain's one binding rule).
//!
//! [`Gate::check`]: crate::queue::Gate

use crate::http::error::ErrorCode;
use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use crate::booking::catalog::Concert;
use crate::http::error::{Error, Result};
use crate::http::extract::token_from_headers;
use crate::http::state::AppState;
use crate::queue::{gate, Pass, QueueError, QueueToken};

/// Which queue a route wants its token to belong to.
pub(crate) enum Wanted<S> {
    /// This queue, and what the route learnt finding it (the concert, say).
    Queue { queue: String, scope: S },
    /// Whichever queue the token names, if the route takes it ([`TokenQueue::of_token`]).
    ItsOwn,
}

/// How a route finds the queue whose token it wants.
pub(crate) trait TokenQueue: Send + Sync + 'static {
    /// What the route learns on the way (the concert, say).
    type Scope: Send;

    /// Read before the token: the concert in the path, say.
    fn wanted(parts: &mut Parts, state: &AppState) -> impl Future<Output = Result<Wanted<Self::Scope>>> + Send;

    /// For a route that takes the token's own queue: whether it does.
    fn of_token(_queue: &str, _state: &AppState) -> Result<Self::Scope, QueueError> {
        Err(QueueError::TokenMismatch)
    }
}

/// The default queue, behind the `/api` routes.
pub(crate) struct DefaultQueue;

impl TokenQueue for DefaultQueue {
    type Scope = ();

    async fn wanted(_parts: &mut Parts, state: &AppState) -> Result<Wanted<()>> {
        Ok(Wanted::Queue {
            queue: state.config.queue.default_queue.clone(),
            scope: (),
        })
    }
}

/// The queue of the concert whose code is the path's `{code}`.
pub(crate) struct ConcertInPath;

impl TokenQueue for ConcertInPath {
    type Scope = Arc<Concert>;

    async fn wanted(parts: &mut Parts, state: &AppState) -> Result<Wanted<Arc<Concert>>> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Error::refused(ErrorCode::InvalidPath, rejection.body_text()))?;
        let code = params
            .iter()
            .find_map(|(name, value)| (name == "code").then_some(value))
            .ok_or_else(|| Error::refused(ErrorCode::InvalidPath, "the path names no concert"))?;
        let concert = state.catalog.concert_by_code(code)?;
        Ok(Wanted::Queue {
            queue: concert.code.clone(),
            scope: concert,
        })
    }
}

/// The concert queue the token itself was issued for; a token of the default
/// queue does not fit.
pub(crate) struct ConcertOfToken;

impl TokenQueue for ConcertOfToken {
    type Scope = Arc<Concert>;

    async fn wanted(_parts: &mut Parts, _state: &AppState) -> Result<Wanted<Arc<Concert>>> {
        Ok(Wanted::ItsOwn)
    }

    fn of_token(queue: &str, state: &AppState) -> Result<Arc<Concert>, QueueError> {
        state
            .catalog
            .concert_by_code(queue)
            .map_err(|_| QueueError::TokenMismatch)
    }
}

async fn pass_of<Q: TokenQueue>(parts: &mut Parts, state: &AppState) -> Result<(Pass, Q::Scope)> {
    let wanted = Q::wanted(parts, state).await?;
    let raw = token_from_headers(&parts.headers)?.ok_or(QueueError::TokenMissing)?;
    let checked = match wanted {
        Wanted::Queue { queue, scope } => {
            let fits = |named: &str| {
                if named == queue {
                    Ok(scope)
                } else {
                    Err(QueueError::TokenMismatch)
                }
            };
            state.gate.check(&raw, fits).await
        }
        Wanted::ItsOwn => state.gate.check(&raw, |named| Q::of_token(named, state)).await,
    };
    Ok(checked?)
}

/// An active token of the route's queue.
pub(crate) struct ActiveToken<Q: TokenQueue> {
    pub(crate) token: QueueToken,
    pub(crate) scope: Q::Scope,
}

impl<Q: TokenQueue> ActiveToken<Q> {
    /// The user the request names, provided the token is theirs.
    pub(crate) fn user(&self, named: i64) -> Result<i64> {
        Ok(gate::bind(&self.token, named)?)
    }
}

impl<Q: TokenQueue> FromRequestParts<AppState> for ActiveToken<Q> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let (pass, scope) = pass_of::<Q>(parts, state).await?;
        Ok(ActiveToken {
            token: pass.active()?,
            scope,
        })
    }
}

/// A genuine token of the route's queue that is active or has ended: a
/// payment needs the ended one too, to answer a retry with its receipt.
pub(crate) struct PaymentPass<Q: TokenQueue> {
    pub(crate) pass: Pass,
    pub(crate) scope: Q::Scope,
}

impl<Q: TokenQueue> FromRequestParts<AppState> for PaymentPass<Q> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let (pass, scope) = pass_of::<Q>(parts, state).await?;
        Ok(PaymentPass { pass, scope })
    }
}

/// The open reads of `/api` (schedules, seats): free for all, unless the
/// deployment makes them need an active token too.
pub(crate) struct ReadAccess;

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if state.config.booking.reads_require_token {
            ActiveToken::<DefaultQueue>::from_request_parts(parts, state).await?;
        }
        Ok(ReadAccess)
    }
}
