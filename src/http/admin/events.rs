//! The events of the sales (`crate::events`): paged as JSON, or streamed as
//! Server-Sent Events that resume after `Last-Event-ID` and follow new events
//! as they are sequenced.
//!
//! The stream outlives any request deadline, so its route's class
//! (`Class::AdminStream`) has none: each read it makes is bounded by the
//! statement deadline instead (`EventLog::after`), and between reads it holds
//! no connection to Postgres.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};

use super::Admin;
use crate::events::{Event, EventLog, EventType, Filter};
use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::{single_header, Query};
use crate::http::state::AppState;

/// A page's size when none is asked for, and the largest one.
const DEFAULT_LIMIT: i64 = 100;
const MOST_LIMIT: i64 = 1000;

/// How often a stream asks for new events: about the sequencer's period.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// The longest a stream goes without writing (a comment when no event came).
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(15);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// Only these types, comma-separated (default: every type).
    #[param(example = "payment.completed,seats.sold")]
    types: Option<String>,
    /// Only the events of this queue.
    queue: Option<String>,
    /// Events after this id (default 0: from the first). A stream's
    /// `Last-Event-ID` header, when present, is used instead.
    #[param(value_type = Option<i64>, minimum = 0, example = 0)]
    after: Option<String>,
    /// A page's most events, 1-1000 (default 100); JSON only.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, example = 100)]
    limit: Option<String>,
}

/// A page of events.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventsPage {
    events: Vec<Event>,
    /// The id to ask after for the next page: the last event's, or the
    /// `after` given when there was none.
    #[schema(example = 42)]
    next: i64,
}

/// The events in id order: a page as JSON (`Accept: application/json`), or
/// else a `text/event-stream` that follows new events (`id:` the event's id,
/// `event:` its type, `data:` the event as JSON).
#[utoipa::path(get, path = "/admin/events", operation_id = "adminEvents", tag = "admin",
    params(EventsQuery, Admin,
        ("Last-Event-ID" = Option<i64>, Header, description = "a stream resumes after this event id (sent by EventSource when it reconnects)")),
    responses((status = 200, description = "a page of events, or a stream of them",
        content((EventsPage = "application/json"), (String = "text/event-stream")))))]
pub(super) async fn events(
    State(state): State<AppState>,
    _: Admin,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let filter = filter_of(&query)?;
    let limit = limit_of(query.limit.as_deref())?;
    let wants_json = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/json"));
    if wants_json {
        let after = event_id(query.after.as_deref(), "after")?;
        let events = state.events.after(after, limit, &filter).await?;
        let next = events.last().map_or(after, |event| event.id);
        return Ok(Json(EventsPage { events, next }).into_response());
    }
    // A reconnecting EventSource asks the same URL again with the header:
    // the header says where it got to.
    let last_seen = single_header(&headers, "last-event-id")?
        .map(|value| value.to_str().unwrap_or("?"))
        .map(|text| event_id(Some(text), "Last-Event-ID"))
        .transpose()?;
    let after = match last_seen {
        Some(after) => after,
        None => event_id(query.after.as_deref(), "after")?,
    };
    let stream = following(state.events.clone(), after, filter, state.closing.subscribe());
    // Keep-alives well within the idle connection timeout, which counts from
    // the last byte written (`edge::connections::deadlines`).
    let idle = Duration::from_secs(state.config.connections.idle_connection_timeout_s);
    let keep_alive = KeepAlive::new().interval(KEEP_ALIVE_EVERY.min(idle / 3));
    Ok(Sse::new(stream).keep_alive(keep_alive).into_response())
}

/// Every event of `filter` after `after`, then each new one as it is
/// sequenced, until the server shuts down (`closing`). A read that fails is
/// tried again at the next tick: the stream stays, and its keep-alives tell
/// the client so.
fn following(
    log: EventLog,
    after: i64,
    filter: Filter,
    closing: watch::Receiver<bool>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    struct Following {
        log: EventLog,
        filter: Filter,
        after: i64,
        ready: VecDeque<Event>,
        ticker: tokio::time::Interval,
        closing: watch::Receiver<bool>,
    }
    let mut ticker = tokio::time::interval(FOLLOW_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = Following {
        log,
        filter,
        after,
        ready: VecDeque::new(),
        ticker,
        closing,
    };
    futures_util::stream::unfold(start, |mut following| async move {
        loop {
            if let Some(event) = following.ready.pop_front() {
                match SseEvent::default()
                    .id(event.id.to_string())
                    .event(&event.event_type)
                    .json_data(&event)
                {
                    Ok(sent) => return Some((Ok(sent), following)),
                    Err(err) => {
                        tracing::warn!(id = event.id, error = %err, "an event could not be written; skipped");
                        continue;
                    }
                }
            }
            tokio::select! {
                _ = following.ticker.tick() => {}
                // Ended, or the server is gone: the client resumes elsewhere.
                _ = following.closing.wait_for(|closing| *closing) => return None,
            }
            match following
                .log
                .after(following.after, MOST_LIMIT, &following.filter)
                .await
            {
                Ok(events) => {
                    if let Some(last) = events.last() {
                        following.after = last.id;
                    }
                    following.ready.extend(events);
                }
                Err(err) => tracing::debug!(error = %err, "reading events for a stream failed; trying again"),
            }
        }
    })
}

fn filter_of(query: &EventsQuery) -> Result<Filter> {
    let types = match query.types.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => Some(
            text.split(',')
                .map(str::trim)
                .map(|name| {
                    EventType::parse(name).ok_or_else(|| {
                        Error::refused(
                            ErrorCode::UnknownEventType,
                            format!("`{name}` is not an event type: {}", EventType::known()),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let queue = query
        .queue
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string);
    Ok(Filter { types, queue })
}

/// An event id: a whole number from 0 (before the first event).
fn event_id(text: Option<&str>, name: &str) -> Result<i64> {
    let Some(text) = text else { return Ok(0) };
    text.trim().parse::<i64>().ok().filter(|id| *id >= 0).ok_or_else(|| {
        Error::refused(
            ErrorCode::InvalidEventId,
            format!("{name} must be an event id (a whole number from 0), not `{text}`"),
        )
    })
}

fn limit_of(text: Option<&str>) -> Result<i64> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|limit| (1..=MOST_LIMIT).contains(limit))
        .ok_or_else(|| {
            Error::refused(
                ErrorCode::InvalidQuery,
                format!("limit must be a whole number from 1 to {MOST_LIMIT}, not `{text}`"),
            )
        })
}
