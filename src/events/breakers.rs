//! `dependency.breaker_changed`: each time this instance's breaker for Redis
//! or Postgres opens or closes (`store/breaker.rs`), an event, written by a
//! chore once a second. The Postgres breaker's opening cannot be written while
//! Postgres is down: the changes wait in the breaker (the latest 1,000) and
//! are written, with their own times, once it is back.

use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use tracing::Instrument;

use super::{EventType, EventsError};
use crate::store::breaker::{Breaker, Change};
use crate::store::db::Db;
use crate::telemetry::otel;

/// Writes the breakers' changes as events.
#[derive(Clone)]
pub(crate) struct BreakerEvents {
    db: Db,
    breakers: Vec<Arc<Breaker>>,
    /// Which instance saw it: each has breakers of its own.
    instance: String,
}

impl BreakerEvents {
    pub(crate) fn new(db: Db, breakers: Vec<Arc<Breaker>>, instance: String) -> Self {
        BreakerEvents { db, breakers, instance }
    }

    /// Writes every change not yet written; how many.
    pub(crate) async fn write_once(&self) -> Result<usize, EventsError> {
        let taken: Vec<(&Arc<Breaker>, Vec<Change>)> = self
            .breakers
            .iter()
            .map(|breaker| (breaker, breaker.take_changes()))
            .filter(|(_, changes)| !changes.is_empty())
            .collect();
        if taken.is_empty() {
            return Ok(0);
        }
        let (mut times, mut data): (Vec<DateTime<Utc>>, Vec<String>) = (Vec::new(), Vec::new());
        for change in taken.iter().flat_map(|(_, changes)| changes) {
            times.push(change.at);
            data.push(
                json!({
                    "dependency": change.dependency.name(),
                    "state": if change.open { "open" } else { "closed" },
                    "instance": self.instance,
                })
                .to_string(),
            );
        }
        let count = times.len();
        let written = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO events (type, time, data)
                         SELECT $1, at, data::jsonb FROM unnest($2::timestamptz[], $3::text[]) AS change(at, data)
                         ORDER BY at",
                    )
                    .bind(EventType::DependencyBreakerChanged.name())
                    .bind(times)
                    .bind(data)
                    .execute(connection)
                    .instrument(otel::sql("events.insert_breaker_changes"))
                    .await?;
                    Ok::<_, EventsError>(())
                })
            })
            .await;
        if let Err(err) = written {
            // Written again next time (an unknown outcome may so write them twice).
            for (breaker, changes) in taken {
                breaker.put_back(changes);
            }
            return Err(err);
        }
        Ok(count)
    }
}
