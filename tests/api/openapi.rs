//! The OpenAPI document describes every route there is, and the docs page
//! shows it without the internet.

use crate::helpers::{json_of, spawn_app};
use serde_json::Value;

/// Every route of both APIs, the admin API, health and operations, and the
/// pages: a route added without a place in the document fails here.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/waiting-queue"),
    ("get", "/api/waiting-queue/position"),
    ("get", "/api/concerts/{concert_id}/schedules"),
    ("get", "/api/concerts/{concert_id}/schedules/{schedule_id}/seats"),
    (
        "post",
        "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation",
    ),
    (
        "post",
        "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
    ),
    ("patch", "/api/balances/balance/charge"),
    ("get", "/api/balances/balance"),
    ("post", "/api/v1/concerts/{code}/token"),
    ("get", "/api/v1/concerts/{code}/token"),
    ("get", "/api/v1/concerts"),
    ("get", "/api/v1/concerts/{code}"),
    ("patch", "/api/v1/concerts/{code}"),
    ("get", "/api/v1/concerts/{code}/seats"),
    ("post", "/api/v1/payments"),
    ("get", "/api/v1/users/{uuid}/balance"),
    ("patch", "/api/v1/users/{uuid}/balance"),
    ("get", "/admin/queues"),
    ("get", "/admin/queues/{queue}"),
    ("patch", "/admin/queues/{queue}"),
    ("get", "/admin/queues/{queue}/events"),
    ("post", "/admin/queues/{queue}/origin-keys"),
    ("post", "/admin/queues/{queue}/invitations"),
    ("get", "/admin/queues/{queue}/invitations"),
    ("post", "/admin/concerts"),
    ("get", "/admin/schedules/{schedule_id}/seats"),
    ("get", "/admin/invariants"),
    ("get", "/admin/events"),
    ("get", "/admin/queues/{queue}/report"),
    ("post", "/admin/webhooks"),
    ("get", "/admin/webhooks"),
    ("delete", "/admin/webhooks/{id}"),
    ("get", "/admin/webhooks/{id}/deliveries"),
    ("post", "/gate/{queue}/join"),
    ("get", "/queues/{queue}/challenge"),
    ("get", "/gate/{queue}/status"),
    ("post", "/gate/{queue}/leave"),
    ("get", "/gate/{queue}"),
    ("post", "/gate/{queue}/end"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/ops/invariants"),
    ("get", "/ops/queues"),
    ("get", "/ops/sales"),
    ("get", "/ops/schedules/{schedule_id}/seats"),
    ("get", "/ops/refusals"),
    ("get", "/"),
    ("get", "/waiting-room"),
    ("get", "/waiting-room/config.json"),
    ("get", "/waiting-room/gate"),
    ("get", "/ops"),
    ("get", "/docs"),
    ("get", "/assets/{path}"),
    ("get", "/openapi.json"),
];

async fn document() -> Value {
    let app = spawn_app().await;
    let response = app.openapi().await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let document = json_of(response).await;
    app.stop().await;
    document
}

fn operation<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let operation = &document["paths"][path][method];
    assert!(
        operation.is_object(),
        "{} {path} is not in the document",
        method.to_uppercase()
    );
    operation
}

fn header_names(operation: &Value) -> Vec<String> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|parameter| parameter["in"] == "header")
        .filter_map(|parameter| parameter["name"].as_str().map(str::to_lowercase))
        .collect()
}

/// The codes an operation documents for a status.
fn codes(operation: &Value, status: &str) -> Vec<String> {
    let schema = &operation["responses"][status]["content"]["application/json"]["schema"];
    schema["allOf"][1]["properties"]["code"]["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|code| code.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route_with_schemas() {
    let document = document().await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );

    let mut documented = 0;
    for (_, item) in document["paths"].as_object().unwrap() {
        documented += item.as_object().unwrap().len();
    }
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document has operations this test does not list"
    );

    for &(method, path) in ROUTES {
        let operation = operation(&document, method, path);
        assert!(operation["operationId"].is_string(), "{method} {path}: no operationId");
        let responses = operation["responses"].as_object().unwrap();
        let success = responses
            .iter()
            .find(|(status, _)| status.starts_with('2'))
            .unwrap_or_else(|| panic!("{method} {path}: no success response"));
        if success.0 == "204" {
            // No Content: a body would be a lie.
            assert!(success.1["content"].is_null(), "{method} {path}: a 204 with a body");
        } else if success.1["content"].is_null() {
            // An answer given in headers alone (the forward-auth check's) documents them.
            assert!(
                success.1["headers"]
                    .as_object()
                    .is_some_and(|headers| !headers.is_empty()),
                "{method} {path}: the success response has neither a body nor headers"
            );
        } else {
            assert!(
                success.1["content"]
                    .as_object()
                    .is_some_and(|content| content.values().all(|media| media["schema"].is_object())),
                "{method} {path}: the success response has no schema"
            );
        }
        for (status, response) in responses.iter().filter(|(status, _)| status.as_str() >= "400") {
            let schema = &response["content"]["application/json"]["schema"];
            assert_eq!(
                schema["allOf"][0]["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}: not the error body"
            );
            assert!(
                !codes(operation, status).is_empty(),
                "{method} {path} {status}: no codes"
            );
            if status == "429" || status == "503" {
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path} {status}: no Retry-After"
                );
            }
        }
    }
}

