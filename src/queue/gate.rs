//! The gate of the booking API: only an active token of the right queue gets
//! through. The signature is checked before any Redis call; the state check is
//! one read-only script (using a token does not extend it).
//!
//! Every booking route of both API surfaces passes through [`Gate::check`]
//! (by way of the HTTP layer's `ActiveToken` extractor), which reads the token
//! once: its signature, then whether its queue is the one the route wants,
//! then its state. A payment also keeps a token that has ended, so a retry
//! can be answered with its receipt. Whether a token serves the user a
//! request names is [`Pass::bound_to`]'s to say, for every route.

use super::token::{QueueToken, TokenSigner};
use super::QueueError;
use crate::store::keys::{Keys, META_TTL_S};
use crate::store::redis::Redis;
use crate::store::scripts::check_active::{self, TokenCheck};
use crate::store::scripts::expire_token;

/// A genuine token of the queue asked for, and whether it may book now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pass {
    Active(QueueToken),
    /// It was admitted once (or replaced by a newer join), and is over.
    Ended(QueueToken),
}

impl Pass {
    pub(crate) fn token(&self) -> &QueueToken {
        match self {
            Pass::Active(token) | Pass::Ended(token) => token,
        }
    }

    /// A token serves only the user it was issued to.
    pub(crate) fn bound_to(self, user_id: i64) -> Result<Self, QueueError> {
        bind(self.token(), user_id)?;
        Ok(self)
    }

    /// The token, provided it is still active.
    pub(crate) fn active(self) -> Result<QueueToken, QueueError> {
        match self {
            Pass::Active(token) => Ok(token),
            Pass::Ended(_) => Err(QueueError::TokenExpired),
        }
    }
}

/// The user `token` serves, if it is `user_id`.
pub(crate) fn bind(token: &QueueToken, user_id: i64) -> Result<i64, QueueError> {
    if token.user_id == user_id {
        Ok(user_id)
    } else {
        Err(QueueError::TokenMismatch)
    }
}

#[derive(Clone)]
pub(crate) struct Gate {
    redis: Redis,
    keys: Keys,
    signer: TokenSigner,
}

impl Gate {
    pub(crate) fn new(redis: Redis, keys: Keys, signer: TokenSigner) -> Self {
        Gate { redis, keys, signer }
    }

    /// The queue a token was issued for, once its signature checks out (for
    /// timing a request under its queue, not for letting it through).
    pub(crate) fn queue_of(&self, raw_token: &str) -> Result<String, QueueError> {
        Ok(self.signer.verify_signed(raw_token)?.queue)
    }

    /// Checks a presented token: refused when forged, when `fits` refuses
    /// its queue (a route's own queue, or any concert's), or while it still
    /// waits in line; otherwise active or ended, with what `fits` learnt of
    /// the queue. The signature is read once, before any Redis call.
    pub(crate) async fn check<S>(
        &self,
        raw_token: &str,
        fits: impl FnOnce(&str) -> Result<S, QueueError>,
    ) -> Result<(Pass, S), QueueError> {
        let token = self.signer.verify_signed(raw_token)?;
        let scope = fits(&token.queue)?;
        let keys = self.keys.queue(&token.queue);
        let mut redis = self.redis.connection().await?;
        let presented = token.presented();
        match check_active::run(&mut redis, &keys, token.user_id, &presented, META_TTL_S).await? {
            TokenCheck::Active { .. } => Ok((Pass::Active(token), scope)),
            TokenCheck::Waiting { position } => Err(QueueError::NotAdmitted { position }),
            TokenCheck::Expired | TokenCheck::Stale | TokenCheck::NeverJoined => Ok((Pass::Ended(token), scope)),
        }
    }

    /// Ends an active token at once (after payment), freeing its slot.
    pub(crate) async fn expire(&self, token: &QueueToken) -> Result<bool, QueueError> {
        let keys = self.keys.queue(&token.queue);
        let mut redis = self.redis.connection().await?;
        Ok(expire_token::run(&mut redis, &keys, token.user_id, token.issued_s, token.nonce).await?)
    }
}
