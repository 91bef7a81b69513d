//! The audit as HTTP serves it. A full audit reads every sale and every ledger
//! row; run per request, twenty callers in a loop took the connections that
//! payments wait for. So:
//! - one run at a time, on a Postgres pool of its own (one connection, wired
//!   in `startup`), so payments never wait behind it;
//! - everyone asking while a run is under way waits for that run, and a result
//!   is served again until it is older than `BOXOFFICE_AUDIT_MAX_AGE_MS`;
//! - a run goes on by itself when its callers give up, so the next ones find it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{AuditReport, Auditor};
use crate::booking::BookingError;

/// A finished run's report and when the run began.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) report: AuditReport,
    started: Instant,
}

type Outcome = Result<Arc<Checked>, Arc<BookingError>>;

#[derive(Clone)]
pub(crate) struct LatestAudit {
    inner: Arc<Inner>,
}

struct Inner {
    auditor: Auditor,
    max_age: Duration,
    runs: Mutex<Runs>,
}

#[derive(Default)]
struct Runs {
    /// The latest successful run.
    latest: Option<Arc<Checked>>,
    /// The run under way: when it began, and where its outcome will appear.
    running: Option<(Instant, watch::Receiver<Option<Outcome>>)>,
}

impl LatestAudit {
    pub(crate) fn new(auditor: Auditor, max_age: Duration) -> Self {
        LatestAudit {
            inner: Arc::new(Inner {
                auditor,
                max_age,
                runs: Mutex::new(Runs::default()),
            }),
        }
    }

    /// The latest result if it is recent enough, else the outcome of the run
    /// under way or of a new one.
    pub(crate) async fn recent(&self) -> Result<Arc<Checked>, BookingError> {
        let asked = Instant::now();
        self.begun_since(asked.checked_sub(self.inner.max_age).unwrap_or(asked), false)
            .await
    }

    /// The outcome of a run that began after this call, for whoever must know
    /// the state now (shared with everyone else asking meanwhile).
    pub(crate) async fn fresh(&self) -> Result<Arc<Checked>, BookingError> {
        self.begun_since(Instant::now(), true).await
    }

    /// A result of a run begun at `since` or later; a run under way that began
    /// earlier is waited for too unless `strictly`.
    async fn begun_since(&self, since: Instant, strictly: bool) -> Result<Arc<Checked>, BookingError> {
        loop {
            let (began, mut outcome) = {
                let mut runs = self.runs();
                if let Some(latest) = runs.latest.as_ref().filter(|latest| latest.started >= since) {
                    return Ok(latest.clone());
                }
                match &runs.running {
                    Some((began, outcome)) => (*began, outcome.clone()),
                    None => self.start(&mut runs),
                }
            };
            let finished = outcome.wait_for(Option::is_some).await.map(|seen| seen.clone());
            match finished {
                Ok(Some(_)) if strictly && began < since => continue,
                Ok(Some(Ok(checked))) => return Ok(checked),
                Ok(Some(Err(err))) => return Err(shared(&err)),
                // The run's task ended without an outcome (it cannot, short of a panic).
                _ => {
                    let mut runs = self.runs();
                    if runs.running.as_ref().is_some_and(|(_, run)| run.same_channel(&outcome)) {
                        runs.running = None;
                    }
                    return Err(BookingError::Inconsistent(
                        "the audit run stopped without an outcome".into(),
                    ));
                }
            }
        }
    }

    /// Starts a run in a task of its own; returns when it began and its outcome.
    fn start(&self, runs: &mut Runs) -> (Instant, watch::Receiver<Option<Outcome>>) {
        let began = Instant::now();
        let (publish, outcome) = watch::channel(None);
        runs.running = Some((began, outcome.clone()));
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let result = match inner.auditor.run().await {
                Ok(report) => Ok(Arc::new(Checked { report, started: began })),
                Err(err) => {
                    tracing::warn!(error = %err, "the audit could not run");
                    Err(Arc::new(err))
                }
            };
            {
                let mut runs = lock(&inner.runs);
                if let Ok(checked) = &result {
                    runs.latest = Some(checked.clone());
                }
                runs.running = None;
            }
            let _ = publish.send(Some(result));
        });
        (began, outcome)
    }

    fn runs(&self) -> MutexGuard<'_, Runs> {
        lock(&self.inner.runs)
    }
}

/// The lock is held for a few assignments and never across an await; a panic
/// while holding it leaves consistent fields, so a poisoned lock is used as is.
fn lock(runs: &Mutex<Runs>) -> MutexGuard<'_, Runs> {
    runs.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One run's failure, for each of its callers.
fn shared(err: &BookingError) -> BookingError {
    match err {
        BookingError::Redis(err) => BookingError::Redis(err.clone()),
        BookingError::PostgresGaveUp => BookingError::PostgresGaveUp,
        err if err.postgres_unreachable() => BookingError::PostgresDown,
        other => BookingError::Inconsistent(format!("the audit failed: {other}")),
    }
}
