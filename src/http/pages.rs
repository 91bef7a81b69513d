//! The pages served from the binary itself: `/waiting-room` for fans, `/ops`
//! for the operations team, and their assets under `/assets/`. No CDN, no
//! internet: every file of `web/` is embedded at build time (`rust-embed`),
//! and read from `web/` on disk in debug builds, so a frontend developer edits
//! a page and reloads it without rebuilding the server.
//!
//! Every answer here says (through its class, `routes.rs`) where it may be
//! shown and what it may load: a
//! `Content-Security-Policy` that allows the pages' own files only (scripts,
//! workers and styles from files, never inline or `blob:`; images also as
//! `data:` URIs, which Swagger UI's stylesheet uses) and no framing at all, with `X-Frame-Options`
//! for browsers that predate `frame-ancestors`: `/ops` holds pause and close
//! controls, and a page of someone else's must not frame it and steer clicks
//! onto them. The API's JSON answers go without these (only
//! `X-Content-Type-Options`, on every answer): a browser shows none of them as
//! a page, and the bytes would ride on every poll.

use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::Method;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rust_embed::Embed;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::Error;
use super::extract::Path;
use super::routes::{Class, Routes};
use super::state::AppState;

#[derive(Embed)]
#[folder = "web/"]
struct Web;

/// The frontends' package (`clients/js/src`, docs/client.md), served under
/// `/assets/client/` from its one source: `/waiting-room` runs the same loop
/// a frontend team installs, so the two cannot drift.
#[derive(Embed)]
#[folder = "clients/js/src/"]
struct Client;

/// Where a page's file comes from: the package's own folder, or `web/`.
fn embedded(path: &str) -> Option<rust_embed::EmbeddedFile> {
    match path.strip_prefix("assets/client/") {
        Some(inside) => Client::get(inside),
        None => Web::get(path),
    }
}

/// The pages; their class gives them the headers above (`routes.rs`).
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::GET, "/", home, Class::Page)
        .route(Method::GET, "/waiting-room", waiting_room, Class::Page)
        .route(Method::GET, "/ops", ops_page, Class::Page)
        .route(Method::GET, "/docs", docs, Class::Page)
        .route(Method::GET, "/assets/{*path}", asset, Class::Page)
        .route(Method::GET, "/waiting-room/config.json", config, Class::Page)
        .route(Method::GET, "/waiting-room/gate", gate_room, Class::Page)
}

/// The fan's page: join, wait, pick seats, pay.
#[utoipa::path(get, path = "/waiting-room", operation_id = "waitingRoomPage", tag = "pages",
    responses((status = 200, description = "the page", content_type = "text/html", body = String),
        (status = 304, description = "unchanged since the ETag given in If-None-Match")))]
async fn waiting_room(headers: HeaderMap) -> Response {
    file("waiting-room.html", &headers)
}

/// A protected site's waiting room (`?queue=…&return=…`, where the check's
/// `Location` sends a visitor without a pass): joins, waits, goes back.
#[utoipa::path(get, path = "/waiting-room/gate", operation_id = "gateRoomPage", tag = "pages",
    responses((status = 200, description = "the page", content_type = "text/html", body = String),
        (status = 304, description = "unchanged since the ETag given in If-None-Match")))]
async fn gate_room(headers: HeaderMap) -> Response {
    file("gate.html", &headers)
}

/// Where a visitor can go from the front door.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Home {
    waiting_room: &'static str,
    ops: &'static str,
    docs: &'static str,
    openapi: &'static str,
}

const HOME: Home = Home {
    waiting_room: "/waiting-room",
    ops: "/ops",
    docs: "/docs",
    openapi: "/openapi.json",
};

const HOME_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>boxoffice</title></head>\
<body><h1>boxoffice</h1><p>A ticket sale's waiting room and booking API.</p><ul>\
<li><a href=\"/waiting-room\">The waiting room</a>: join a sale's queue, pick seats, pay.</li>\
<li><a href=\"/ops\">Operations</a>: every queue's figures, sales and controls.</li>\
<li><a href=\"/docs\">API documentation</a> (<a href=\"/openapi.json\">OpenAPI</a>).</li>\
</ul></body></html>\n";

