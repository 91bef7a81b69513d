//! The log lines on stdout: text for people, or with `BOXOFFICE_LOG_FORMAT=json`
//! one JSON object per line for log pipelines (docs/observability.md has a
//! request's line). `RUST_LOG` decides what is kept, `info` when unset.
//!
//! The filter is this layer's own, not the whole subscriber's, so that the
//! OpenTelemetry layer can see spans the logs never show: the spans of
//! [`otel::TARGET`] are turned away here whatever `RUST_LOG` says.

use tracing::Subscriber;
use tracing_subscriber::filter::Directive;
use tracing_subscriber::fmt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use super::otel;
use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=info";

pub(super) fn layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
        .add_directive(not_ours());
    match format {
        LogFormat::Text => fmt::layer().with_target(false).with_filter(filter).boxed(),
        // One flat object per event; the fields of the span it happened in
        // (a request's id, route, trace id) under `span`.
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .with_filter(filter)
            .boxed(),
    }
}

fn not_ours() -> Directive {
    format!("{}=off", otel::TARGET)
        .parse()
        .unwrap_or_else(|_| Directive::from(tracing::level_filters::LevelFilter::INFO))
}
