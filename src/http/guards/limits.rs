//! Per-client rate limits as extractors: a handler limited per client address
//! takes one in its signature, after the extractors whose refusals come first.
//! The limiters themselves are the edge's (`edge::rate_limits`); the join's
//! limits, per user and per address, are the join gate's (`join.rs`), since
//! they need the user the join names.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::client_ip::ClientIp;
use crate::http::error::{Error, Result};
use crate::http::state::AppState;

/// A position poll, within the per-address poll rate (`BOXOFFICE_POLL_RATE_LIMIT`).
pub(crate) struct PollLimit;

impl FromRequestParts<AppState> for PollLimit {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        state.limits.check_poll(ip)?;
        Ok(PollLimit)
    }
}

/// A balance read, within the per-address read rate (`BOXOFFICE_READ_RATE_LIMIT`).
pub(crate) struct ReadLimit;

impl FromRequestParts<AppState> for ReadLimit {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        state.limits.check_read(ip)?;
        Ok(ReadLimit)
    }
}
