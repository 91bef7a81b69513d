//! Sliding sessions of a protected site's visitors, written to Redis in
//! batches: the forward-auth check renews a pass without a store call and
//! notes here until when the visitor's admission must now last; once a second
//! a background chore sends each queue's notes in one pipeline, pushing the
//! visitors' ends in the queue's active set forward, which is what admission
//! counts and expires. So a check costs Redis nothing, and a renewal reaches
//! the slot accounting within about a second.
//!
//! `ZADD XX GT`: an admission that ended meanwhile (left, ended by its origin,
//! expired and swept) is not brought back, and an end is never moved earlier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::QueueError;
use crate::store::keys::Keys;
use crate::store::redis::Redis;

/// Notes not yet written, by queue: line id → end of the admission, ms.
#[derive(Clone)]
pub(crate) struct SessionActivity {
    redis: Redis,
    keys: Keys,
    pending: Arc<Mutex<HashMap<String, HashMap<i64, u64>>>>,
}

impl SessionActivity {
    pub(crate) fn new(redis: Redis, keys: Keys) -> Self {
        SessionActivity {
            redis,
            keys,
            pending: Arc::default(),
        }
    }

    /// Notes that `line_id`'s admission in `queue` must last until `until_ms`.
    pub(crate) fn extend(&self, queue: &str, line_id: i64, until_ms: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let until = pending
            .entry(queue.to_string())
            .or_default()
            .entry(line_id)
            .or_insert(0);
        *until = (*until).max(until_ms);
    }

    /// Writes every note taken so far; how many. Notes a failed write held
    /// are taken again at the next run (unless newer ones replaced them).
    pub(crate) async fn write(&self) -> Result<usize, QueueError> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut written = 0;
        for (queue, ends) in taken {
            let key = self.keys.queue(&queue).active.clone();
            let mut pipe = redis::pipe();
            for (line_id, until_ms) in &ends {
                pipe.cmd("ZADD")
                    .arg(&key)
                    .arg("XX")
                    .arg("GT")
                    .arg(until_ms)
                    .arg(line_id)
                    .ignore();
            }
            // One queue's keys share a slot: a pipeline is fine on a Cluster.
            let sent = async {
                let mut redis = self.redis.connection().await?;
                pipe.query_async::<()>(&mut redis).await
            };
            if let Err(err) = sent.await {
                for (line_id, until_ms) in ends {
                    self.extend(&queue, line_id, until_ms);
                }
                return Err(err.into());
            }
            written += ends.len();
        }
        Ok(written)
    }
}
