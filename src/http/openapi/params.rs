//! The headers each extractor reads, as OpenAPI parameters: a handler lists
//! its extractors in `params(...)` and the document shows the headers they
//! take, described once, here.

use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::IntoParams;

use crate::http::admin::Admin;
use crate::http::extract::{IdempotencyKey, PresentedToken};
use crate::http::guards::identity::{Identity, UserIdHeader};
use crate::http::guards::join::{AltchaHeader, InvitationHeader};

fn header(name: &str, required: bool, schema: Value, description: &str, example: Value) -> Parameter {
    serde_json::from_value(json!({
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
        "example": example,
    }))
    .expect("a hand-written parameter is valid")
}

impl IntoParams for UserIdHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            "user-id",
            true,
            json!({ "type": "integer", "format": "int64", "minimum": 1 }),
            "the user (seed 000): a plain decimal id (no sign, padding or leading zeros), once; \
             demo users are 1..1000",
            json!(1),
        )]
    }
}

/// `Token` (seed 000) or `Authorization` (seed 004): either carries the queue
/// token, with or without `Bearer `.
impl IntoParams for PresentedToken {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let token = json!({ "type": "string" });
        vec![
            header(
                "Token",
                false,
                token.clone(),
                "the queue token a join answered (seed 000); taken before Authorization",
                json!("ZGVmYXVsdHwxfDE3OTk5OTk5OTl8MHwxfDA.c2lnbmF0dXJl"),
            ),
            header(
                "Authorization",
                false,
                token,
                "the queue token (seed 004), with or without `Bearer `",
                json!("Bearer ZGVmYXVsdHwxfDE3OTk5OTk5OTl8MHwxfDA.c2lnbmF0dXJl"),
            ),
        ]
    }
}

/// A presale invitation code, looked at only before the queue's opening.
impl IntoParams for InvitationHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            "X-Invitation",
            false,
            json!({ "type": "string" }),
            "a presale invitation code (POST /admin/queues/{queue}/invitations): before the queue's \
             opening it lets the join into the line instead of the pre-queue, taking one of its uses \
             (once per user); once the queue is open it is not looked at",
            json!("inv_q3Zf0yJm1kQ8rT2vX9bW4A"),
        )]
    }
}

/// A solved ALTCHA challenge, asked of every join of a queue that has one.
impl IntoParams for AltchaHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            "X-Altcha",
            false,
            json!({ "type": "string", "maxLength": 4096 }),
            "the ALTCHA widget's payload (base64 of {challenge, solution}) for a challenge from              GET /queues/{queue}/challenge: required when the queue asks for a challenge              (403 CHALLENGE_REQUIRED without it), taken once (403 CHALLENGE_FAILED with `reason`              invalid, expired, spent or otherQueue); not looked at otherwise",
            json!("eyJjaGFsbGVuZ2UiOnsi..."),
        )]
    }
}

impl IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            "Idempotency-Key",
            false,
            json!({ "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" }),
            "makes a retry safe: the same key with the same request answers the first answer \
             (kept 48 h); with another request it is 422 IDEMPOTENCY_KEY_REUSED",
            json!("7f6c2a0e-3b1d-4c55-9d8e-1a2b3c4d5e6f"),
        )]
    }
}

impl IntoParams for Identity {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            "X-Identity",
            false,
            json!({ "type": "string" }),
            "with BOXOFFICE_IDENTITY=signed: the auth service's JWT (`sub` = the user's id or UUID, \
             `exp` required) proving who the caller is; ignored in trusted-header mode",
            json!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJl"),
        )]
    }
}

impl IntoParams for Admin {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![header(
            "Authorization",
            true,
            json!({ "type": "string", "pattern": "^Bearer .+$" }),
            "`Bearer <BOXOFFICE_ADMIN_TOKEN>`",
            json!("Bearer change-me"),
        )]
    }
}