#[tokio::test]
async fn each_operation_names_the_headers_and_codes_it_uses() {
    let document = document().await;
    let expect_headers = |method: &str, path: &str, headers: &[&str]| {
        let names = header_names(operation(&document, method, path));
        for header in headers {
            assert!(
                names.contains(&header.to_lowercase()),
                "{method} {path}: no {header} header in {names:?}"
            );
        }
    };
    expect_headers(
        "post",
        "/api/waiting-queue",
        &["user-id", "Token", "X-Invitation", "X-Altcha"],
    );
    expect_headers("post", "/api/v1/concerts/{code}/token", &["X-Invitation", "X-Altcha"]);
    expect_headers("post", "/gate/{queue}/join", &["X-Invitation", "X-Altcha"]);
    expect_headers("get", "/api/waiting-queue/position", &["user-id"]);
    expect_headers("get", "/api/balances/balance", &["user-id"]);
    expect_headers("patch", "/api/balances/balance/charge", &["user-id", "Idempotency-Key"]);
    let reservation = "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation";
    expect_headers("post", reservation, &["Token", "Authorization"]);
    expect_headers("post", &format!("{reservation}/payment"), &["Token", "Idempotency-Key"]);
    expect_headers("get", "/api/v1/concerts/{code}/token", &["Authorization"]);
    expect_headers("get", "/api/v1/concerts/{code}", &["Authorization"]);
    expect_headers("patch", "/api/v1/concerts/{code}", &["Authorization"]);
    expect_headers("post", "/api/v1/payments", &["Authorization", "Idempotency-Key"]);
    expect_headers("patch", "/api/v1/users/{uuid}/balance", &["Idempotency-Key"]);
    for &(method, path) in ROUTES.iter().filter(|(_, path)| path.starts_with("/admin")) {
        expect_headers(method, path, &["Authorization"]);
        let unauthorized = codes(operation(&document, method, path), "401");
        assert_eq!(unauthorized, ["ADMIN_UNAUTHORIZED"], "{method} {path}");
    }

    // A few codes that come from the extractors and layers, not the handler.
    let join = operation(&document, "post", "/api/waiting-queue");
    assert!(codes(join, "400").contains(&"MISSING_USER_ID".to_string()));
    assert!(codes(join, "429").contains(&"RATE_LIMITED".to_string()));
    assert!(codes(join, "503").contains(&"OVERLOADED".to_string()));
    for path in [
        "/api/waiting-queue",
        "/api/v1/concerts/{code}/token",
        "/gate/{queue}/join",
    ] {
        let join = operation(&document, "post", path);
        for code in ["CHALLENGE_REQUIRED", "CHALLENGE_FAILED", "INVITATION_INVALID"] {
            assert!(codes(join, "403").contains(&code.to_string()), "{path}: no {code}");
        }
    }
    let challenge = operation(&document, "get", "/queues/{queue}/challenge");
    assert!(codes(challenge, "404").contains(&"CHALLENGE_OFF".to_string()));
    let pay = operation(&document, "post", "/api/v1/payments");
    assert!(codes(pay, "400").contains(&"INVALID_JSON".to_string()));
    assert!(codes(pay, "413").contains(&"PAYLOAD_TOO_LARGE".to_string()));
    assert!(codes(pay, "422").contains(&"IDEMPOTENCY_KEY_REUSED".to_string()));
    assert!(codes(pay, "503").contains(&"OUTCOME_UNKNOWN".to_string()));
    let hold = operation(&document, "post", reservation);
    assert!(codes(hold, "403").contains(&"NOT_ADMITTED".to_string()));
    assert!(codes(hold, "409").contains(&"SEAT_UNAVAILABLE".to_string()));
    assert!(codes(hold, "503").contains(&"TIMEOUT".to_string()));
}

#[tokio::test]
async fn the_docs_page_needs_nothing_but_this_server() {
    let app = spawn_app().await;
    let response = app.get("/docs").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    for scheme in ["http://", "https://", "//cdn", "src=\"//", "href=\"//"] {
        assert!(!page.contains(scheme), "the page names another host ({scheme})");
    }
    // Its one script of ours (no inline script: the pages' policy refuses it) loads the document.
    let start = app.get("/assets/docs.js").await;
    let start = start.text().await.unwrap();
    assert!(start.contains("'/openapi.json'"), "the page does not load the document");
    assert!(!start.contains("http"), "the script names another host");

    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (_, rest) in page
            .match_indices(attribute)
            .map(|(at, _)| page.split_at(at + attribute.len()))
        {
            assets.push(rest.split('"').next().unwrap().to_string());
        }
    }
    assert!(
        assets.iter().any(|asset| asset.ends_with("swagger-ui-bundle.js")),
        "{assets:?}"
    );
    assert!(assets.iter().any(|asset| asset == "/assets/docs.js"), "{assets:?}");
    for asset in &assets {
        assert!(asset.starts_with("/assets/"), "{asset} is not one of the pages' assets");
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        let smallest = if asset.starts_with("/assets/vendor/") { 1000 } else { 10 };
        assert!(response.bytes().await.unwrap().len() > smallest, "{asset} is empty");
    }
    app.stop().await;
}
