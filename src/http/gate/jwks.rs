//! The public keys that verify admission passes (`GET /.well-known/jwks.json`),
//! with which an origin, an API gateway or a CDN worker verifies a pass
//! offline with any JWT library.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::state::AppState;
use crate::pass::PublicJwk;

#[derive(Serialize, ToSchema)]
pub(crate) struct Jwks {
    keys: Vec<JwkView>,
}

/// An Ed25519 public key (RFC 8037).
#[derive(Serialize, ToSchema)]
struct JwkView {
    #[schema(example = "OKP")]
    kty: &'static str,
    #[schema(example = "Ed25519")]
    crv: &'static str,
    #[schema(example = "EdDSA")]
    alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    usage: &'static str,
    /// The key's RFC 7638 thumbprint, as passes' headers name it.
    kid: String,
    /// The public key, base64url.
    x: String,
}

impl From<&PublicJwk> for JwkView {
    fn from(jwk: &PublicJwk) -> Self {
        JwkView {
            kty: jwk.kty,
            crv: jwk.crv,
            alg: jwk.alg,
            usage: jwk.usage,
            kid: jwk.kid.clone(),
            x: jwk.x.clone(),
        }
    }
}

/// The public keys that verify passes, newest (the signing one) first.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "passKeys", tag = "protected sites",
    responses((status = 200, description = "the JWKS document", body = Jwks)))]
pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    let keys = state.passes.published_keys().iter().map(JwkView::from).collect();
    let mut response = Json(Jwks { keys }).into_response();
    // Keys rotate rarely; verifiers may hold them a few minutes.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
