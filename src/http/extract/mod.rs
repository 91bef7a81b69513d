//! Request extractors whose rejections are this API's JSON errors, never axum's
//! plain-text ones: bodies (`body.rs`), headers (`headers.rs`), path and query.

mod body;
mod headers;

use crate::http::error::ErrorCode;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::Error;
pub(crate) use body::{whole_number, ChargeAmount, Json, OptionalJson};
pub(crate) use headers::{single_header, token_from_headers, IdempotencyKey, PresentedToken};

/// Path parameters; a non-numeric id is a 400 with a code.
pub(crate) struct Path<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| Error::refused(ErrorCode::InvalidPath, rejection.body_text()))
    }
}

/// Query parameters.
pub(crate) struct Query<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| Error::refused(ErrorCode::InvalidQuery, rejection.body_text()))
    }
}
