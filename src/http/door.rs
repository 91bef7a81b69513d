//! What a client fetches before it joins: a queue's challenge
//! (`GET /queues/{queue}/challenge`, an ALTCHA challenge as the widget reads
//! it). Made in process from the instance's settings, with no store call;
//! the join gate (`guards::join`) checks and takes the solution.

use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::error::{Error, ErrorCode, Result};
use super::extract::Path;
use super::guards::known_queue;
use super::routes::{Class, Routes};
use super::state::AppState;

/// The door's operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(challenge))]
pub(crate) struct Docs;

/// The door's routes (`routes.rs`).
pub(super) fn routes(routes: Routes) -> Routes {
    routes.route(Method::GET, "/queues/{queue}/challenge", challenge, Class::Queue)
}

/// An ALTCHA PoW v2 challenge: what the widget solves.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // the document's shape of `altcha::Challenge`, which is what is sent
struct ChallengeBody {
    /// What the solver needs, signed: `algorithm` (PBKDF2/SHA-256), `cost`,
    /// `keyLength`, `keyPrefix`, `keySignature`, `nonce`, `salt`, `expiresAt`
    /// (Unix seconds) and `data.queue`.
    #[schema(value_type = Object)]
    parameters: serde_json::Value,
    /// HMAC-SHA-256 of the parameters, hex.
    signature: String,
}

/// A new challenge for a queue that asks each join for one. Never cached:
/// each one is solved, and taken, once.
#[utoipa::path(get, path = "/queues/{queue}/challenge", operation_id = "queueChallenge", tag = "queue (seed 000)",
    params(("queue" = String, Path, description = "the queue: the default queue or a concert code", example = "default")),
    responses(
        (status = 200, description = "an ALTCHA challenge (PoW v2), `Cache-Control: no-store`", body = ChallengeBody),
    ))]
pub(super) async fn challenge(State(state): State<AppState>, Path(queue): Path<String>) -> Result<Response> {
    let queue = known_queue(&state, &queue)?;
    let Some(setting) = state.settings.current(&queue).challenge else {
        return Err(Error::refused(
            ErrorCode::ChallengeOff,
            format!("the queue `{queue}` asks for no challenge: join without one"),
        ));
    };
    let challenge = state.challenges.issue(&queue, setting.complexity)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(challenge)).into_response())
}
