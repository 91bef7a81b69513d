//! Postgres, the truth of the live settings: each queue's row (what operators
//! chose, and its version) and the record of every change. A change is one
//! transaction holding the row's lock, so changes made through any number of
//! instances apply one after another, each on top of the one before, and each
//! gets the next version.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;
use utoipa::ToSchema;

use super::protect::redact_record;
use super::values::{object_of, ChosenSettings, QueueState, SettingsPatch};
use crate::events::EventType;
use crate::queue::QueueError;
use crate::store::db::Db;
use crate::telemetry::otel;

/// Settings as Postgres holds them, with the version of that state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Versioned {
    pub(crate) chosen: ChosenSettings,
    pub(crate) version: i64,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct SettingsEvent {
    /// The record's id.
    pub(crate) id: String,
    /// When the change was made, ms since 1970.
    #[serde(rename = "atMs")]
    pub(crate) at_ms: i64,
    /// The first 8 hex digits of the admin token's SHA-256 (`redis` for
    /// settings found in Redis that Postgres had no record of, adopted as they were).
    pub(crate) who: String,
    /// The fields the change named, as sent.
    #[schema(value_type = Object)]
    pub(crate) changes: serde_json::Value,
    #[schema(value_type = Object)]
    pub(crate) before: serde_json::Value,
    #[schema(value_type = Object)]
    pub(crate) after: serde_json::Value,
}

/// Who adopted settings found only in Redis, in the record.
pub(super) const ADOPTED: &str = "redis";

/// A row of `queue_settings`, its JSON (`adaptive`, `protect`, `join_limits`, `challenge`) read as text.
struct Row {
    state: Option<String>,
    max_active: Option<i64>,
    admit_rate: Option<i64>,
    opens_at: Option<DateTime<Utc>>,
    adaptive: Option<String>,
    protect: Option<String>,
    join_limits: Option<String>,
    challenge: Option<String>,
    version: i64,
}
crate::store::rows::from_row!(Row {
    state,
    max_active,
    admit_rate,
    opens_at,
    adaptive,
    protect,
    join_limits,
    challenge,
    version
});

/// A row of `queue_settings_changes`, its JSON read as text.
struct ChangeRow {
    id: i64,
    at: DateTime<Utc>,
    who: String,
    changes: String,
    before: String,
    after: String,
}
crate::store::rows::from_row!(ChangeRow {
    id,
    at,
    who,
    changes,
    before,
    after
});

struct QueueRow {
    queue: String,
    row: Row,
}
crate::store::rows::from_row!(QueueRow { queue }, flatten { row });

fn versioned(row: Row) -> Result<Versioned, QueueError> {
    let unreadable = |what: String| QueueError::Unreadable(what);
    let count = |value: Option<i64>| value.map(|n| u64::try_from(n).map_err(|_| unreadable(format!("count {n}"))));
    Ok(Versioned {
        chosen: ChosenSettings {
            state: row
                .state
                .map(|state| QueueState::of(&state).ok_or_else(|| unreadable(format!("state `{state}`"))))
                .transpose()?,
            max_active: count(row.max_active).transpose()?,
            admit_rate: count(row.admit_rate).transpose()?,
            opens_at: row.opens_at,
            adaptive: row
                .adaptive
                .map(|json| serde_json::from_str(&json).map_err(|err| unreadable(format!("adaptive: {err}"))))
                .transpose()?,
            protect: row
                .protect
                .map(|json| serde_json::from_str(&json).map_err(|err| unreadable(format!("protect: {err}"))))
                .transpose()?,
            join_limits: row
                .join_limits
                .map(|json| serde_json::from_str(&json).map_err(|err| unreadable(format!("join_limits: {err}"))))
                .transpose()?,
            challenge: row
                .challenge
                .map(|json| serde_json::from_str(&json).map_err(|err| unreadable(format!("challenge: {err}"))))
                .transpose()?,
        },
        version: row.version,
    })
}

/// Applies `patch` to the queue's settings and records the change; returns the
/// settings before and after. Without an answer in time the outcome is
/// unknown: the queue's events (or its settings' version) tell.
pub(super) async fn change(
    db: &Db,
    queue: &str,
    patch: &SettingsPatch,
    who: &str,
) -> Result<(Versioned, Versioned), QueueError> {
    let (queue, patch, who) = (queue.to_owned(), patch.clone(), who.to_owned());
    db.bounded_change(move |connection| Box::pin(async move { change_on(connection, &queue, &patch, &who).await }))
        .await
}

