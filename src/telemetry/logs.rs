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

/// The log layer, keeping what `rust_log` (`RUST_LOG`'s value) asks for.
pub(super) fn layer<S>(format: LogFormat, rust_log: Option<&str>) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = filter(rust_log);
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

/// `RUST_LOG`'s directives (the default when unset or unreadable), and never
/// the spans meant for OpenTelemetry.
fn filter(rust_log: Option<&str>) -> EnvFilter {
    rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER))
        .add_directive(not_ours())
}

fn not_ours() -> Directive {
    format!("{}=off", otel::TARGET)
        .parse()
        .unwrap_or_else(|_| Directive::from(tracing::level_filters::LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// With traces off the log layer is the only one: whatever `RUST_LOG`
    /// says, the hot path's span helpers make no span.
    #[test]
    fn the_logs_never_enable_the_spans_meant_for_opentelemetry() {
        for rust_log in [
            None,
            Some("trace"),
            Some("boxoffice=trace"),
            Some("boxoffice::otel=trace"),
        ] {
            let subscriber = tracing_subscriber::registry().with(layer(LogFormat::Json, rust_log));
            tracing::subscriber::with_default(subscriber, || {
                assert!(otel::sql("payments.capture").is_disabled(), "{rust_log:?}");
                assert!(otel::redis("queue_standing", Some(3)).is_disabled(), "{rust_log:?}");
                assert!(otel::chore("admission").is_disabled(), "{rust_log:?}");
                let logged = tracing::info_span!("request");
                assert_eq!(
                    logged.is_disabled(),
                    rust_log == Some("boxoffice::otel=trace"),
                    "{rust_log:?}"
                );
            });
        }
    }
}
