//! The one gate of both API surfaces: extractors that let a booking route run
//! only with an active queue token, built on the domain's [`Gate::check`].
//!
//! Which queue a route's token must belong to is the route's choice, made by a
//! [`TokenQueue`]: `/api` books through the default queue, `/api/v1` through
//! the queue of the concert in its path, and `/api/v1/payments` through the
//! concert the token itself names. The token is then checked (signature before
//! any Redis call, then its state in Redis). A request that also names a user
//! binds that user to the token with [`ActiveToken::user`].
//!
//! [`Gate::check`]: crate::queue::Gate

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use crate::booking::catalog::Concert;
use crate::http::error::{Error, Result};
use crate::http::extract::token_from_headers;
use crate::http::state::AppState;
use crate::queue::{Pass, QueueError, QueueToken};

/// How a route finds the queue whose token it wants.
pub(crate) trait TokenQueue: Send + Sync + 'static {
    /// What the route learns on the way (the concert, say).
    type Scope: Send;

    fn select(parts: &mut Parts, state: &AppState) -> impl Future<Output = Result<(String, Self::Scope)>> + Send;
}

/// The default queue, behind the `/api` routes.
pub(crate) struct DefaultQueue;

impl TokenQueue for DefaultQueue {
    type Scope = ();

    async fn select(_parts: &mut Parts, state: &AppState) -> Result<(String, ())> {
        Ok((state.config.queue.default_queue.clone(), ()))
    }
}

/// The queue of the concert whose code is the path's `{code}`.
pub(crate) struct ConcertInPath;

impl TokenQueue for ConcertInPath {
    type Scope = Arc<Concert>;

    async fn select(parts: &mut Parts, state: &AppState) -> Result<(String, Arc<Concert>)> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Error::bad_request("INVALID_PATH", rejection.body_text()))?;
        let code = params
            .iter()
            .find_map(|(name, value)| (name == "code").then_some(value))
            .ok_or_else(|| Error::bad_request("INVALID_PATH", "the path names no concert"))?;
        let concert = state.catalog.concert_by_code(code)?;
        Ok((concert.code.clone(), concert))
    }
}

/// The concert queue the token itself was issued for; a token of the default
/// queue does not fit.
pub(crate) struct ConcertOfToken;

impl TokenQueue for ConcertOfToken {
    type Scope = Arc<Concert>;

    async fn select(parts: &mut Parts, state: &AppState) -> Result<(String, Arc<Concert>)> {
        let raw = token_from_headers(&parts.headers)?.ok_or(QueueError::TokenMissing)?;
        let queue = state.gate.queue_of(&raw)?;
        let concert = state
            .catalog
            .concert_by_code(&queue)
            .map_err(|_| QueueError::TokenMismatch)?;
        Ok((queue, concert))
    }
}

async fn pass_of<Q: TokenQueue>(parts: &mut Parts, state: &AppState) -> Result<(Pass, Q::Scope)> {
    let (queue, scope) = Q::select(parts, state).await?;
    let raw = token_from_headers(&parts.headers)?.ok_or(QueueError::TokenMissing)?;
    let pass = state.gate.check(&queue, &raw).await?;
    Ok((pass, scope))
}

/// An active token of the route's queue.
pub(crate) struct ActiveToken<Q: TokenQueue> {
    pub(crate) token: QueueToken,
    pub(crate) scope: Q::Scope,
}

impl<Q: TokenQueue> ActiveToken<Q> {
    /// The user the request names, provided the token is theirs.
    pub(crate) fn user(&self, named: i64) -> Result<i64> {
        if named == self.token.user_id {
            Ok(named)
        } else {
            Err(QueueError::TokenMismatch.into())
        }
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
