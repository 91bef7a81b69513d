//! Delivering events to the endpoints, one pass at a time on every instance:
//!
//! 1. **Fan-out.** For each endpoint, the events after the last it was owed
//!    (`fanned_to`) of the types it asked for become deliveries, and
//!    `fanned_to` moves on, in one statement that holds the endpoint's row, so
//!    two instances cannot owe the same event twice (the unique pair would
//!    refuse it besides). Events are read only once sequenced, and sequence
//!    numbers become visible in increasing order (`sequencer.rs`), so nothing
//!    below `fanned_to` can appear later.
//! 2. **Claim.** Due deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a
//!    lease longer than an attempt may take: each is sent by one instance at a
//!    time. An instance that dies mid-delivery leaves its lease to run out, and
//!    the delivery is claimed again: at least once, never lost.
//! 3. **Send**, signed (`signing.rs`), every claimed delivery at once.
//! 4. **Record** each outcome as it comes: a 2xx is delivered; anything else (another
//!    status, no answer within the timeout, no connection) is retried after a
//!    wait that doubles from `BOXOFFICE_WEBHOOK_RETRY_FIRST_MS` up to 8 hours;
//!    an attempt that fails more than `BOXOFFICE_WEBHOOK_RETRY_FOR_S` after the
//!    delivery was owed is the last, and the delivery is given up as failed
//!    (so the last attempt comes at least that long after the event). Only the claim's own attempt records: an
//!    instance whose lease ran out while it waited cannot overwrite the next.
//!
//! Every attempt of one delivery carries the same `webhook-id` (`evt_` and the
//! event's id), so a receiver drops the duplicates that at-least-once implies.
//! Deliveries to one endpoint are sent side by side, not in event order; the
//! event's `id` gives the order.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use rand::Rng;
use serde_json::value::RawValue;
use tracing::Instrument;

use super::Secret;
use crate::config::WebhooksConfig;
use crate::events::{Event, EventsError};
use crate::store::db::Db;
use crate::telemetry::metrics::WEBHOOK_ATTEMPTS;
use crate::telemetry::otel;

/// How often an instance's pass runs: about the longest an event waits after
/// being sequenced, besides the pass.
pub(crate) const DELIVER_EVERY: Duration = Duration::from_millis(500);

/// The most deliveries one pass claims and sends.
const MOST_PER_PASS: i64 = 64;

/// The most events one endpoint is owed in one pass; a backlog takes several.
const MOST_FANNED_PER_PASS: i64 = 5_000;

/// The longest wait between two attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(8 * 3600);

