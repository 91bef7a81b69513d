//! An OpenTelemetry collector's OTLP/HTTP endpoint on a random port, as small
//! as a test needs: it takes `POST /v1/traces` and keeps every span it got in
//! OTLP's JSON encoding (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`); of an
//! export in protobuf (the default) it keeps only that it came.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// One span as received: OTLP's JSON span, ids in hex.
#[derive(Debug, Clone)]
pub struct Span(pub Value);

impl Span {
    pub fn name(&self) -> &str {
        self.0["name"].as_str().unwrap_or_default()
    }

    pub fn trace_id(&self) -> &str {
        self.0["traceId"].as_str().unwrap_or_default()
    }

    pub fn span_id(&self) -> &str {
        self.0["spanId"].as_str().unwrap_or_default()
    }

    pub fn parent_span_id(&self) -> &str {
        self.0["parentSpanId"].as_str().unwrap_or_default()
    }

    /// An attribute's value as text (OTLP's JSON sends an int as a number or a string).
    pub fn attribute(&self, key: &str) -> Option<String> {
        let attribute = self.0["attributes"].as_array()?.iter().find(|a| a["key"] == key)?;
        let value = attribute["value"].as_object()?.values().next()?;
        Some(match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }
}

#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    /// The `Content-Type` of each export, in the order they came.
    exports: Vec<String>,
}

pub struct OtlpReceiver {
    /// What `OTEL_EXPORTER_OTLP_ENDPOINT` is set to.
    pub endpoint: String,
    received: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let app = Router::new()
            .route("/v1/traces", post(export))
            .with_state(received.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OtlpReceiver {
            endpoint: format!("http://127.0.0.1:{port}"),
            received,
            task,
        }
    }

    /// The spans of the trace `trace_id` received so far.
    pub fn trace(&self, trace_id: &str) -> Vec<Span> {
        let received = self.received.lock().expect("not poisoned");
        received
            .spans
            .iter()
            .filter(|span| span.trace_id() == trace_id)
            .cloned()
            .collect()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.received.lock().expect("not poisoned").spans.clone()
    }

    /// The `Content-Type` of each export so far.
    pub fn exports(&self) -> Vec<String> {
        self.received.lock().expect("not poisoned").exports.clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `resourceSpans[].scopeSpans[].spans[]` of a JSON export, kept; an
/// unreadable JSON body is a 400.
async fn export(State(received): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut spans = Vec::new();
    if content_type == "application/json" {
        let Ok(request) = serde_json::from_slice::<Value>(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        spans = request["resourceSpans"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|resource| resource["scopeSpans"].as_array().into_iter().flatten())
            .flat_map(|scope| scope["spans"].as_array().into_iter().flatten())
            .map(|span| Span(span.clone()))
            .collect();
    }
    let mut received = received.lock().expect("not poisoned");
    received.spans.extend(spans);
    received.exports.push(content_type);
    StatusCode::OK
}
