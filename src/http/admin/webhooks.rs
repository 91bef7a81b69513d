//! Webhook endpoints (`crate::events::webhooks`): register one (its secret is
//! shown once, in the answer), list them with their deliveries counted, remove
//! one, and read an endpoint's latest deliveries with every attempt.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Admin;
use crate::events::webhooks::{Delivery, Endpoint, NewEndpoint, Secret, MOST_LISTED};
use crate::events::{EventType, EventsError};
use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::{self, Path, Query};
use crate::http::state::AppState;

/// The longest URL an endpoint may have.
const LONGEST_URL: usize = 2048;

/// A registered endpoint, with the secret its deliveries are signed with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Registered {
    id: Uuid,
    /// `whsec_…`: shown here only; keep it to check the deliveries' signatures.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
    url: String,
    events: Vec<String>,
}

/// Registers an endpoint for the events of the given types from now on.
#[utoipa::path(post, path = "/admin/webhooks", operation_id = "adminNewWebhook", tag = "admin",
    params(Admin),
    request_body = crate::http::openapi::schemas::WebhookBody,
    responses((status = 201, description = "the endpoint, with its secret", body = Registered)))]
pub(super) async fn create(
    State(state): State<AppState>,
    admin: Admin,
    extract::Json(body): extract::Json<Value>,
) -> Result<Response> {
    let endpoint = endpoint_of(&body)?;
    let id = state.webhooks.register(&endpoint, &admin.fingerprint).await?;
    let registered = Registered {
        id,
        secret: endpoint.secret.as_str().to_string(),
        url: endpoint.url.to_string(),
        events: endpoint.types.iter().map(|kind| kind.name().to_string()).collect(),
    };
    Ok((StatusCode::CREATED, Json(registered)).into_response())
}

/// Every endpoint, oldest first, with its deliveries counted by state (never
/// its secret).
#[utoipa::path(get, path = "/admin/webhooks", operation_id = "adminListWebhooks", tag = "admin",
    params(Admin),
    responses((status = 200, description = "every endpoint", body = Vec<Endpoint>)))]
pub(super) async fn list(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<Endpoint>>> {
    Ok(Json(state.webhooks.list().await?))
}

/// Removes an endpoint; what was still owed to it is not sent.
#[utoipa::path(delete, path = "/admin/webhooks/{id}", operation_id = "adminDeleteWebhook", tag = "admin",
    params(("id" = String, Path, description = "the endpoint's id"), Admin),
    responses((status = 204, description = "removed")))]
pub(super) async fn remove(State(state): State<AppState>, _: Admin, Path(id): Path<String>) -> Result<StatusCode> {
    let id = endpoint_id(&id)?;
    if state.webhooks.remove(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(EventsError::WebhookNotFound.into())
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DeliveriesQuery {
    /// The most deliveries, 1-1000 (default 100), newest first.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, example = 100)]
    limit: Option<String>,
}

/// An endpoint's latest deliveries, newest event first, each with its attempts
/// and their outcomes.
#[utoipa::path(get, path = "/admin/webhooks/{id}/deliveries", operation_id = "adminWebhookDeliveries", tag = "admin",
    params(("id" = String, Path, description = "the endpoint's id"), DeliveriesQuery, Admin),
    responses((status = 200, description = "the latest deliveries", body = Vec<Delivery>)))]
pub(super) async fn deliveries(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Json<Vec<Delivery>>> {
    let id = endpoint_id(&id)?;
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=MOST_LISTED).contains(limit))
            .ok_or_else(|| {
                Error::refused(
                    ErrorCode::InvalidQuery,
                    format!("limit must be a whole number from 1 to {MOST_LISTED}, not `{text}`"),
                )
            })?,
    };
    let found = state.webhooks.deliveries(id, limit).await?;
    Ok(Json(found.ok_or(EventsError::WebhookNotFound)?))
}

/// An id that is no UUID names no endpoint.
fn endpoint_id(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| EventsError::WebhookNotFound.into())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::refused(ErrorCode::InvalidBody, message)
}

/// The body, checked: `{"url", "events", "secret"?}`.
fn endpoint_of(body: &Value) -> Result<NewEndpoint> {
    let fields = body
        .as_object()
        .ok_or_else(|| invalid("the body must be a JSON object: {\"url\", \"events\", \"secret\"?}"))?;
    if let Some(unknown) = fields
        .keys()
        .find(|name| !matches!(name.as_str(), "url" | "events" | "secret"))
    {
        return Err(invalid(format!("`{unknown}` is not a field: url, events, secret")));
    }
    let text = fields.get("url").and_then(Value::as_str).unwrap_or_default().trim();
    let url = reqwest::Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .filter(|_| text.len() <= LONGEST_URL)
        .ok_or_else(|| {
            invalid(format!(
                "url must be an absolute http:// or https:// URL of at most {LONGEST_URL} characters"
            ))
        })?;
    let names = fields
        .get("events")
        .and_then(Value::as_array)
        .filter(|names| !names.is_empty())
        .ok_or_else(|| invalid("events must be a non-empty list of event types"))?;
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        let kind = name.as_str().and_then(EventType::parse).ok_or_else(|| {
            Error::refused(
                ErrorCode::UnknownEventType,
                format!("{name} is not an event type: {}", EventType::known()),
            )
        })?;
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    let secret = match fields.get("secret") {
        None | Some(Value::Null) => Secret::generate(),
        Some(value) => value.as_str().and_then(Secret::parse).ok_or_else(|| {
            invalid("secret must be whsec_ and the base64 of 24 to 64 bytes (Standard Webhooks), or absent")
        })?,
    };
    Ok(NewEndpoint { url, types, secret })
}