/// The front door: a page pointing at the others, or, to a client that asks
/// for JSON and not HTML, the same links as JSON.
#[utoipa::path(get, path = "/", operation_id = "homePage", tag = "pages",
    responses((status = 200, description = "links to the waiting room, the ops page and the API docs",
        content((String = "text/html"), (Home = "application/json")))))]
async fn home(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if accept.contains("application/json") && !accept.contains("text/html") {
        return Json(HOME).into_response();
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], HOME_PAGE).into_response()
}

/// The operations team's page.
#[utoipa::path(get, path = "/ops", operation_id = "opsPage", tag = "pages",
    responses((status = 200, description = "the page", content_type = "text/html", body = String),
        (status = 304, description = "unchanged since the ETag given in If-None-Match")))]
async fn ops_page(headers: HeaderMap) -> Response {
    file("ops.html", &headers)
}

/// This API's documentation (Swagger UI, served from the binary, reading `/openapi.json`).
#[utoipa::path(get, path = "/docs", operation_id = "docsPage", tag = "pages",
    responses((status = 200, description = "the page", content_type = "text/html", body = String),
        (status = 304, description = "unchanged since the ETag given in If-None-Match")))]
async fn docs(headers: HeaderMap) -> Response {
    file("docs.html", &headers)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PageConfig {
    /// A waiting user who stops polling this long loses the place.
    idle_timeout_seconds: u64,
    /// How long a seat hold lasts.
    hold_seconds: u64,
    max_seats_per_user: u32,
    /// The queue behind `/api/waiting-queue`.
    default_queue: String,
}

/// What the fan's page needs to know of the server's settings.
#[utoipa::path(get, path = "/waiting-room/config.json", operation_id = "waitingRoomConfig", tag = "pages",
    responses((status = 200, description = "the settings the fan's page needs", body = PageConfig)))]
async fn config(State(state): State<AppState>) -> Json<PageConfig> {
    Json(PageConfig {
        idle_timeout_seconds: state.config.queue.idle_timeout_s,
        hold_seconds: state.config.booking.hold_ttl_s,
        max_seats_per_user: state.config.booking.max_seats_per_user,
        default_queue: state.config.queue.default_queue.clone(),
    })
}

/// A file of the pages (scripts, styles, icons, the vendored Swagger UI and
/// ALTCHA widget), and under `client/` the frontends' package.
#[utoipa::path(get, path = "/assets/{path}", operation_id = "asset", tag = "pages",
    params(("path" = String, Path, description = "the file under web/assets/ (or, under `client/`, clients/js/src/)", example = "vendor/swagger-ui/swagger-ui.css")),
    responses((status = 200, description = "the file, typed by its extension", content(
            (String = "text/javascript"), (String = "text/css"), (String = "text/html"), (String = "application/json"),
            (String = "image/svg+xml"), (String = "image/png"), (String = "font/woff2"), (String = "application/octet-stream"))),
        (status = 304, description = "unchanged since the ETag given in If-None-Match")))]
async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    file(&format!("assets/{path}"), &headers)
}

fn file(path: &str, request: &HeaderMap) -> Response {
    // Only names inside `web/`: in a debug build `Web::get` reads the disk, so
    // a `..` (from an encoded slash, say) must never reach it.
    let inside = !path.split(['/', '\\']).any(|part| part == ".." || part.is_empty());
    let Some(found) = inside.then(|| embedded(path)).flatten() else {
        return Error::Refused {
            code: ErrorCode::AssetNotFound,
            message: format!("no file `{path}`"),
        }
        .into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&found.metadata.sha256_hash()[..8]));
    if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|presented| presented.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type(path))),
        // Pages and assets change with the binary: revalidate, cheaply, by ETag.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
        ),
    ];
    (headers, found.data).into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}
