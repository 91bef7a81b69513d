//! The one error type of the HTTP layer, mapped once to a status and a JSON body
//! `{"code": "MACHINE_CODE", "message": "..."}`. Internal failures are logged
//! with their cause chain and shown to the client only as a generic message; a
//! dependency that is down is a fast 503, never a hang. Which code answers
//! with which status is [`ErrorCode`]'s to say, in one place.

mod code;

pub(crate) use code::ErrorCode;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::booking::BookingError;
use crate::events::EventsError;
use crate::http::edge::join_limits::Tripped;
use crate::identity::IdentityError;
use crate::pass::PassError;
use crate::queue::QueueError;
use crate::store::{db_gave_up, db_is_unavailable, redis_is_unavailable};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A refusal the HTTP layer decides itself (a header, a path, a body,
    /// the admin token); its status follows from the code.
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited {
        retry_after_s: u64,
        /// A join's: the limit it tripped, shown as `reason`.
        reason: Option<Tripped>,
    },
    #[error("the request took too long")]
    Timeout,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
    #[error(transparent)]
    Pass(#[from] PassError),
    #[error(transparent)]
    Events(#[from] EventsError),
}

impl Error {
    pub(crate) fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Refused {
            code,
            message: message.into(),
        }
    }

    /// The code answered, and what the body carries besides the message.
    fn parts(&self) -> (ErrorCode, Option<Value>) {
        match self {
            Error::Refused { code, .. } => (*code, None),
            Error::PayloadTooLarge => (ErrorCode::PayloadTooLarge, None),
            Error::MethodNotAllowed => (ErrorCode::MethodNotAllowed, None),
            Error::RateLimited { reason, .. } => (
                ErrorCode::RateLimited,
                reason.map(|reason| json!({ "reason": reason.as_str() })),
            ),
            Error::Timeout => (ErrorCode::Timeout, None),
            Error::Internal(_) => (ErrorCode::Internal, None),
            Error::Identity(err) => (identity_code(*err), None),
            Error::Pass(err) => (pass_code(*err), None),
            Error::Queue(err) => queue_parts(err),
            Error::Booking(err) => booking_parts(err),
            Error::Events(err) => (events_code(err), None),
        }
    }
}

fn identity_code(err: IdentityError) -> ErrorCode {
    match err {
        IdentityError::Missing => ErrorCode::IdentityMissing,
        IdentityError::Invalid | IdentityError::UnknownKey => ErrorCode::IdentityInvalid,
        IdentityError::Expired => ErrorCode::IdentityExpired,
        IdentityError::Mismatch => ErrorCode::IdentityMismatch,
    }
}

fn pass_code(err: PassError) -> ErrorCode {
    match err {
        PassError::Invalid => ErrorCode::PassInvalid,
        PassError::Expired => ErrorCode::PassExpired,
        PassError::Revoked => ErrorCode::PassRevoked,
        PassError::OtherQueue => ErrorCode::PassOtherQueue,
        PassError::Throttled => ErrorCode::PassThrottled,
    }
}

fn queue_parts(err: &QueueError) -> (ErrorCode, Option<Value>) {
    use ErrorCode as C;
    match err {
        QueueError::UserNotFound(_) => (C::UserNotFound, None),
        QueueError::TokenNotFound(_) => (C::TokenNotFound, None),
        QueueError::TokenMissing => (C::TokenMissing, None),
        QueueError::TokenInvalid => (C::TokenInvalid, None),
        QueueError::TokenMismatch => (C::TokenMismatch, None),
        QueueError::NotAdmitted { position } => (C::NotAdmitted, Some(json!({ "position": position }))),
        QueueError::TokenExpired => (C::TokenExpired, None),
        QueueError::QueueClosed => (C::QueueClosed, None),
        QueueError::InvitationInvalid => (C::InvitationInvalid, None),
        QueueError::InvitationUsedUp => (C::InvitationUsedUp, None),
        QueueError::InvitationExpired => (C::InvitationExpired, None),
        QueueError::ChallengeRequired { queue } => (
            C::ChallengeRequired,
            Some(json!({ "challengeUrl": format!("/queues/{queue}/challenge") })),
        ),
        QueueError::ChallengeFailed(failure) => (C::ChallengeFailed, Some(json!({ "reason": failure.as_str() }))),
        QueueError::Redis(err) if redis_is_unavailable(err) => (C::DependencyUnavailable, None),
        QueueError::Redis(_) => (C::Internal, None),
        QueueError::PostgresDown => (C::DependencyUnavailable, None),
        QueueError::OutcomeUnknown => (C::OutcomeUnknown, None),
        QueueError::Database(err) if db_is_unavailable(err) || db_gave_up(err) => (C::DependencyUnavailable, None),
        QueueError::Database(_) | QueueError::Unreadable(_) | QueueError::OpeningNotPlaced => (C::Internal, None),
    }
}

fn booking_parts(err: &BookingError) -> (ErrorCode, Option<Value>) {
    use ErrorCode as C;
    match err {
        BookingError::ConcertNotFound => (C::ConcertNotFound, None),
        BookingError::ConcertExists => (C::ConcertExists, None),
        BookingError::DuplicateSchedule => (C::DuplicateSchedule, None),
        BookingError::ScheduleNotFound => (C::ScheduleNotFound, None),
        BookingError::UserNotFound(_) => (C::UserNotFound, None),
        BookingError::NoSeatsRequested => (C::NoSeatsRequested, None),
        BookingError::SeatNotFound(seats) => (C::SeatNotFound, Some(json!({ "seats": seats }))),
        BookingError::SeatUnavailable(seats) => (C::SeatUnavailable, Some(json!({ "seats": seats }))),
        BookingError::TooManySeats { limit, held } => (C::TooManySeats, Some(json!({ "limit": limit, "held": held }))),
        BookingError::NoHold => (C::NoHold, None),
        BookingError::HoldExpired => (C::HoldExpired, None),
        BookingError::InsufficientBalance { balance, required } => (
            C::InsufficientBalance,
            Some(json!({ "balance": balance, "required": required })),
        ),
        BookingError::InvalidAmount { .. } => (C::InvalidAmount, None),
        BookingError::BalanceLimitExceeded { .. } => (C::BalanceLimitExceeded, None),
        BookingError::AmountOutOfRange => (C::AmountOutOfRange, None),
        BookingError::IdempotencyKeyReused => (C::IdempotencyKeyReused, None),
        BookingError::Queue(err) => queue_parts(err),
        BookingError::Redis(err) if redis_is_unavailable(err) => (C::DependencyUnavailable, None),
        BookingError::Database(err) if db_is_unavailable(err) => (C::DependencyUnavailable, None),
        BookingError::PostgresDown | BookingError::PostgresGaveUp => (C::DependencyUnavailable, None),
        BookingError::OutcomeUnknown => (C::OutcomeUnknown, None),
        BookingError::Redis(_) | BookingError::Database(_) | BookingError::Inconsistent(_) => (C::Internal, None),
    }
}

fn events_code(err: &EventsError) -> ErrorCode {
    match err {
        EventsError::PostgresDown => ErrorCode::DependencyUnavailable,
        EventsError::OutcomeUnknown => ErrorCode::OutcomeUnknown,
        EventsError::WebhookNotFound => ErrorCode::WebhookNotFound,
        EventsError::Database(err) if db_is_unavailable(err) || db_gave_up(err) => ErrorCode::DependencyUnavailable,
        EventsError::Redis(err) if redis_is_unavailable(err) => ErrorCode::DependencyUnavailable,
        EventsError::Database(_) | EventsError::Unreadable(_) | EventsError::Redis(_) => ErrorCode::Internal,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.into_response_with(serde_json::Map::new())
    }
}

impl Error {
    /// The answer, with `more` fields in its body beside `code` and `message`.
    pub(crate) fn into_response_with(self, more: serde_json::Map<String, Value>) -> Response {
        let (code, details) = self.parts();
        let status = code.status();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = ?anyhow_chain(&self), "request failed");
            "something went wrong on our side".to_string()
        } else {
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %anyhow_chain(&self), "dependency unavailable");
            }
            self.to_string()
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            metrics::counter!(crate::telemetry::metrics::DEPENDENCY_ERRORS, "kind" => code.as_str()).increment(1);
        }
        let mut body = json!({ "code": code.as_str(), "message": message });
        if let Value::Object(map) = &mut body {
            if let Some(Value::Object(extra)) = details {
                map.extend(extra);
            }
            map.extend(more);
            // The trace this answer belongs to, when traces are on: what to
            // search the tracing backend for (docs/observability.md).
            if let Some(trace_id) = crate::telemetry::otel::current_trace_id() {
                map.insert("traceId".into(), Value::String(trace_id));
            }
        }
        let mut response = (status, Json(body)).into_response();
        // For the request metrics: errors by code, without reading the body.
        response.extensions_mut().insert(code);
        let retry_after = match &self {
            Error::RateLimited { retry_after_s, .. } => Some(*retry_after_s),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// "outer: inner: innermost", for logs.
fn anyhow_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