/// The `webhook-id` of every attempt to deliver event `seq`.
pub(crate) fn message_id(seq: i64) -> String {
    format!("evt_{seq}")
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Round {
    /// Deliveries the fan-out made owed.
    pub(crate) owed: i64,
    /// Attempts sent.
    pub(crate) sent: usize,
    /// Attempts answered 2xx.
    pub(crate) delivered: usize,
}

/// A claimed delivery with what sending it needs.
struct Claim {
    id: i64,
    event_seq: i64,
    attempts: i32,
    url: String,
    secret: String,
    event_type: String,
    time: DateTime<Utc>,
    queue: Option<String>,
    data: String,
}
crate::store::rows::from_row!(Claim {
    id,
    event_seq,
    attempts,
    url,
    secret,
    event_type,
    time,
    queue,
    data
});

/// An attempt's outcome.
struct Outcome {
    started_at: DateTime<Utc>,
    duration_ms: i32,
    status: Option<i32>,
    error: Option<String>,
}

impl Outcome {
    fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Sends what is owed.
#[derive(Clone)]
pub(crate) struct Courier {
    db: Db,
    client: reqwest::Client,
    timeout: Duration,
    first_wait: Duration,
    retry_for: Duration,
}

impl Courier {
    pub(crate) fn new(db: Db, config: &WebhooksConfig) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(config.webhook_timeout_ms);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect is an answer: the endpoint's URL is what the operator
            // registered, and a 3xx is a failed attempt they can see.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("boxoffice-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Courier {
            db,
            client,
            timeout,
            first_wait: Duration::from_millis(config.webhook_retry_first_ms),
            retry_for: Duration::from_secs(config.webhook_retry_for_s),
        })
    }

    /// One pass: fan out, claim, send, record. Each outcome is recorded as
    /// soon as it is known: an endpoint that answers late does not hold back
    /// the others' records, nor leave them to be sent again if this instance
    /// dies meanwhile.
    pub(crate) async fn deliver_once(&self) -> Result<Round, EventsError> {
        let owed = self.fan_out().await?;
        let claims = self.claim().await?;
        let recorded = join_all(claims.iter().map(|claim| async move {
            let outcome = self.send(claim).await;
            self.record(claim, &outcome).await.map(|()| outcome.delivered())
        }))
        .await;
        let mut round = Round {
            owed,
            sent: claims.len(),
            delivered: 0,
        };
        for delivered in recorded {
            round.delivered += usize::from(delivered?);
        }
        Ok(round)
    }

    async fn fan_out(&self) -> Result<i64, EventsError> {
        self.db
            .bounded(|connection| {
                Box::pin(async move {
                    let owed: i64 = sqlx::query_scalar(
                        "WITH hooks AS (
                             SELECT id, event_types, fanned_to FROM webhooks FOR UPDATE SKIP LOCKED
                         ), top AS (
                             SELECT COALESCE(max(seq), 0) AS seq FROM events
                         ), owed AS (
                             INSERT INTO webhook_deliveries (webhook_id, event_seq)
                             SELECT hooks.id, events.seq FROM hooks CROSS JOIN top
                             JOIN events ON events.seq > hooks.fanned_to
                                 AND events.seq <= LEAST(top.seq, hooks.fanned_to + $1)
                                 AND events.type = ANY(hooks.event_types)
                             ON CONFLICT DO NOTHING
                             RETURNING 1
                         ), advanced AS (
                             UPDATE webhooks SET fanned_to = LEAST(top.seq, hooks.fanned_to + $1)
                             FROM hooks, top WHERE webhooks.id = hooks.id AND hooks.fanned_to < top.seq
                             RETURNING 1
                         )
                         SELECT (SELECT count(*) FROM owed) + 0 * (SELECT count(*) FROM advanced)",
                    )
                    .bind(MOST_FANNED_PER_PASS)
                    .fetch_one(connection)
                    .instrument(otel::sql("webhooks.fan_out"))
                    .await?;
                    Ok::<_, EventsError>(owed)
                })
            })
            .await
    }

    async fn claim(&self) -> Result<Vec<Claim>, EventsError> {
        // Longer than an attempt may take, so a live instance's lease never
        // runs out under it.
        let lease_ms = i64::try_from((self.timeout + Duration::from_secs(10)).as_millis()).unwrap_or(i64::MAX);
        self.db
            .bounded(move |connection| {
                Box::pin(async move {
                    let claims = sqlx::query_as(
                        "WITH due AS (
                             SELECT id FROM webhook_deliveries
                             WHERE state = 'pending' AND next_at <= now()
                               AND (leased_until IS NULL OR leased_until < now())
                             ORDER BY next_at, id LIMIT $1
                             FOR UPDATE SKIP LOCKED
                         ), claimed AS (
                             UPDATE webhook_deliveries SET attempts = attempts + 1,
                                 leased_until = now() + $2 * interval '1 millisecond'
                             FROM due WHERE webhook_deliveries.id = due.id
                             RETURNING webhook_deliveries.id, webhook_deliveries.webhook_id,
                                 webhook_deliveries.event_seq, webhook_deliveries.attempts
                         )
                         SELECT claimed.id, claimed.event_seq, claimed.attempts, webhooks.url, webhooks.secret,
                                events.type AS event_type, events.time, events.queue, events.data::text AS data
                         FROM claimed
                         JOIN webhooks ON webhooks.id = claimed.webhook_id
                         JOIN events ON events.seq = claimed.event_seq",
                    )
                    .bind(MOST_PER_PASS)
                    .bind(lease_ms)
                    .fetch_all(connection)
                    .instrument(otel::sql("webhooks.claim"))
                    .await?;
                    Ok::<_, EventsError>(claims)
                })
            })
            .await
    }

    async fn send(&self, claim: &Claim) -> Outcome {
        let started_at = Utc::now();
        let clock = Instant::now();
        let (status, error) = match self.attempt(claim).await {
            Ok(status) if (200..300).contains(&status) => (Some(i32::from(status)), None),
            Ok(status) => (Some(i32::from(status)), Some(format!("answered {status}"))),
            Err(why) => (None, Some(why)),
        };
        let outcome = if error.is_none() { "delivered" } else { "failed" };
        metrics::counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
        Outcome {
            started_at,
            duration_ms: i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX),
            status,
            error,
        }
    }

    /// Sends one attempt: the status answered, or why there was none.
    async fn attempt(&self, claim: &Claim) -> Result<u16, String> {
        let secret = Secret::parse(&claim.secret).ok_or("the endpoint's stored secret is not a whsec_ secret")?;
        let event = Event {
            id: claim.event_seq,
            event_type: claim.event_type.clone(),
            time: claim.time,
            queue: claim.queue.clone(),
            data: RawValue::from_string(claim.data.clone()).map_err(|err| format!("the event is not JSON: {err}"))?,
        };
        let body = serde_json::to_vec(&event).map_err(|err| format!("the event is not JSON: {err}"))?;
        let id = message_id(claim.event_seq);
        let timestamp = Utc::now().timestamp();
        let signature = secret.sign(&id, timestamp, &body);
        let answer = self
            .client
            .post(&claim.url)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    format!("no answer within {} ms", self.timeout.as_millis())
                } else if err.is_connect() {
                    "could not connect".to_string()
                } else {
                    format!("the request failed: {err}")
                }
            })?;
        Ok(answer.status().as_u16())
    }

    /// Writes the attempt and the delivery's next state, if the claim is
    /// still this pass's.
    async fn record(&self, claim: &Claim, outcome: &Outcome) -> Result<(), EventsError> {
        let wait_ms = i64::try_from(wait_after(self.first_wait, claim.attempts).as_millis()).unwrap_or(i64::MAX);
        let retry_for_s = i64::try_from(self.retry_for.as_secs()).unwrap_or(i64::MAX);
        let (id, attempt, delivered) = (claim.id, claim.attempts, outcome.delivered());
        let (started_at, duration_ms, status, error) = (
            outcome.started_at,
            outcome.duration_ms,
            outcome.status,
            outcome.error.clone(),
        );
        self.db
            .bounded(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "WITH attempt AS (
                             INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status, error)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
                         )
                         UPDATE webhook_deliveries SET leased_until = NULL,
                             state = CASE WHEN $7 THEN 'delivered'
                                 WHEN now() > created_at + $9 * interval '1 second' THEN 'failed'
                                 ELSE 'pending' END,
                             next_at = now() + $8 * interval '1 millisecond'
                         WHERE id = $1 AND attempts = $2 AND state = 'pending'",
                    )
                    .bind(id)
                    .bind(attempt)
                    .bind(started_at)
                    .bind(duration_ms)
                    .bind(status)
                    .bind(error)
                    .bind(delivered)
                    .bind(wait_ms)
                    .bind(retry_for_s)
                    .execute(connection)
                    .instrument(otel::sql("webhooks.record"))
                    .await?;
                    Ok::<_, EventsError>(())
                })
            })
            .await
    }
}

/// The wait after attempt `attempts` failed: `first` doubled for each attempt
/// before, at most [`LONGEST_WAIT`], give or take a tenth so that endpoints
/// failing together are not retried together.
fn wait_after(first: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
    let wait = first.saturating_mul(1 << doublings).min(LONGEST_WAIT);
    wait.mul_f64(rand::rng().random_range(0.9..1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_up_to_eight_hours_give_or_take_a_tenth() {
        let first = Duration::from_secs(5);
        let near = |wait: Duration, secs: f64| (wait.as_secs_f64() / secs - 1.0).abs() <= 0.1 + 1e-9;
        for _ in 0..100 {
            assert!(near(wait_after(first, 1), 5.0));
            assert!(near(wait_after(first, 2), 10.0));
            assert!(near(wait_after(first, 5), 80.0));
            assert!(near(wait_after(first, 40), 8.0 * 3600.0));
        }
        let waits: Vec<Duration> = (0..100).map(|_| wait_after(first, 3)).collect();
        assert!(waits.iter().any(|wait| *wait != waits[0]), "jittered");
    }
}
