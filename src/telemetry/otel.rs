//! OpenTelemetry traces over OTLP/HTTP, on only when an OTLP endpoint is set
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`);
//! docs/observability.md says which `OTEL_*` variables are honoured.
//!
//! The spans sent are `tracing` spans of one target, [`TARGET`], made by the
//! helpers here ([`sql`], [`redis`], [`chore`]) and by the request layer
//! (`http/edge/trace_context.rs`). Only the OpenTelemetry layer's filter lets
//! that target through; the log layer's turns it away. With tracing off there
//! is no such layer, every callsite of the target is disabled once for the
//! life of the process, and a span "made" on the hot path is a check of a
//! cached flag: no span, no allocation.
//!
//! With tracing on, whether a trace is kept is decided where it starts
//! (`sampling.rs`): a request or a round not kept makes no span, and the
//! layer's filter lets a statement's or a Lua call's span through only inside
//! a span it let through, so none of theirs is made either.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tokio::task::futures::TaskLocalFuture;
use tracing::{Level, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{dynamic_filter_fn, FilterExt, Targets};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::otlp_client::OtlpClient;
use super::sampling::HeadSampler;

/// The target of every span meant for OpenTelemetry and nothing else.
pub(crate) const TARGET: &str = "boxoffice::otel";

/// The variables that switch tracing on, the signal's own first.
const ENDPOINTS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"];

/// Whether the OpenTelemetry layer is installed: read on the request path
/// before anything else is done for tracing.
static ON: AtomicBool = AtomicBool::new(false);

/// The provider, kept to flush what is queued when the process ends.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Which traces are kept, decided where each starts.
static SAMPLER: OnceLock<HeadSampler> = OnceLock::new();

/// The names of the spans that start a trace ([`chore`] and the request
/// layer's); every other span of [`TARGET`] belongs to one of theirs.
const ROOTS: [&str; 2] = ["chore", "request"];

tokio::task_local! {
    /// The trace of a request not kept, for its error bodies: it has no span
    /// to read it from.
    static UNSAMPLED: TraceId;
}

pub(crate) fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The OpenTelemetry layer, when the environment asks for traces; `None`
/// (and a line on stderr saying why, when it asked but cannot have them).
pub(super) fn layer<S>() -> Option<impl Layer<S>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if !requested() {
        return None;
    }
    let sampler = HeadSampler::from_env();
    let provider = match provider(&sampler) {
        Ok(provider) => provider,
        Err(problem) => {
            // The log layer is not installed yet: this goes to stderr itself.
            eprintln!("boxoffice: OpenTelemetry traces are off: {problem}");
            return None;
        }
    };
    let tracer = provider.tracer("boxoffice");
    if PROVIDER.set(provider).is_err() {
        // A second subscriber in one process (tests): the first one traces.
        return None;
    }
    let _ = SAMPLER.set(sampler);
    ON.store(true, Ordering::Relaxed);
    // A statement or a Lua call outside any span of a kept trace (a request
    // not kept) makes no span: a root of its own would be a trace nobody kept.
    let in_a_trace =
        dynamic_filter_fn(|metadata, context| ROOTS.contains(&metadata.name()) || context.lookup_current().is_some());
    let only_ours = Targets::new().with_target(TARGET, Level::TRACE).and(in_a_trace);
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // Its spans all come from here and from one request layer: their
            // file, thread and target would say nothing, and cost on each.
            .with_tracked_inactivity(false)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_filter(only_ours),
    )
}

/// An endpoint is set, and neither `OTEL_SDK_DISABLED=true` nor
/// `OTEL_TRACES_EXPORTER=none` says otherwise.
fn requested() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let is = |name: &str, value: &str| std::env::var(name).is_ok_and(|set| set.trim().eq_ignore_ascii_case(value));
    ENDPOINTS.iter().any(|name| set(name)) && !is("OTEL_SDK_DISABLED", "true") && !is("OTEL_TRACES_EXPORTER", "none")
}

/// The SDK reads the endpoint, protocol, headers, batch and resource
/// variables itself; the service name defaults to `boxoffice`. The sampler
/// is `sampler`'s (see `sampling.rs`).
fn provider(sampler: &HeadSampler) -> Result<SdkTracerProvider, String> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| "no tokio runtime to export from".to_string())?;
    let client = OtlpClient::new(runtime).map_err(|err| format!("the HTTP client: {err}"))?;
    let mut exporter = SpanExporter::builder().with_http().with_http_client(client);
    // The specification's default, http/protobuf: the exporter would take
    // http/json by itself, since both are built in.
    let protocols = ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"];
    if protocols.iter().all(|name| std::env::var_os(name).is_none()) {
        exporter = exporter.with_protocol(Protocol::HttpBinary);
    }
    let exporter = exporter.build().map_err(|err| err.to_string())?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("boxoffice");
    }
    Ok(SdkTracerProvider::builder()
        .with_sampler(sampler.sdk_sampler())
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// Sends what is still queued (at most a few seconds), for a process ending.
pub(crate) async fn shutdown() {
    let Some(provider) = PROVIDER.get().cloned() else {
        return;
    };
    // The export runs on the runtime this waits on: wait off it.
    let _ = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(Duration::from_secs(5))).await;
}

/// The caller's trace, from its W3C `traceparent` (and `tracestate`) headers;
/// an empty context when it sent none or a malformed one.
pub(crate) fn caller_context(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers))
}

/// The trace id of `span` in hex, when tracing is on and it has one.
pub(crate) fn trace_id(span: &Span) -> Option<String> {
    if !enabled() || span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// The trace id of the OpenTelemetry span the caller runs in (see
/// [`trace_id`]), or of the request not kept it runs for. Read from the
/// context the layer activates on entering one of its spans, not from
/// `Span::current()`: that may be a span only the logs see (a request's log
/// span), which has no trace of its own.
pub(crate) fn current_trace_id() -> Option<String> {
    if !enabled() {
        return None;
    }
    let context = Context::current();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        return Some(span_context.trace_id().to_string());
    }
    UNSAMPLED.try_with(TraceId::to_string).ok()
}

/// Whether the trace `caller` carries on here (or a new one, for an empty
/// context) is kept; false with tracing off.
pub(crate) fn keeps(caller: &Context) -> bool {
    SAMPLER.get().is_some_and(|sampler| sampler.keeps(caller))
}

/// The trace of a request not kept: the caller's, or a new one. Nothing is
/// sent of it; it names the request in its log line and error bodies.
pub(crate) fn unsampled_trace(caller: &Context) -> TraceId {
    let span = caller.span();
    let parent = span.span_context();
    if parent.is_valid() {
        parent.trace_id()
    } else {
        TraceId::from(rand::random::<u128>() | 1)
    }
}

/// Runs a request not kept with its trace id at hand for [`current_trace_id`].
pub(crate) fn with_unsampled_trace<F: Future>(trace: TraceId, request: F) -> TaskLocalFuture<TraceId, F> {
    UNSAMPLED.scope(trace, request)
}

/// A span for one Postgres statement, named by what it does
/// (`payments.insert`), never by its SQL, which may carry values.
pub(crate) fn sql(name: &'static str) -> Span {
    tracing::info_span!(
        target: "boxoffice::otel",
        "sql",
        otel.name = name,
        otel.kind = "client",
        db.system = "postgresql",
        db.statement = name,
    )
}

/// A span for one call of a function of the Lua library; `batch` is how many
/// joins and polls a coalesced run carries.
pub(crate) fn redis(function: &str, batch: Option<usize>) -> Span {
    let span = tracing::info_span!(
        target: "boxoffice::otel",
        "redis",
        otel.name = tracing::field::Empty,
        otel.kind = "client",
        db.system = "redis",
        db.operation.name = tracing::field::Empty,
        boxoffice.batch_size = tracing::field::Empty,
    );
    if !span.is_disabled() {
        span.record("otel.name", function);
        span.record("db.operation.name", function);
        if let Some(batch) = batch {
            span.record("boxoffice.batch_size", batch);
        }
    }
    span
}

/// A span for one round of a background chore (`admission`, `reconcile`), a
/// trace of its own when the sampler keeps it, else none.
pub(crate) fn chore(name: &'static str) -> Span {
    if enabled() && !keeps(&Context::new()) {
        return Span::none();
    }
    tracing::info_span!(target: "boxoffice::otel", parent: None, "chore", otel.name = name)
}
