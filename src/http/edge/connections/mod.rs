//! Client connections, from `accept` until a request reaches the router.
//!
//! Served with hyper's HTTP/1.1 server directly rather than `axum::serve`,
//! which offers no hold on a connection's life: with it, connections that
//! never finished a request stayed open for good, and anyone could take every
//! descriptor the process had. Here each accepted connection is
//!
//! - counted against the instance's cap and its client's (`caps.rs`), or
//!   answered `503 OVERLOADED` and closed at once;
//! - on a clock for its request head, its request and its idle time (`deadlines.rs`),
//!   and handed to hyper only once its first byte has come;
//! - given `TCP_NODELAY` (answers are small and go out in one write: Nagle
//!   would only hold them back) and its peer's address as [`PeerAddr`];
//! - written through [`JsonErrors`], so that hyper's own answers are JSON too;
//! - with request heads read into at most [`MAX_BUFFER`] bytes.
//!
//! On shutdown the listener closes, idle connections close, and requests in
//! flight are answered before [`serve`] returns.

mod caps;
mod deadlines;
mod json_errors;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

pub(crate) use caps::Caps;
pub(crate) use deadlines::Timeouts;
use deadlines::{Activity, Counted, Deadlines};
use json_errors::JsonErrors;

use crate::telemetry::metrics::CONNECTIONS_TIMED_OUT;

/// The client's socket address, as the connection saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

/// Most bytes hyper buffers for one connection's request head (its default is
/// about 400 KiB, which a slow client could make every connection hold). Past
/// it the answer is `431 HEADERS_TOO_LARGE`. Above hyper's 64 KiB limit on a
/// URI, so that a long URI is still told `414 URI_TOO_LONG`.
const MAX_BUFFER: usize = 80 * 1024;

/// How long accepting pauses after an error that is not one connection's
/// (the process out of descriptors, say), instead of spinning on it.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish.
pub(crate) async fn serve<S>(
    listener: TcpListener,
    app: S,
    caps: Arc<Caps>,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut http = http1::Builder::new();
    http.header_read_timeout(None).max_buf_size(MAX_BUFFER);
    let http = Arc::new(http);
    // Told to finish when shutdown begins; each connection holds `open` until it ends.
    let (finish, finishing) = watch::channel(false);
    let (open, _) = watch::channel(());
    let mut accept_errors = AcceptErrors::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_errors.pause_after(err).await;
                    continue;
                }
            },
        };
        let slot = match caps.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                // Best effort: a fresh socket's send buffer is empty, so this
                // does not block; the connection closes as `stream` drops.
                let _ = stream.try_write(&refusal.answer());
                continue;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::warn!(error = %err, "could not set TCP_NODELAY");
        }
        let opened = Instant::now();
        let (http, app) = (http.clone(), app.clone());
        let mut finishing = finishing.clone();
        let still_open = open.subscribe();
        tokio::spawn(async move {
            // hyper takes 16 KiB of buffers for a connection at once: until its
            // first byte a connection costs only its task (about 2 KiB, measured).
            // (`readable()` may wake with nothing to read: peeking waits for a byte.)
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout_at(opened + timeouts.header, stream.peek(&mut first)) => {
                    if peeked.is_err() {
                        metrics::counter!(CONNECTIONS_TIMED_OUT, "phase" => "head").increment(1);
                    }
                    if !matches!(peeked, Ok(Ok(1..))) {
                        return;
                    }
                }
                _ = finishing.changed() => return,
            }
            let connection = connection(&http, stream, peer, app, timeouts, opened);
            let mut connection = pin!(connection);
            let mut told = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(error = %err, "connection ended");
                        }
                        break;
                    }
                    _ = finishing.changed(), if !told => {
                        told = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop((slot, still_open));
        });
    }
    drop(listener);
    let _ = finish.send(true);
    open.closed().await;
}

fn connection<S>(
    http: &http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    app: S,
    timeouts: Timeouts,
    opened: Instant,
) -> http1::Connection<TokioIo<JsonErrors<Deadlines<TcpStream>>>, PerConnection<S>>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(JsonErrors::new(Deadlines::new(
        stream,
        activity.clone(),
        timeouts,
        opened,
    )));
    http.serve_connection(
        io,
        PerConnection {
            app,
            peer: PeerAddr(peer),
            activity,
        },
    )
}

/// The app as one connection calls it: each request carries the peer's
/// address and is counted for the connection's clock.
pub(crate) struct PerConnection<S> {
    app: S,
    peer: PeerAddr,
    activity: Arc<Activity>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for PerConnection<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Counted<tower::util::Oneshot<S, Request>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let answered = self.activity.start();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Counted::new(self.app.clone().oneshot(request), answered)
    }
}

/// Errors of `accept` itself, logged at most once a second.
#[derive(Default)]
struct AcceptErrors {
    logged: Option<Instant>,
}

impl AcceptErrors {
    async fn pause_after(&mut self, err: io::Error) {
        // One connection's trouble (reset before it was accepted): nothing to wait for.
        if matches!(
            err.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
        ) {
            return;
        }
        if self.logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            self.logged = Some(Instant::now());
            tracing::error!(error = %err, "accept failed; pausing");
        }
        tokio::time::sleep(ACCEPT_PAUSE).await;
    }
}
