//! Webhooks: operators register endpoints (a URL, the event types it wants, a
//! secret) and every such event is delivered to them, signed as the Standard
//! Webhooks specification says (`signing.rs`), at least once, retried with
//! backoff for more than a day (`delivery.rs`).
//!
//! Everything lives in Postgres beside the events (the migration
//! `*_webhooks.sql`): what is owed survives any instance's crash, and a
//! delivery is claimed by one instance at a time.

mod delivery;
mod signing;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::Instrument;
use uuid::Uuid;

pub(crate) use delivery::{Courier, DELIVER_EVERY};
pub(crate) use signing::Secret;

use super::{EventType, EventsError};
use crate::store::db::{Db, DbError};
use crate::telemetry::otel;

/// The most deliveries `deliveries` lists at once.
pub(crate) const MOST_LISTED: i64 = 1_000;

/// A new endpoint, checked.
pub(crate) struct NewEndpoint {
    pub(crate) url: reqwest::Url,
    pub(crate) types: Vec<EventType>,
    pub(crate) secret: Secret,
}

/// An endpoint as the admin API shows it: never its secret, which is shown
/// once, when it is registered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Endpoint {
    pub(crate) id: Uuid,
    #[schema(example = "https://shop.example/hooks/boxoffice")]
    pub(crate) url: String,
    #[schema(example = json!(["payment.completed", "seats.sold"]))]
    pub(crate) events: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub(crate) created_at: DateTime<Utc>,
    /// Deliveries not yet answered 2xx and still retried.
    pub(crate) pending: i64,
    pub(crate) delivered: i64,
    /// Deliveries given up after their retries.
    pub(crate) failed: i64,
}
crate::store::rows::from_row!(Endpoint {
    id,
    url,
    events,
    created_at,
    pending,
    delivered,
    failed
});

/// One delivery and every attempt at it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delivery {
    /// The `webhook-id` every attempt carries.
    #[schema(example = "evt_42")]
    pub(crate) webhook_id: String,
    #[schema(example = 42)]
    pub(crate) event_id: i64,
    #[schema(example = "payment.completed")]
    pub(crate) event_type: String,
    /// `pending`, `delivered` or `failed`.
    #[schema(example = "delivered")]
    pub(crate) state: String,
    /// Attempts begun, including one cut off by an instance's crash, which has
    /// no outcome below.
    pub(crate) attempt_count: i32,
    /// When the next attempt is due, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) attempts: Vec<Attempt>,
}

/// One attempt's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attempt {
    pub(crate) attempt: i32,
    #[schema(value_type = String, format = DateTime)]
    pub(crate) at: DateTime<Utc>,
    pub(crate) duration_ms: i32,
    /// The status the endpoint answered; absent when it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<i32>,
    /// Why the attempt failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

struct DeliveryRow {
    id: i64,
    event_seq: i64,
    event_type: String,
    state: String,
    attempts: i32,
    next_at: DateTime<Utc>,
}
crate::store::rows::from_row!(DeliveryRow {
    id,
    event_seq,
    event_type,
    state,
    attempts,
    next_at
});

struct AttemptRow {
    delivery_id: i64,
    attempt: i32,
    started_at: DateTime<Utc>,
    duration_ms: i32,
    status: Option<i32>,
    error: Option<String>,
}
crate::store::rows::from_row!(AttemptRow {
    delivery_id,
    attempt,
    started_at,
    duration_ms,
    status,
    error
});

/// The registered endpoints, in Postgres.
#[derive(Clone)]
pub(crate) struct Webhooks {
    db: Db,
}

/// A write whose outcome the caller must learn: not sent, refused, or unknown.
fn written(err: DbError) -> EventsError {
    match err {
        DbError::OutcomeUnknown(_) => EventsError::OutcomeUnknown,
        other => other.into(),
    }
}

impl Webhooks {
    pub(crate) fn new(db: Db) -> Self {
        Webhooks { db }
    }

