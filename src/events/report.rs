//! The report of a queue's sale, from the events in Postgres alone, so it
//! survives Redis: arrivals and the rest per second for the whole sale, the
//! waits, what became of those who joined, how many of the admitted bought,
//! the rate in use over time with every change and its reason, and seats sold
//! and revenue per minute.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use super::{EventType, EventsError};
use crate::store::db::Db;
use crate::telemetry::otel;

/// One second of a queue, all instances together (`queue.counts`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Second {
    /// Unix seconds.
    pub(crate) second: i64,
    pub(crate) joins: i64,
    pub(crate) polls: i64,
    pub(crate) admitted: i64,
    pub(crate) timed_out: i64,
    pub(crate) left: i64,
}
crate::store::rows::from_row!(Second {
    second,
    joins,
    polls,
    admitted,
    timed_out,
    left
});

/// Seconds from joining to admission, over every admission.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Waits {
    pub(crate) admitted: i64,
    pub(crate) p50_s: Option<i64>,
    pub(crate) p90_s: Option<i64>,
    pub(crate) p99_s: Option<i64>,
    pub(crate) max_s: Option<i64>,
}
crate::store::rows::from_row!(Waits {
    admitted,
    p50_s,
    p90_s,
    p99_s,
    max_s
});

/// What became of those who joined.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outcomes {
    pub(crate) joins: i64,
    pub(crate) admitted: i64,
    /// Stopped polling while in line: never admitted.
    pub(crate) timed_out_in_line: i64,
    /// Admitted, and the admission ran out.
    pub(crate) timed_out_after_admission: i64,
    /// Gave the place up (a protected site's visitors).
    pub(crate) left: i64,
}
crate::store::rows::from_row!(Outcomes {
    joins,
    admitted,
    timed_out_in_line,
    timed_out_after_admission,
    left
});

/// Admitted users, how many of them held seats, and how many paid.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Conversion {
    pub(crate) admitted_users: i64,
    pub(crate) holding_users: i64,
    pub(crate) paying_users: i64,
    /// `payingUsers` of `admittedUsers`, in percent; absent before any admission.
    pub(crate) paid_percent: Option<f64>,
}
crate::store::rows::from_row!(Conversion {
    admitted_users,
    holding_users,
    paying_users,
    paid_percent
});

/// A change of the rate in use: an adaptive step's, or an operator's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RateChange {
    #[schema(value_type = String, format = DateTime)]
    pub(crate) time: DateTime<Utc>,
    /// `admission.rate_changed` (an adaptive step) or `queue.settings_changed`.
    #[schema(example = "admission.rate_changed")]
    pub(crate) kind: String,
    /// The event's data: `from`, `to`, `decision`, `reason`… for a step;
    /// `who`, `changes` for an operator.
    #[schema(value_type = Object)]
    pub(crate) data: Value,
}

/// Seats sold and revenue in one minute.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Minute {
    #[schema(value_type = String, format = DateTime)]
    pub(crate) minute: DateTime<Utc>,
    pub(crate) payments: i64,
    pub(crate) seats: i64,
    /// Won.
    pub(crate) revenue: i64,
}
crate::store::rows::from_row!(Minute {
    minute,
    payments,
    seats,
    revenue
});

/// The report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    pub(crate) queue: String,
    /// Every second any instance counted something, in order.
    pub(crate) per_second: Vec<Second>,
    /// The busiest second's joins.
    pub(crate) peak_joins_per_second: i64,
    pub(crate) waits: Waits,
    pub(crate) outcomes: Outcomes,
    pub(crate) conversion: Conversion,
    pub(crate) rate_changes: Vec<RateChange>,
    pub(crate) per_minute: Vec<Minute>,
    pub(crate) seats_sold: i64,
    /// Won.
    pub(crate) revenue: i64,
}

struct ChangeRow {
    time: DateTime<Utc>,
    kind: String,
    data: String,
}
crate::store::rows::from_row!(ChangeRow { time, kind, data });

/// Builds reports.
#[derive(Clone)]
pub(crate) struct Reports {
    db: Db,
}

impl Reports {
    pub(crate) fn new(db: Db) -> Self {
        Reports { db }
    }

