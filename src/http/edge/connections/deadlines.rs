//! How long a connection may take to say what it wants, and to come back.
//!
//! A connection that opens and then sends nothing, or half a request line,
//! costs a descriptor and a task for as long as it stays; enough of them and
//! nobody else is served. So each connection is always on a clock:
//!
//! - **head**: a new connection, and a request whose first byte has come, has
//!   the header timeout to complete its request head;
//! - **serving**: a request being read and answered has the idle timeout, far
//!   beyond any request's own deadlines, so a body that trickles in is cut off too;
//! - **idle**: between requests (an answer went out, no byte of the next one
//!   has come) a keep-alive connection waits at most the idle timeout, counted
//!   from the last byte written: an answer whose body outlasts its request (the
//!   event stream, `http::admin::events`) keeps its connection as long as it
//!   writes (its keep-alives come well within the timeout), and one whose
//!   client stops reading is cut like any idle one.
//!
//! hyper's own `header_read_timeout` starts again the moment an answer is
//! written, so on a keep-alive connection it is the idle timeout as well: one
//! setting could not both cut a slow head short and let a proxy keep its
//! connections between requests. The clock is kept here instead, around the
//! socket: the service counts requests started and answered ([`Activity`]) and
//! the socket reads those counts on its next read. Past a deadline the read
//! fails with `TimedOut`, hyper drops the connection, and the socket closes.
//!
//! The per-request cost is two counter increments, a reference count and a
//! clock read or two; the timer is set once per connection and moved only when
//! it fires early or a deadline comes nearer (a head arriving in pieces).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::telemetry::metrics::CONNECTIONS_TIMED_OUT;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
}

/// Requests of one connection started and answered, counted by its service.
#[derive(Default)]
pub(crate) struct Activity {
    started: AtomicU32,
    answered: AtomicU32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Serving,
    Idle,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Head => "head",
            Phase::Serving => "serving",
            Phase::Idle => "idle",
        }
    }
}

/// A socket that fails its reads once its connection overstays its phase.
pub(crate) struct Deadlines<T> {
    inner: T,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    phase: Phase,
    until: Instant,
    answered_seen: u32,
    timer: Pin<Box<Sleep>>,
}

impl<T> Deadlines<T> {
    /// A connection opened at `opened`: its first request head is due within
    /// the header timeout of that.
    pub(super) fn new(inner: T, activity: Arc<Activity>, timeouts: Timeouts, opened: Instant) -> Self {
        let until = opened + timeouts.header;
        Deadlines {
            inner,
            activity,
            timeouts,
            phase: Phase::Head,
            until,
            answered_seen: 0,
            timer: Box::pin(tokio::time::sleep_until(until)),
        }
    }

    fn enter(&mut self, phase: Phase, allowed: Duration) {
        self.phase = phase;
        self.until = Instant::now() + allowed;
    }

    /// Catches up with what the service did since the last read.
    fn follow_the_service(&mut self) {
        let started = self.activity.started.load(Ordering::Acquire);
        let answered = self.activity.answered.load(Ordering::Acquire);
        if started != answered {
            if self.phase != Phase::Serving {
                self.enter(Phase::Serving, self.timeouts.idle);
            }
        } else if answered != self.answered_seen || self.phase == Phase::Serving {
            self.answered_seen = answered;
            self.enter(Phase::Idle, self.timeouts.idle);
        }
    }

    /// `Ready` with an error once the phase's deadline has passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        // A timer set later than the deadline is pulled in; one set earlier
        // fires, finds time left, and is pushed out then.
        if self.timer.deadline() > self.until {
            self.timer.as_mut().reset(self.until);
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            if Instant::now() >= self.until {
                metrics::counter!(CONNECTIONS_TIMED_OUT, "phase" => self.phase.name()).increment(1);
                let message = format!("connection closed: {} timeout", self.phase.name());
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, message));
            }
            self.timer.as_mut().reset(self.until);
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadlines<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.follow_the_service();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase == Phase::Idle && buf.filled().len() > before {
                    this.enter(Phase::Head, this.timeouts.header);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }
}

impl<T> Deadlines<T> {
    /// Bytes written while idle are an answer's body still going out after
    /// its request counted as answered: the idle clock starts again from them.
    /// (An ordinary answer is written while serving: no clock read for it.)
    fn wrote(&mut self, written: &Poll<io::Result<usize>>) {
        if self.phase == Phase::Idle && matches!(written, Poll::Ready(Ok(1..))) {
            self.until = Instant::now() + self.timeouts.idle;
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadlines<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Activity {
    /// Called as the service takes a request: the returned guard counts it
    /// answered when dropped (answered, failed or abandoned alike).
    pub(super) fn start(self: &Arc<Self>) -> Answered {
        self.started.fetch_add(1, Ordering::AcqRel);
        Answered(self.clone())
    }
}

pub(super) struct Answered(Arc<Activity>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.answered.fetch_add(1, Ordering::AcqRel);
    }
}

pin_project! {
    /// A request's future, counted answered when it ends.
    pub(crate) struct Counted<F> {
        #[pin]
        inner: F,
        answered: Answered,
    }
}

impl<F> Counted<F> {
    pub(super) fn new(inner: F, answered: Answered) -> Self {
        Counted { inner, answered }
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}
