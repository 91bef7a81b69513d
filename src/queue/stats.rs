//! Live queue figures for operations (`/metrics`), read in one pipeline.

use std::collections::HashMap;

use super::{QueueError, QueueService};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub waiting: u64,
    pub active: u64,
    pub admission_rate: f64,
    pub joined: u64,
    pub admitted: u64,
    pub abandoned: u64,
    pub expired: u64,
    pub completed: u64,
}

impl QueueService {
    pub async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let keys = self.inner.keys.queue(queue);
        let mut redis = self.inner.redis.connection().await?;
        let (waiting, active, counters): (u64, u64, HashMap<String, String>) = redis::pipe()
            .zcard(&keys.waiting)
            .zcard(&keys.active)
            .hgetall(&keys.stats)
            .query_async(&mut redis)
            .await?;
        self.remember_rate(queue, counters.get("rate").map(String::as_str).unwrap_or(""));
        let count = |name: &str| counters.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueStats {
            waiting,
            active,
            admission_rate: counters.get("rate").and_then(|v| v.parse().ok()).unwrap_or(0.0),
            // Every new token takes the next sequence number.
            joined: count("seq"),
            admitted: count("admitted"),
            abandoned: count("abandoned"),
            expired: count("expired"),
            completed: count("completed"),
        })
    }
}