    /// The report of `queue`, from every event it has.
    pub(crate) async fn of(&self, queue: &str) -> Result<Report, EventsError> {
        let queue = queue.to_string();
        let name = queue.clone();
        let (per_second, waits, outcomes, conversion, changes, per_minute) = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let per_second: Vec<Second> = sqlx::query_as(
                        "SELECT (data->>'second')::bigint AS second,
                                sum((data->>'joins')::bigint)::bigint AS joins,
                                sum((data->>'polls')::bigint)::bigint AS polls,
                                sum((data->>'admitted')::bigint)::bigint AS admitted,
                                sum((data->>'timedOut')::bigint)::bigint AS timed_out,
                                sum((data->>'left')::bigint)::bigint AS left
                         FROM events WHERE queue = $1 AND type = $2
                         GROUP BY 1 ORDER BY 1",
                    )
                    .bind(&queue)
                    .bind(EventType::QueueCounts.name())
                    .fetch_all(&mut *connection)
                    .instrument(otel::sql("report.per_second"))
                    .await?;
                    let waits: Waits = sqlx::query_as(
                        "SELECT count(*) AS admitted,
                                percentile_disc(0.5) WITHIN GROUP (ORDER BY (data->>'waitedS')::bigint) AS p50_s,
                                percentile_disc(0.9) WITHIN GROUP (ORDER BY (data->>'waitedS')::bigint) AS p90_s,
                                percentile_disc(0.99) WITHIN GROUP (ORDER BY (data->>'waitedS')::bigint) AS p99_s,
                                max((data->>'waitedS')::bigint) AS max_s
                         FROM events WHERE queue = $1 AND type = $2",
                    )
                    .bind(&queue)
                    .bind(EventType::QueueAdmitted.name())
                    .fetch_one(&mut *connection)
                    .instrument(otel::sql("report.waits"))
                    .await?;
                    let outcomes: Outcomes = sqlx::query_as(
                        "SELECT COALESCE((SELECT sum((data->>'joins')::bigint) FROM events
                                          WHERE queue = $1 AND type = 'queue.counts'), 0)::bigint AS joins,
                                count(*) FILTER (WHERE type = 'queue.admitted') AS admitted,
                                count(*) FILTER (WHERE type = 'queue.timed_out' AND data->>'reason' = 'idle')
                                    AS timed_out_in_line,
                                count(*) FILTER (WHERE type = 'queue.timed_out' AND data->>'reason' = 'active')
                                    AS timed_out_after_admission,
                                count(*) FILTER (WHERE type = 'queue.left') AS left
                         FROM events WHERE queue = $1
                           AND type IN ('queue.admitted', 'queue.timed_out', 'queue.left')",
                    )
                    .bind(&queue)
                    .fetch_one(&mut *connection)
                    .instrument(otel::sql("report.outcomes"))
                    .await?;
                    let conversion: Conversion = sqlx::query_as(
                        "WITH admitted AS (
                             SELECT DISTINCT data->>'userId' AS user_id FROM events
                             WHERE queue = $1 AND type = 'queue.admitted' AND data ? 'userId'
                         ), holding AS (
                             SELECT DISTINCT data->>'userId' AS user_id FROM events
                             WHERE queue = $1 AND type = 'seats.held'
                         ), paying AS (
                             SELECT DISTINCT data->>'userId' AS user_id FROM events
                             WHERE queue = $1 AND type = 'payment.completed'
                         )
                         SELECT (SELECT count(*) FROM admitted) AS admitted_users,
                                (SELECT count(*) FROM holding JOIN admitted USING (user_id)) AS holding_users,
                                (SELECT count(*) FROM paying JOIN admitted USING (user_id)) AS paying_users,
                                NULL::float8 AS paid_percent",
                    )
                    .bind(&queue)
                    .fetch_one(&mut *connection)
                    .instrument(otel::sql("report.conversion"))
                    .await?;
                    let changes: Vec<ChangeRow> = sqlx::query_as(
                        "SELECT time, type AS kind, data::text AS data FROM events
                         WHERE queue = $1 AND (type = 'admission.rate_changed'
                             OR (type = 'queue.settings_changed'
                                 AND (data->'changes' ? 'admit_rate' OR data->'changes' ? 'state'
                                      OR data->'changes' ? 'adaptive_target_p99_ms')))
                         ORDER BY id",
                    )
                    .bind(&queue)
                    .fetch_all(&mut *connection)
                    .instrument(otel::sql("report.changes"))
                    .await?;
                    let per_minute: Vec<Minute> = sqlx::query_as(
                        "SELECT date_trunc('minute', time) AS minute,
                                count(*) FILTER (WHERE type = 'payment.completed') AS payments,
                                COALESCE(sum(jsonb_array_length(data->'seats'))
                                    FILTER (WHERE type = 'seats.sold'), 0)::bigint AS seats,
                                COALESCE(sum((data->>'amount')::bigint)
                                    FILTER (WHERE type = 'payment.completed'), 0)::bigint AS revenue
                         FROM events WHERE queue = $1 AND type IN ('payment.completed', 'seats.sold')
                         GROUP BY 1 ORDER BY 1",
                    )
                    .bind(&queue)
                    .fetch_all(&mut *connection)
                    .instrument(otel::sql("report.per_minute"))
                    .await?;
                    Ok::<_, EventsError>((per_second, waits, outcomes, conversion, changes, per_minute))
                })
            })
            .await?;
        let conversion = Conversion {
            paid_percent: (conversion.admitted_users > 0)
                .then(|| (conversion.paying_users as f64 * 1000.0 / conversion.admitted_users as f64).round() / 10.0),
            ..conversion
        };
        let rate_changes = changes
            .into_iter()
            .map(|row| {
                Ok(RateChange {
                    time: row.time,
                    kind: row.kind,
                    data: serde_json::from_str(&row.data)?,
                })
            })
            .collect::<Result<Vec<_>, EventsError>>()?;
        Ok(Report {
            queue: name,
            peak_joins_per_second: per_second.iter().map(|second| second.joins).max().unwrap_or(0),
            seats_sold: per_minute.iter().map(|minute| minute.seats).sum(),
            revenue: per_minute.iter().map(|minute| minute.revenue).sum(),
            per_second,
            waits,
            outcomes,
            conversion,
            rate_changes,
            per_minute,
        })
    }
}
