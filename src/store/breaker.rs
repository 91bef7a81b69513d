//! A circuit breaker per dependency. A dependency known to be down is answered
//! with 503 at once, instead of every request waiting out its own timeout.
//!
//! A background probe (see `background.rs`) asks each dependency every half
//! second, with a short timeout, and opens or closes its breaker (`probe.rs`).
//! While a breaker is open, nothing is sent to that dependency, so a 503 it
//! causes always means "nothing happened".
//!
//! Opening wakes every request still waiting on the dependency (a Postgres
//! connection from the pool, say), so that those are answered at once too
//! instead of each waiting out its own timeout; and the moment of the last
//! opening is kept, so that a connection that sat idle through an outage is not
//! trusted with a statement afterwards (`db.rs`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::Dependency;

/// Refused at once: the dependency is known to be down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} is down", .0.name())]
pub(crate) struct Open(pub(crate) Dependency);

/// The breaker opened or closed, at that moment: for the
/// `dependency.breaker_changed` events (`events/breakers.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) dependency: Dependency,
    pub(crate) open: bool,
    pub(crate) at: DateTime<Utc>,
}

/// The most changes kept for the events while they cannot be written (a
/// breaker flapping through a long outage); the oldest go first.
const CHANGES_KEPT: usize = 1_000;

pub(crate) struct Breaker {
    dependency: Dependency,
    /// Changes not yet written as events.
    changes: Mutex<VecDeque<Change>>,
    open: AtomicBool,
    opened: Notify,
    /// When it last opened, in nanoseconds after `since` (0: never).
    last_opened: AtomicU64,
    since: Instant,
}

impl Breaker {
    pub(crate) fn new(dependency: Dependency) -> Self {
        Breaker {
            dependency,
            changes: Mutex::new(VecDeque::new()),
            open: AtomicBool::new(false),
            opened: Notify::new(),
            last_opened: AtomicU64::new(0),
            since: Instant::now(),
        }
    }

    /// Resolves when the breaker next opens. Enable it (`Notified::enable`)
    /// before calling [`Breaker::check`], so that an opening in between is not missed.
    pub(crate) fn opening(&self) -> Notified<'_> {
        self.opened.notified()
    }

    /// Whether the breaker has opened since `moment`.
    pub(crate) fn opened_since(&self, moment: Instant) -> bool {
        let last = self.last_opened.load(Ordering::Acquire);
        last != 0 && moment.saturating_duration_since(self.since).as_nanos() < u128::from(last)
    }

    /// `Ok` while the dependency is believed up: one atomic load.
    pub(crate) fn check(&self) -> Result<(), Open> {
        if self.open.load(Ordering::Relaxed) {
            Err(Open(self.dependency))
        } else {
            Ok(())
        }
    }

    /// The dependency failed to answer: refuse its work until a probe succeeds.
    pub(crate) fn trip(&self) {
        if !self.open.swap(true, Ordering::AcqRel) {
            let nanos = u64::try_from(self.since.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .max(1);
            self.last_opened.store(nanos, Ordering::Release);
            self.opened.notify_waiters();
            self.changed(true);
            tracing::warn!(
                dependency = self.dependency.name(),
                "dependency down: answering 503 at once until it is back"
            );
        }
    }

    /// A probe got an answer.
    pub(crate) fn close(&self) {
        if self.open.swap(false, Ordering::AcqRel) {
            self.changed(false);
            tracing::info!(dependency = self.dependency.name(), "dependency back");
        }
    }

    fn changed(&self, open: bool) {
        let mut changes = self.changes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if changes.len() == CHANGES_KEPT {
            changes.pop_front();
        }
        changes.push_back(Change {
            dependency: self.dependency,
            open,
            at: Utc::now(),
        });
    }

    /// The changes not yet written as events, oldest first; they are the
    /// caller's now.
    pub(crate) fn take_changes(&self) -> Vec<Change> {
        let mut changes = self.changes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        changes.drain(..).collect()
    }

    /// Changes taken and not written, back before any made since.
    pub(crate) fn put_back(&self, taken: Vec<Change>) {
        let mut changes = self.changes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for change in taken.into_iter().rev() {
            if changes.len() == CHANGES_KEPT {
                break;
            }
            changes.push_front(change);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn opening_wakes_whoever_waits_and_is_remembered() {
        let breaker = Breaker::new(Dependency::Postgres);
        let before = Instant::now();
        let mut opening = std::pin::pin!(breaker.opening());
        opening.as_mut().enable();
        assert!(breaker.check().is_ok());
        assert!(!breaker.opened_since(before), "never opened");
        breaker.trip();
        tokio::time::timeout(Duration::from_secs(1), opening)
            .await
            .expect("the waiter is woken");
        assert!(breaker.opened_since(before));
        assert!(!breaker.opened_since(Instant::now()), "nothing since");
        breaker.close();
        assert!(breaker.check().is_ok());
    }
}
