//! The origin ends a visitor's session (checkout done): with one of the
//! queue's origin keys, naming the pass or its `jti`. The pass is refused by
//! this instance at once and by every other within a second, and the
//! visitor's slot frees for the next in line.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::Protected;
use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::{single_header, Json};
use crate::http::state::AppState;
use crate::pass::{now_s, Admission, PassError};
use crate::queue::{QueueError, QueueToken, Visitor};

/// Which session to end: the pass itself, or its `jti`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndBody {
    #[schema(example = "v17.1790000000.123456")]
    jti: Option<String>,
    pass: Option<String>,
}

/// Ends a session early; `Authorization: Bearer <origin key>`.
#[utoipa::path(post, path = "/gate/{queue}/end", operation_id = "gateEnd", tag = "protected sites",
    params(("queue" = String, Path, description = "a queue that protects a site"),
        ("Authorization" = String, Header, description = "`Bearer <origin key>` (POST /admin/queues/{queue}/origin-keys)")),
    request_body = EndBody,
    responses((status = 204, description = "ended (or already over): refused everywhere within a second")))]
pub(super) async fn end(
    State(state): State<AppState>,
    protected: Protected,
    headers: HeaderMap,
    Json(body): Json<EndBody>,
) -> Result<StatusCode> {
    let key = single_header(&headers, "authorization")?
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("Bearer "))
        .unwrap_or_default();
    if !state.settings.is_origin_key(&protected.queue, key.trim()).await? {
        return Err(Error::refused(
            ErrorCode::OriginUnauthorized,
            "ending a session needs Authorization: Bearer <an origin key of this queue>",
        ));
    }
    let session_s = protected.protect.session_seconds;
    let (jti, exp) = match (body.pass, body.jti) {
        (Some(pass), _) => match state.passes.verify(&pass) {
            Ok(claims) if claims.queue != protected.queue => return Err(PassError::OtherQueue.into()),
            Ok(claims) => (claims.jti.clone(), claims.exp),
            // Over already: nothing to end.
            Err(PassError::Expired | PassError::Revoked) => return Ok(StatusCode::NO_CONTENT),
            Err(err) => return Err(err.into()),
        },
        // Any pass of it expires within a session from now.
        (None, Some(jti)) => (jti, now_s() + session_s),
        (None, None) => {
            return Err(Error::refused(
                ErrorCode::InvalidBody,
                "name the session: {\"jti\": \"...\"} or {\"pass\": \"...\"}",
            ))
        }
    };
    let admission = Admission::of_jti(&jti)
        .ok_or_else(|| Error::refused(ErrorCode::InvalidBody, format!("`{jti}` is not the jti of a pass")))?;
    state
        .passes
        .revoke(&protected.queue, &jti, exp)
        .await
        .map_err(QueueError::from)?;
    if let Some(visitor) = Visitor::parse(&admission.sub) {
        let place = QueueToken {
            queue: protected.queue.clone(),
            user_id: visitor.line_id(),
            issued_s: admission.issued_s,
            nonce: admission.nonce,
            seq: 0,
            active_until_ms: 0,
        };
        state.gate.expire(&place).await?;
    }
    tracing::info!(queue = protected.queue, jti, "a session was ended by its origin");
    Ok(StatusCode::NO_CONTENT)
}
