//! The one error type of the HTTP layer, mapped once to a status and a JSON body
//! `{"code": "MACHINE_CODE", "message": "..."}`. Internal failures are logged
//! with their cause chain and shown to the client only as a generic message; a
//! dependency that is down is a fast 503, never a hang.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::booking::BookingError;
use crate::identity::IdentityError;
use crate::queue::QueueError;
use crate::store::{db_gave_up, db_is_unavailable, redis_is_unavailable};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
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
}

impl Error {
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<Value>) {
        use StatusCode as S;
        match self {
            Error::BadRequest { code, .. } => (S::BAD_REQUEST, code, None),
            Error::NotFound { code, .. } => (S::NOT_FOUND, code, None),
            Error::Unauthorized { code, .. } => (S::UNAUTHORIZED, code, None),
            Error::Forbidden { code, .. } => (S::FORBIDDEN, code, None),
            Error::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", None),
            Error::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", None),
            Error::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "RATE_LIMITED", None),
            Error::Timeout => (S::SERVICE_UNAVAILABLE, "TIMEOUT", None),
            Error::Internal(_) => (S::INTERNAL_SERVER_ERROR, "INTERNAL", None),
            Error::Identity(err) => (S::UNAUTHORIZED, identity_code(*err), None),
            Error::Queue(err) => queue_parts(err),
            Error::Booking(err) => booking_parts(err),
        }
    }
}

fn identity_code(err: IdentityError) -> &'static str {
    match err {
        IdentityError::Missing => "IDENTITY_MISSING",
        IdentityError::Invalid => "IDENTITY_INVALID",
        IdentityError::Expired => "IDENTITY_EXPIRED",
        IdentityError::Mismatch => "IDENTITY_MISMATCH",
    }
}

fn queue_parts(err: &QueueError) -> (StatusCode, &'static str, Option<Value>) {
    use StatusCode as S;
    match err {
        QueueError::UserNotFound(_) => (S::NOT_FOUND, "USER_NOT_FOUND", None),
        QueueError::TokenNotFound(_) => (S::NOT_FOUND, "TOKEN_NOT_FOUND", None),
        QueueError::TokenMissing => (S::UNAUTHORIZED, "TOKEN_MISSING", None),
        QueueError::TokenInvalid => (S::UNAUTHORIZED, "TOKEN_INVALID", None),
        QueueError::TokenMismatch => (S::FORBIDDEN, "TOKEN_MISMATCH", None),
        QueueError::NotAdmitted { position } => (S::FORBIDDEN, "NOT_ADMITTED", Some(json!({ "position": position }))),
        QueueError::TokenExpired => (S::FORBIDDEN, "TOKEN_EXPIRED", None),
        QueueError::QueueClosed => (S::CONFLICT, "QUEUE_CLOSED", None),
        QueueError::Redis(err) if redis_is_unavailable(err) => (S::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", None),
        QueueError::Redis(_) => (S::INTERNAL_SERVER_ERROR, "INTERNAL", None),
        QueueError::PostgresDown => (S::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", None),
        QueueError::Database(err) if db_is_unavailable(err) || db_gave_up(err) => {
            (S::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", None)
        }
        QueueError::Database(_) | QueueError::Unreadable(_) | QueueError::OpeningNotPlaced => {
            (S::INTERNAL_SERVER_ERROR, "INTERNAL", None)
        }
    }
}

fn booking_parts(err: &BookingError) -> (StatusCode, &'static str, Option<Value>) {
    use StatusCode as S;
    match err {
        BookingError::ConcertNotFound => (S::NOT_FOUND, "CONCERT_NOT_FOUND", None),
        BookingError::ConcertExists => (S::CONFLICT, "CONCERT_EXISTS", None),
        BookingError::DuplicateSchedule => (S::CONFLICT, "DUPLICATE_SCHEDULE", None),
        BookingError::ScheduleNotFound => (S::NOT_FOUND, "SCHEDULE_NOT_FOUND", None),
        BookingError::UserNotFound(_) => (S::NOT_FOUND, "USER_NOT_FOUND", None),
        BookingError::NoSeatsRequested => (S::BAD_REQUEST, "NO_SEATS_REQUESTED", None),
        BookingError::SeatNotFound(seats) => (S::NOT_FOUND, "SEAT_NOT_FOUND", Some(json!({ "seats": seats }))),
        BookingError::SeatUnavailable(seats) => (S::CONFLICT, "SEAT_UNAVAILABLE", Some(json!({ "seats": seats }))),
        BookingError::TooManySeats { limit, held } => (
            S::CONFLICT,
            "TOO_MANY_SEATS",
            Some(json!({ "limit": limit, "held": held })),
        ),
        BookingError::NoHold => (S::CONFLICT, "NO_HOLD", None),
        BookingError::HoldExpired => (S::CONFLICT, "HOLD_EXPIRED", None),
        BookingError::InsufficientBalance { balance, required } => (
            S::CONFLICT,
            "INSUFFICIENT_BALANCE",
            Some(json!({ "balance": balance, "required": required })),
        ),
        BookingError::InvalidAmount { .. } => (S::BAD_REQUEST, "INVALID_AMOUNT", None),
        BookingError::BalanceLimitExceeded { .. } => (S::CONFLICT, "BALANCE_LIMIT_EXCEEDED", None),
        BookingError::AmountOutOfRange => (S::BAD_REQUEST, "AMOUNT_OUT_OF_RANGE", None),
        BookingError::IdempotencyKeyReused => (S::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED", None),
        BookingError::Queue(err) => queue_parts(err),
        BookingError::Redis(err) if redis_is_unavailable(err) => {
            (S::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", None)
        }
        BookingError::Database(err) if db_is_unavailable(err) => {
            (S::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", None)
        }
        BookingError::PostgresDown | BookingError::PostgresGaveUp => {
            (S::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", None)
        }
        BookingError::OutcomeUnknown => (S::SERVICE_UNAVAILABLE, "OUTCOME_UNKNOWN", None),
        BookingError::Redis(_) | BookingError::Database(_) | BookingError::Inconsistent(_) => {
            (S::INTERNAL_SERVER_ERROR, "INTERNAL", None)
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, details) = self.parts();
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
            metrics::counter!(crate::telemetry::metrics::DEPENDENCY_ERRORS, "kind" => code).increment(1);
        }
        let mut body = json!({ "code": code, "message": message });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (details, &mut body) {
            map.extend(extra);
        }
        let mut response = (status, Json(body)).into_response();
        // For the request metrics: errors by code, without reading the body.
        response.extensions_mut().insert(ErrorCode(code));
        let retry_after = match &self {
            Error::RateLimited { retry_after_s } => Some(*retry_after_s),
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

/// The machine code of an error response, attached for the request metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) &'static str);

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