async fn change_on(
    connection: &mut PgConnection,
    queue: &str,
    patch: &SettingsPatch,
    who: &str,
) -> Result<(Versioned, Versioned), QueueError> {
    let mut tx = sqlx::Connection::begin(connection).await?;
    // A queue never changed has no row: one is made (or found, when another
    // change made it first) so that there is a row to lock.
    sqlx::query("INSERT INTO queue_settings (queue) VALUES ($1) ON CONFLICT (queue) DO NOTHING")
        .bind(queue)
        .execute(&mut *tx)
        .instrument(otel::sql("settings.make_row"))
        .await?;
    let row: Row = sqlx::query_as(
        "SELECT state, max_active, admit_rate, opens_at, adaptive::text AS adaptive, protect::text AS protect,
             join_limits::text AS join_limits, challenge::text AS challenge, version
         FROM queue_settings WHERE queue = $1 FOR UPDATE",
    )
    .bind(queue)
    .fetch_one(&mut *tx)
    .instrument(otel::sql("settings.lock"))
    .await?;
    let before = versioned(row)?;
    let after = Versioned {
        chosen: before.chosen.applied(patch),
        version: before.version + 1,
    };
    write(&mut tx, queue, &after).await?;
    record(&mut tx, queue, who, &object_of(&patch.fields()), &before, &after).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// Writes `settings` into the queue's existing row.
async fn write(connection: &mut PgConnection, queue: &str, settings: &Versioned) -> Result<(), QueueError> {
    let chosen = &settings.chosen;
    let count = |value: Option<u64>| value.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let adaptive = chosen
        .adaptive
        .map(|adaptive| serde_json::to_string(&adaptive))
        .transpose()
        .map_err(|err| QueueError::Unreadable(format!("adaptive: {err}")))?;
    let protect = chosen
        .protect
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| QueueError::Unreadable(format!("protect: {err}")))?;
    let join_limits = chosen
        .join_limits
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| QueueError::Unreadable(format!("join_limits: {err}")))?;
    let challenge = chosen
        .challenge
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| QueueError::Unreadable(format!("challenge: {err}")))?;
    sqlx::query(
        "UPDATE queue_settings SET state = $2, max_active = $3, admit_rate = $4, opens_at = $5,
             adaptive = $6::jsonb, protect = $8::jsonb, join_limits = $9::jsonb, challenge = $10::jsonb, version = $7, updated_at = now()
         WHERE queue = $1",
    )
    .bind(queue)
    .bind(chosen.state.map(|state| state.as_str()))
    .bind(count(chosen.max_active))
    .bind(count(chosen.admit_rate))
    .bind(chosen.opens_at)
    .bind(adaptive)
    .bind(settings.version)
    .bind(protect)
    .bind(join_limits)
    .bind(challenge)
    .execute(connection)
    .instrument(otel::sql("settings.write"))
    .await?;
    Ok(())
}

async fn record(
    connection: &mut PgConnection,
    queue: &str,
    who: &str,
    changes: &serde_json::Value,
    before: &Versioned,
    after: &Versioned,
) -> Result<(), QueueError> {
    let (before, after_fields) = (object_of(&before.chosen.fields()), object_of(&after.chosen.fields()));
    sqlx::query(
        "INSERT INTO queue_settings_changes (queue, version, who, changes, before, after)
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb)",
    )
    .bind(queue)
    .bind(after.version)
    .bind(who)
    .bind(changes.to_string())
    .bind(before.to_string())
    .bind(after_fields.to_string())
    .execute(&mut *connection)
    .instrument(otel::sql("settings.record_change"))
    .await?;
    // The event, in the same transaction: it commits with the change or not at
    // all. It leaves the instance (webhooks), so no secret goes with it.
    let mut data = serde_json::json!({
        "who": who,
        "version": after.version,
        "changes": changes,
        "before": before,
        "after": after_fields,
    });
    for side in ["changes", "before", "after"] {
        if let Some(record) = data.get_mut(side) {
            redact_record(record);
        }
    }
    sqlx::query("INSERT INTO events (type, queue, data) VALUES ($1, $2, $3::jsonb)")
        .bind(EventType::QueueSettingsChanged.name())
        .bind(queue)
        .bind(data.to_string())
        .execute(connection)
        .instrument(otel::sql("settings.record_event"))
        .await?;
    Ok(())
}

