//! The OTLP exporter's HTTP client: reqwest 0.12, already in the tree for
//! webhooks, instead of the exporter's own reqwest 0.13 (a second HTTP stack
//! and TLS provider to build).
//!
//! The SDK's batch processor exports from a thread of its own, outside the
//! tokio runtime, where an async client cannot run; each export is therefore
//! spawned onto the runtime that started the service, and the processor's
//! thread only waits for its answer.

use std::time::Duration;

use async_trait::async_trait;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use tokio::runtime::Handle;

/// How long one export may take when `OTEL_EXPORTER_OTLP_TIMEOUT` does not say (the specification's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(super) struct OtlpClient {
    client: reqwest::Client,
    runtime: Handle,
}

impl OtlpClient {
    pub(super) fn new(runtime: Handle) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(export_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(OtlpClient { client, runtime })
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds.
fn export_timeout() -> Duration {
    ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
}

#[async_trait]
impl HttpClient for OtlpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut outgoing = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let answer = outgoing.send().await?;
            let mut response = Response::builder().status(answer.status());
            if let Some(headers) = response.headers_mut() {
                headers.extend(answer.headers().clone());
            }
            let body = answer.bytes().await?;
            Ok::<_, HttpError>(response.body(body)?)
        });
        sent.await?
    }
}
