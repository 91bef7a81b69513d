//! A circuit breaker per dependency. A dependency known to be down is answered
//! with 503 at once, instead of every request waiting out its own timeout.
//!
//! A background probe (see `background.rs`) asks each dependency every half
//! second, with a short timeout, and opens or closes its breaker; a request that
//! meets a connection failure opens it too, without waiting for the probe. While
//! a breaker is open, nothing is sent to that dependency, so a 503 it causes
//! always means "nothing happened".

use std::sync::atomic::{AtomicBool, Ordering};

use super::Dependency;

/// Refused at once: the dependency is known to be down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} is down", .0.name())]
pub(crate) struct Open(pub(crate) Dependency);

pub(crate) struct Breaker {
    dependency: Dependency,
    open: AtomicBool,
}

impl Breaker {
    pub(crate) fn new(dependency: Dependency) -> Self {
        Breaker {
            dependency,
            open: AtomicBool::new(false),
        }
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
            tracing::warn!(
                dependency = self.dependency.name(),
                "dependency down: answering 503 at once until it is back"
            );
        }
    }

    /// A probe got an answer.
    pub(crate) fn close(&self) {
        if self.open.swap(false, Ordering::AcqRel) {
            tracing::info!(dependency = self.dependency.name(), "dependency back");
        }
    }
}