/// The most recent changes of a queue, newest first.
pub(super) async fn events(db: &Db, queue: &str, count: usize) -> Result<Vec<SettingsEvent>, QueueError> {
    let queue = queue.to_owned();
    let rows: Vec<ChangeRow> = db
        .bounded(move |connection| {
            Box::pin(async move {
                let rows = sqlx::query_as(
                    "SELECT id, at, who, changes::text AS changes, before::text AS before, after::text AS after
                     FROM queue_settings_changes WHERE queue = $1 ORDER BY version DESC LIMIT $2",
                )
                .bind(queue)
                .bind(i64::try_from(count).unwrap_or(i64::MAX))
                .fetch_all(connection)
                .instrument(otel::sql("settings.changes"))
                .await?;
                Ok::<_, QueueError>(rows)
            })
        })
        .await?;
    let json = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    Ok(rows
        .into_iter()
        .map(|row| SettingsEvent {
            id: row.id.to_string(),
            at_ms: row.at.timestamp_millis(),
            who: row.who,
            changes: json(&row.changes),
            before: json(&row.before),
            after: json(&row.after),
        })
        .collect())
}

/// The settings Postgres holds for each of `queues` that has a row.
pub(super) async fn all(db: &Db, queues: &[String]) -> Result<HashMap<String, Versioned>, QueueError> {
    let queues = queues.to_vec();
    let rows: Vec<QueueRow> = db
        .bounded(move |connection| {
            Box::pin(async move {
                let rows = sqlx::query_as(
                    "SELECT queue, state, max_active, admit_rate, opens_at, adaptive::text AS adaptive,
                         protect::text AS protect, join_limits::text AS join_limits, challenge::text AS challenge, version
                     FROM queue_settings WHERE queue = ANY($1)",
                )
                .bind(queues)
                .fetch_all(connection)
                .instrument(otel::sql("settings.all"))
                .await?;
                Ok::<_, QueueError>(rows)
            })
        })
        .await?;
    rows.into_iter()
        .map(|QueueRow { queue, row }| Ok((queue, versioned(row)?)))
        .collect()
}

/// Records settings found only in Redis as the queue's, unless the queue has a
/// row by now; true when they were recorded. Without an answer in time, the
/// next pass reads whether they were.
pub(super) async fn adopt(db: &Db, queue: &str, found: &Versioned) -> Result<bool, QueueError> {
    let (queue, found) = (queue.to_owned(), found.clone());
    db.bounded_change(move |connection| Box::pin(async move { adopt_on(connection, &queue, &found).await }))
        .await
}

async fn adopt_on(connection: &mut PgConnection, queue: &str, found: &Versioned) -> Result<bool, QueueError> {
    let mut tx = sqlx::Connection::begin(connection).await?;
    let made = sqlx::query("INSERT INTO queue_settings (queue, version) VALUES ($1, 0) ON CONFLICT (queue) DO NOTHING")
        .bind(queue)
        .execute(&mut *tx)
        .instrument(otel::sql("settings.adopt"))
        .await?
        .rows_affected();
    if made == 0 {
        return Ok(false);
    }
    write(&mut tx, queue, found).await?;
    let nothing = Versioned {
        chosen: ChosenSettings::default(),
        version: 0,
    };
    let everything = object_of(&found.chosen.fields());
    record(&mut tx, queue, ADOPTED, &everything, &nothing, found).await?;
    tx.commit().await?;
    Ok(true)
}

/// Moves the queue's version from `from` to `to` (above a copy in Redis that
/// claims a newer version than Postgres has), unless it moved meanwhile;
/// returns the settings at their new version.
pub(super) async fn overtake(db: &Db, queue: &str, from: i64, to: i64) -> Result<Option<Versioned>, QueueError> {
    let queue = queue.to_owned();
    let row: Option<Row> = db
        .bounded_change(move |connection| {
            Box::pin(async move {
                let row = sqlx::query_as(
                    "UPDATE queue_settings SET version = $3 WHERE queue = $1 AND version = $2
                     RETURNING state, max_active, admit_rate, opens_at, adaptive::text AS adaptive,
                         protect::text AS protect, join_limits::text AS join_limits, challenge::text AS challenge, version",
                )
                .bind(queue)
                .bind(from)
                .bind(to)
                .fetch_optional(connection)
                .instrument(otel::sql("settings.overtake"))
                .await?;
                Ok::<_, QueueError>(row)
            })
        })
        .await?;
    row.map(versioned).transpose()
}
