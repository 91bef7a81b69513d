//! Reading the events in the order of their ids, from a given one on: a page
//! at a time, which the stream repeats as new ones are sequenced.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::Instrument;

use super::{EventType, EventsError};
use crate::store::db::Db;
use crate::telemetry::otel;

/// Which events a reader wants: some types only, one queue only.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// `None`: every type.
    pub(crate) types: Option<Vec<EventType>>,
    pub(crate) queue: Option<String>,
}

/// One event as readers get it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Event {
    /// Increases within the stream: a reader resumes after the last it saw.
    #[schema(example = 42)]
    pub(crate) id: i64,
    #[serde(rename = "type")]
    #[schema(example = "seats.sold")]
    pub(crate) event_type: String,
    /// When it happened (RFC 3339).
    #[schema(value_type = String, format = DateTime, example = "2026-12-06T18:05:17.123456Z")]
    pub(crate) time: DateTime<Utc>,
    /// The queue it concerns, when it concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queue: Option<String>,
    /// The type's own fields, as written with the event.
    #[schema(value_type = Object)]
    pub(crate) data: Box<RawValue>,
}

struct EventRow {
    seq: i64,
    event_type: String,
    time: DateTime<Utc>,
    queue: Option<String>,
    data: String,
}
crate::store::rows::from_row!(EventRow {
    seq,
    event_type,
    time,
    queue,
    data
});

/// The events, read from Postgres.
#[derive(Clone)]
pub(crate) struct EventLog {
    db: Db,
}

impl EventLog {
    pub(crate) fn new(db: Db) -> Self {
        EventLog { db }
    }

    /// Up to `limit` events of `filter` with ids after `after`, in id order.
    /// Each read is bounded by the statement deadline: the stream that
    /// repeats it has no request deadline around it.
    pub(crate) async fn after(&self, after: i64, limit: i64, filter: &Filter) -> Result<Vec<Event>, EventsError> {
        let types: Option<Vec<&'static str>> = filter
            .types
            .as_ref()
            .map(|types| types.iter().map(|kind| kind.name()).collect());
        let queue = filter.queue.clone();
        let rows: Vec<EventRow> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let rows = sqlx::query_as(
                        "SELECT seq, type AS event_type, time, queue, data::text AS data FROM events
                     WHERE seq > $1 AND ($2::text[] IS NULL OR type = ANY($2)) AND ($3::text IS NULL OR queue = $3)
                     ORDER BY seq LIMIT $4",
                    )
                    .bind(after)
                    .bind(types)
                    .bind(queue)
                    .bind(limit)
                    .fetch_all(connection)
                    .instrument(otel::sql("events.after"))
                    .await?;
                    Ok::<_, EventsError>(rows)
                })
            })
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(Event {
                    id: row.seq,
                    event_type: row.event_type,
                    time: row.time,
                    queue: row.queue,
                    data: RawValue::from_string(row.data)?,
                })
            })
            .collect()
    }
}
