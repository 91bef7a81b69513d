//! Schemas of shapes no Rust type of the service has: the error body (built
//! with `json!` in one place, `http::error`), the local date-time strings the
//! seeds use, and the request bodies whose extractors read loose JSON (a
//! charge, a settings patch, a body that names a user by UUID).
//!
//! Each is an uninhabited enum: a name for the document, never a value.

use serde_json::{json, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

/// The seeds' date-time: local time in `BOXOFFICE_TIMEZONE`, no offset.
pub(crate) const LOCAL_DATE_TIME_PATTERN: &str =
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d$";

pub(crate) fn from_json(schema: Value) -> RefOr<Schema> {
    serde_json::from_value(schema).expect("a hand-written schema is valid")
}

macro_rules! json_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub(crate) enum $name {}

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                from_json($schema)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

json_schema! {
    /// Every error of the service, whatever produced it.
    ErrorBody => json!({
        "type": "object",
        "description": "Every error: a machine `code` and a human `message`; some codes add details.",
        "required": ["code", "message"],
        "properties": {
            "code": { "type": "string", "description": "machine code, stable", "example": "SEAT_UNAVAILABLE" },
            "message": { "type": "string", "description": "for people; may change" },
            "position": { "type": "integer", "minimum": 0, "description": "NOT_ADMITTED: the place in line" },
            "seats": { "type": "array", "items": { "type": "integer" }, "description": "SEAT_UNAVAILABLE, SEAT_NOT_FOUND: the seat numbers" },
            "limit": { "type": "integer", "description": "TOO_MANY_SEATS: seats one user may hold" },
            "held": { "type": "integer", "description": "TOO_MANY_SEATS: seats already held" },
            "balance": { "type": "integer", "description": "INSUFFICIENT_BALANCE: the balance" },
            "required": { "type": "integer", "description": "INSUFFICIENT_BALANCE: the price" },
            "pollAfterMs": { "type": "integer", "description": "OVERLOADED on a poll: when to poll again" },
            "reason": { "type": "string", "enum": ["identity", "ip", "network", "invalid", "expired", "spent", "otherQueue"], "description": "RATE_LIMITED on a join: the limit it tripped (identity, ip, network); CHALLENGE_FAILED: why the solution was refused (invalid, expired, spent, otherQueue)" },
            "challengeUrl": { "type": "string", "description": "CHALLENGE_REQUIRED: where to fetch the queue's challenge" },
            "down": { "type": "array", "items": { "type": "string", "enum": ["redis", "postgres"] }, "description": "/ready: what is not answering" },
            "traceId": { "type": "string", "pattern": "^[0-9a-f]{32}$", "description": "the request's OpenTelemetry trace, when traces are on (docs/observability.md)" }
        }
    })
}

json_schema! {
    /// A local date-time as the seeds write it.
    LocalDateTime => json!({
        "type": "string",
        "description": "local date-time in BOXOFFICE_TIMEZONE (+09:00 by default), without an offset",
        "pattern": LOCAL_DATE_TIME_PATTERN,
        "example": "2030-10-10T19:00:00"
    })
}

json_schema! {
    /// A top-up: the seed's bare number, or `{"amount": N}`.
    ChargeBody => json!({
        "description": "whole won, 1 to BOXOFFICE_MAX_CHARGE (1000000 by default); the balance stays \
            under BOXOFFICE_MAX_BALANCE (100000000 by default, else 409 BALANCE_LIMIT_EXCEEDED)",
        "oneOf": [
            { "type": "integer", "minimum": 1, "maximum": 1_000_000, "example": 1000 },
            {
                "type": "object",
                "required": ["amount"],
                "properties": { "amount": { "type": "integer", "minimum": 1, "maximum": 1_000_000, "example": 1000 } }
            }
        ],
        "example": 1000
    })
}

json_schema! {
    /// A body naming the user by UUID (seed 004's token and payment).
    UuidBody => json!({
        "type": "object",
        "required": ["UUID"],
        "properties": {
            "UUID": { "type": "string", "format": "uuid", "example": "890cd9f4-4be2-56a3-a116-49b160d80fa5" }
        },
        "example": { "UUID": "890cd9f4-4be2-56a3-a116-49b160d80fa5" }
    })
}

json_schema! {
    /// `POST /admin/webhooks`: an endpoint for the events of some types.
    WebhookBody => json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["url", "events"],
        "properties": {
            "url": { "type": "string", "format": "uri", "maxLength": 2048, "description": "an absolute http:// or https:// URL the deliveries are POSTed to" },
            "events": {
                "type": "array", "minItems": 1,
                "items": { "type": "string", "enum": crate::events::EventType::ALL.iter().map(|kind| kind.name()).collect::<Vec<_>>() },
                "description": "the event types delivered"
            },
            "secret": {
                "oneOf": [{ "type": "string", "pattern": "^whsec_[A-Za-z0-9+/]{32,88}={0,2}$" }, { "type": "null" }],
                "description": "the Standard Webhooks secret the deliveries are signed with (whsec_ and the base64 of 24 to 64 bytes); absent or null: one is made"
            }
        },
        "example": { "url": "https://shop.example/hooks/boxoffice", "events": ["payment.completed", "seats.sold"] }
    })
}