    /// Registers `endpoint` for the events from now on; its id.
    pub(crate) async fn register(&self, endpoint: &NewEndpoint, by: &str) -> Result<Uuid, EventsError> {
        let id = Uuid::new_v4();
        let url = endpoint.url.to_string();
        let types: Vec<&'static str> = endpoint.types.iter().map(|kind| kind.name()).collect();
        let secret = endpoint.secret.as_str().to_string();
        let by = by.to_string();
        self.db
            .decisive(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO webhooks (id, url, event_types, secret, fanned_to, created_by)
                         VALUES ($1, $2, $3, $4, (SELECT COALESCE(max(seq), 0) FROM events), $5)",
                    )
                    .bind(id)
                    .bind(url)
                    .bind(types)
                    .bind(secret)
                    .bind(by)
                    .execute(connection)
                    .instrument(otel::sql("webhooks.register"))
                    .await
                })
            })
            .await
            .map_err(written)?;
        Ok(id)
    }

    /// Every endpoint, oldest first, with its deliveries counted by state.
    pub(crate) async fn list(&self) -> Result<Vec<Endpoint>, EventsError> {
        self.db
            .bounded(|connection| {
                Box::pin(async move {
                    let endpoints = sqlx::query_as(
                        "SELECT w.id, w.url, w.event_types AS events, w.created_at,
                                count(*) FILTER (WHERE d.state = 'pending') AS pending,
                                count(*) FILTER (WHERE d.state = 'delivered') AS delivered,
                                count(*) FILTER (WHERE d.state = 'failed') AS failed
                         FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
                         GROUP BY w.id ORDER BY w.created_at, w.id",
                    )
                    .fetch_all(connection)
                    .instrument(otel::sql("webhooks.list"))
                    .await?;
                    Ok::<_, EventsError>(endpoints)
                })
            })
            .await
    }

    /// Removes endpoint `id` and what is owed to it; whether there was one.
    pub(crate) async fn remove(&self, id: Uuid) -> Result<bool, EventsError> {
        let removed = self
            .db
            .decisive(move |connection| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM webhooks WHERE id = $1")
                        .bind(id)
                        .execute(connection)
                        .instrument(otel::sql("webhooks.remove"))
                        .await
                })
            })
            .await
            .map_err(written)?;
        Ok(removed.rows_affected() > 0)
    }

    /// Endpoint `id`'s latest `limit` deliveries, newest first, each with its
    /// attempts; `None` when there is no such endpoint.
    pub(crate) async fn deliveries(&self, id: Uuid, limit: i64) -> Result<Option<Vec<Delivery>>, EventsError> {
        let found = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1)")
                        .bind(id)
                        .fetch_one(&mut *connection)
                        .instrument(otel::sql("webhooks.known"))
                        .await?;
                    if !known {
                        return Ok::<_, EventsError>(None);
                    }
                    let deliveries: Vec<DeliveryRow> = sqlx::query_as(
                        "SELECT d.id, d.event_seq, e.type AS event_type, d.state, d.attempts, d.next_at
                         FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq
                         WHERE d.webhook_id = $1 ORDER BY d.event_seq DESC LIMIT $2",
                    )
                    .bind(id)
                    .bind(limit)
                    .fetch_all(&mut *connection)
                    .instrument(otel::sql("webhooks.deliveries"))
                    .await?;
                    let ids: Vec<i64> = deliveries.iter().map(|row| row.id).collect();
                    let attempts: Vec<AttemptRow> = sqlx::query_as(
                        "SELECT delivery_id, attempt, started_at, duration_ms, status, error
                         FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
                    )
                    .bind(ids)
                    .fetch_all(&mut *connection)
                    .instrument(otel::sql("webhooks.attempts"))
                    .await?;
                    Ok(Some((deliveries, attempts)))
                })
            })
            .await?;
        Ok(found.map(|(deliveries, attempts)| {
            deliveries
                .into_iter()
                .map(|row| Delivery {
                    webhook_id: delivery::message_id(row.event_seq),
                    event_id: row.event_seq,
                    event_type: row.event_type,
                    next_attempt_at: (row.state == "pending").then_some(row.next_at),
                    state: row.state,
                    attempt_count: row.attempts,
                    attempts: attempts
                        .iter()
                        .filter(|attempt| attempt.delivery_id == row.id)
                        .map(|attempt| Attempt {
                            attempt: attempt.attempt,
                            at: attempt.started_at,
                            duration_ms: attempt.duration_ms,
                            status: attempt.status,
                            error: attempt.error.clone(),
                        })
                        .collect(),
                })
                .collect()
        }))
    }
}
