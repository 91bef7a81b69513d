//! Logs, text or JSON (`logs.rs`), OpenTelemetry traces when an OTLP
//! endpoint is set (`otel.rs`, exported through `otlp_client.rs`, kept or not
//! as `sampling.rs` decides), metrics
//! (`metrics.rs`), the progress of long commands (`progress.rs`) and the
//! process's shutdown signal.

mod logs;
pub(crate) mod metrics;
pub(crate) mod otel;
mod otlp_client;
pub(crate) mod progress;
mod sampling;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the logs and, when the environment asks for them, the traces.
/// Called inside the tokio runtime (the traces are exported from it).
pub fn init(format: LogFormat) {
    let subscriber = tracing_subscriber::registry()
        .with(logs::layer(format, std::env::var("RUST_LOG").ok().as_deref()))
        .with(otel::layer());
    // try_init: tests build several apps in one process.
    let _ = subscriber.try_init();
}

/// Sends the spans still queued; for the end of the process.
pub async fn flush() {
    otel::shutdown().await;
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