json_schema! {
    /// `POST /admin/queues/{queue}/invitations`: a batch of presale codes.
    InvitationsBody => json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["count", "uses"],
        "properties": {
            "count": { "type": "integer", "minimum": 1, "maximum": 10000, "description": "how many codes" },
            "uses": { "type": "integer", "minimum": 1, "maximum": 1_000_000_000, "description": "uses of each code" },
            "userId": {
                "oneOf": [
                    { "type": "integer", "description": "a user id (the default queue)" },
                    { "type": "string", "format": "uuid", "description": "a user's UUID (a concert's queue)" },
                    { "type": "null" }
                ],
                "description": "the one user who may use the codes, as the queue's join names users; absent or null: anyone"
            },
            "validUntil": {
                "oneOf": [{ "$ref": "#/components/schemas/LocalDateTime" }, { "type": "null" }],
                "description": "usable only before this time (the server's zone, like opensAt); absent or null: no end"
            }
        },
        "example": { "count": 100, "uses": 1, "validUntil": "2026-12-01T20:00:00" }
    })
}

json_schema! {
    /// `PATCH /admin/queues/{queue}`: any of the live settings.
    SettingsPatchBody => json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "state": { "type": "string", "enum": ["open", "paused", "closed"] },
            "maxActive": { "type": "integer", "minimum": 0, "description": "0 = unlimited" },
            "admitRate": { "type": "integer", "minimum": 0, "description": "users/s; 0 = unlimited" },
            "opensAt": {
                "oneOf": [{ "$ref": "#/components/schemas/LocalDateTime" }, { "type": "null" }],
                "description": "the opening (pre-queue before it); null clears it"
            },
            "adaptive": {
                "oneOf": [{ "$ref": "#/components/schemas/Adaptive" }, { "type": "null" }],
                "description": "adaptive admission; null turns it off"
            },
            "protect": {
                "oneOf": [{ "$ref": "#/components/schemas/Protect" }, { "type": "null" }],
                "description": "the site this queue protects (the /gate routes); null turns it off"
            },
            "joinLimits": {
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "perIdentityPerMinute": { "type": "integer", "minimum": 0, "maximum": 1_000_000_000, "description": "joins a minute per identity; 0 = no limit" },
                            "perIpPerMinute": { "type": "integer", "minimum": 0, "maximum": 1_000_000_000, "description": "joins a minute per client IP; 0 = no limit" },
                            "perNetworkPerMinute": { "type": "integer", "minimum": 0, "maximum": 1_000_000_000, "description": "joins a minute per /24 (IPv4) or /56 (IPv6); 0 = no limit" }
                        },
                        "example": { "perIdentityPerMinute": 10, "perIpPerMinute": 300, "perNetworkPerMinute": 3000 }
                    },
                    { "type": "null" }
                ],
                "description": "the queue's join limits; a limit left out, or every one with null, follows the configuration (BOXOFFICE_JOIN_LIMIT_PER_*_PER_MINUTE)"
            },
            "challenge": {
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["kind"],
                        "properties": {
                            "kind": { "type": "string", "enum": ["altcha"] },
                            "complexity": { "type": "integer", "minimum": 2, "maximum": 10_000_000, "description": "key derivations a solver makes at most (half of it at least); left out: BOXOFFICE_CHALLENGE_COMPLEXITY" }
                        },
                        "example": { "kind": "altcha", "complexity": 30000 }
                    },
                    { "type": "null" }
                ],
                "description": "a proof of work (ALTCHA) every join must carry solved in X-Altcha, from GET /queues/{queue}/challenge; null turns it off"
            }
        },
        "example": { "state": "open", "admitRate": 50 }
    })
}

/// A string that is one of a few fixed words.
fn words(values: &[&str], description: &str) -> RefOr<Schema> {
    from_json(json!({ "type": "string", "enum": values, "description": description }))
}

pub(crate) fn token_status() -> RefOr<Schema> {
    words(
        &["대기", "활성", "만료"],
        "대기 waiting, 활성 active (may book), 만료 expired",
    )
}

pub(crate) fn reserve_yn() -> RefOr<Schema> {
    words(&["Y", "N"], "Y when the seat is sold or under a live hold")
}

pub(crate) fn held_status() -> RefOr<Schema> {
    words(&["예약완료"], "held for this user until holdExpiresAt")
}

pub(crate) fn payment_status() -> RefOr<Schema> {
    words(&["결제 완료"], "paid")
}

pub(crate) fn seat_state() -> RefOr<Schema> {
    words(&["free", "held", "sold"], "the seat's state")
}

pub(crate) fn local_date_time() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name("LocalDateTime"))
}
