//! The keys with which a protected site's origin ends its visitors' sessions:
//! made by the admin API and shown once; Postgres keeps only their SHA-256,
//! so a leaked database does not leak a key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::Settings;
use crate::queue::QueueError;
use crate::telemetry::otel;

/// What every key starts with, so a leaked one is recognised for what it is.
const KEY_PREFIX: &str = "bo_origin_";

impl Settings {
    /// Makes a new origin key for `queue`; the only time it is ever shown.
    pub(crate) async fn new_origin_key(&self, queue: &str) -> Result<String, QueueError> {
        let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
        // A key whose answer was lost is never shown, so never used: asking
        // again for a new one is safe.
        let (queue_name, hash) = (queue.to_owned(), Sha256::digest(key.as_bytes()).to_vec());
        self.db
            .bounded_change(move |connection| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO queue_origin_keys (queue, key_sha256) VALUES ($1, $2)")
                        .bind(queue_name)
                        .bind(hash)
                        .execute(connection)
                        .instrument(otel::sql("origin_keys.create"))
                        .await?;
                    Ok::<_, QueueError>(())
                })
            })
            .await?;
        tracing::info!(queue, "an origin key was made");
        Ok(key)
    }

    /// Whether `key` is one of `queue`'s origin keys.
    pub(crate) async fn is_origin_key(&self, queue: &str, key: &str) -> Result<bool, QueueError> {
        if !key.starts_with(KEY_PREFIX) || key.len() > 128 {
            return Ok(false);
        }
        // Looked up by the key's hash: the comparison is of hashes, so its
        // timing says nothing about the key.
        let (queue, hash) = (queue.to_owned(), Sha256::digest(key.as_bytes()).to_vec());
        let found: Option<i64> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let found =
                        sqlx::query_scalar("SELECT id FROM queue_origin_keys WHERE queue = $1 AND key_sha256 = $2")
                            .bind(queue)
                            .bind(hash)
                            .fetch_optional(connection)
                            .instrument(otel::sql("origin_keys.find"))
                            .await?;
                    Ok::<_, QueueError>(found)
                })
            })
            .await?;
        Ok(found.is_some())
    }
}
