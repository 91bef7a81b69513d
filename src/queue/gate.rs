//! The gate of the booking API: only an active token of the right queue, held
//! by the right user, gets through. The signature is checked before any Redis
//! call; the state check is one read-only script (using a token does not extend it).

use super::{millis, scripts, Admission, QueueError, QueueService, QueueToken};

impl QueueService {
    /// The gate of the booking API: accepts only an active token of this queue
    /// (and of `user_id`, when the request names a user).
    pub async fn authorize(&self, queue: &str, raw_token: &str, user_id: Option<i64>) -> Result<Admission, QueueError> {
        let token = self.verify(queue, raw_token, user_id)?;
        let keys = self.inner.keys.queue(queue);
        let mut redis = self.inner.redis.connection().await?;
        let (state, value): (String, i64) = scripts::QUEUE_CHECK_ACTIVE
            .key(&keys.waiting)
            .key(&keys.active)
            .key(keys.meta_bucket(token.user_id))
            .arg(token.user_id)
            .arg(token.issued_s)
            .arg(token.nonce)
            .invoke_async(&mut redis)
            .await?;
        match state.as_str() {
            "active" => Ok(Admission {
                token,
                expires_at: millis(value),
            }),
            "waiting" => Err(QueueError::NotAdmitted {
                position: value.max(0) as u64,
            }),
            "expired" | "stale" | "none" => Err(QueueError::TokenExpired),
            other => Err(QueueError::UnexpectedReply(other.to_string())),
        }
    }

    /// Ends an active token at once (after payment), freeing its slot.
    pub async fn expire(&self, token: &QueueToken) -> Result<bool, QueueError> {
        let keys = self.inner.keys.queue(&token.queue);
        let mut redis = self.inner.redis.connection().await?;
        let ended: i64 = scripts::QUEUE_EXPIRE_TOKEN
            .key(&keys.active)
            .key(&keys.stats)
            .key(keys.meta_bucket(token.user_id))
            .arg(token.user_id)
            .arg(token.issued_s)
            .arg(token.nonce)
            .invoke_async(&mut redis)
            .await?;
        Ok(ended == 1)
    }

    /// The queue a token was issued for, once its signature checks out.
    pub fn queue_of(&self, raw_token: &str) -> Result<String, QueueError> {
        Ok(self.signed(raw_token)?.queue)
    }

    /// Checks the signature and that the token is for `queue` (and `user_id`); no Redis call.
    pub fn verify(&self, queue: &str, raw_token: &str, user_id: Option<i64>) -> Result<QueueToken, QueueError> {
        let token = self.signed(raw_token)?;
        if token.queue != queue || user_id.is_some_and(|user| user != token.user_id) {
            return Err(QueueError::TokenMismatch);
        }
        Ok(token)
    }

    fn signed(&self, raw_token: &str) -> Result<QueueToken, QueueError> {
        let raw_token = raw_token.trim();
        if raw_token.is_empty() {
            return Err(QueueError::TokenMissing);
        }
        self.inner
            .signer
            .verify(raw_token)
            .map_err(|_| QueueError::TokenInvalid)
    }
}
