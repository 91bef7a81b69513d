//! The chores an instance runs beside serving requests, each a named task on
//! its own interval. A new chore is one more line in [`spawn`]. They drive the
//! services alone; HTTP's own upkeep is added beside them in `startup`.
//!
//! None of them is needed for correctness within a request: they keep the
//! in-process copies (users, catalog, measured rates) current, run admission,
//! and tidy what would otherwise only grow.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::app::Services;
use crate::booking::{idempotency, reconcile};
use crate::events;
use crate::queue::adaptive;
use crate::store::probe::PROBE_EVERY;
use crate::telemetry::otel;

/// The least time a chore's pass is given before it is dropped (a longer
/// period gives more): beyond any statement or Redis deadline, so only a pass
/// waiting on an answer that will never come reaches it.
const PASS_BOUND: Duration = Duration::from_secs(30);

/// Starts every chore of the services on `chores`.
pub(crate) fn spawn(state: &Arc<Services>, chores: &mut Chores) {
    let queue = &state.config.queue;
    if queue.run_scheduler {
        let tick = Duration::from_millis(queue.admit_tick_ms.max(10));
        chores.every_from_start("admission", tick, state, |state| async move {
            for name in state.catalog.queue_names(&state.config.queue.default_queue) {
                match state.scheduler.admit_once(&name).await {
                    Ok(step) if step.admitted + step.expired + step.abandoned > 0 => {
                        tracing::debug!(queue = name, ?step, "admission step");
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(queue = name, error = %err, "admission step failed"),
                }
            }
            Ok(())
        });
    }
    chores.every("measured rates", Duration::from_secs(1), state, |state| async move {
        let queues = state.catalog.queue_names(&state.config.queue.default_queue);
        Ok(state.scheduler.refresh_rates(&queues).await?)
    });
    // Booking latency for adaptive admission, gathered across instances in Redis.
    chores.every("booking health", adaptive::REPORT_EVERY, state, |state| async move {
        Ok(state.booking_health.report().await?)
    });
    chores.every("new users", Duration::from_secs(1), state, |state| async move {
        state
            .users
            .refresh(&state.background_db)
            .instrument(otel::chore("users.refresh"))
            .await?;
        Ok(())
    });
    // Catches an insert that committed out of id order, which `new users` skips.
    chores.every("all users", Duration::from_secs(600), state, |state| async move {
        state
            .users
            .reload(&state.background_db)
            .instrument(otel::chore("users.reload"))
            .await?;
        Ok(())
    });
    chores.every("catalog", Duration::from_secs(30), state, |state| async move {
        Ok(state.catalog.reload().instrument(otel::chore("catalog.reload")).await?)
    });
    // A concert created on any instance is announced by a version counter in
    // Redis: every instance picks it up within a second.
    let seen = Arc::new(AtomicI64::new(0));
    chores.every("catalog changes", Duration::from_secs(1), state, move |state| {
        let seen = seen.clone();
        async move {
            let version = state.catalog_editor.version().await?;
            if seen.swap(version, Ordering::AcqRel) != version {
                state.catalog.reload().instrument(otel::chore("catalog.reload")).await?;
            }
            Ok(())
        }
    });
    // Live settings Redis lost (or holds an older version of) are written
    // again from Postgres; at start too, for a Redis that lost them meanwhile.
    chores.every_from_start(
        "settings into Redis",
        Duration::from_secs(1),
        state,
        |state| async move {
            let queues = state.catalog.queue_names(&state.config.queue.default_queue);
            state
                .settings
                .restore(&queues)
                .instrument(otel::chore("settings.restore"))
                .await?;
            Ok(())
        },
    );
    // Committed events get their public ids (`events/sequencer.rs` says why
    // not at insert); one instance's pass at a time.
    chores.every("event ids", events::SEQUENCE_EVERY, state, |state| async move {
        state
            .sequencer
            .sequence_once()
            .instrument(otel::chore("events.sequence"))
            .await?;
        Ok(())
    });
    // The events born in the queues' and schedules' scripts, into Postgres
    // (`events/drain.rs`).
    chores.every("queue events", events::DRAIN_EVERY, state, |state| async move {
        let queues = state.catalog.queue_names(&state.config.queue.default_queue);
        let schedules: Vec<i64> = state
            .catalog
            .snapshot()
            .schedules()
            .map(|schedule| schedule.id)
            .collect();
        state
            .drain
            .drain_once(&queues, &schedules)
            .instrument(otel::chore("events.drain"))
            .await?;
        Ok(())
    });
    // This instance's joins, polls, admissions and departures of the last
    // second, one `queue.counts` event per queue.
    chores.every("queue counts", Duration::from_secs(1), state, |state| async move {
        state
            .counts
            .write(chrono::Utc::now().timestamp())
            .instrument(otel::chore("events.counts"))
            .await?;
        Ok(())
    });
    // This instance's breakers opening and closing, as events.
    chores.every("breaker events", Duration::from_secs(1), state, |state| async move {
        state
            .breaker_events
            .write_once()
            .instrument(otel::chore("events.breakers"))
            .await?;
        Ok(())
    });
    // Webhook deliveries: owed, claimed, sent, retried (`events/webhooks/`).
    chores.every(
        "webhook deliveries",
        events::webhooks::DELIVER_EVERY,
        state,
        |state| async move {
            let round = state
                .courier
                .deliver_once()
                .instrument(otel::chore("webhooks.deliver"))
                .await?;
            if round.sent > 0 {
                tracing::debug!(?round, "webhook deliveries");
            }
            Ok(())
        },
    );
    chores.every("lapsed holds", Duration::from_secs(30), state, |state| async move {
        state.holds.sweep(&state.catalog.snapshot()).await?;
        Ok(())
    });
    chores.every(
        "old idempotency keys",
        Duration::from_secs(3600),
        state,
        |state| async move {
            idempotency::purge_expired(&state.background_db).await?;
            Ok(())
        },
    );
    if state.config.reconcile_interval_ms > 0 {
        chores.every(
            "recent sales into Redis",
            reconcile::RECENT_EVERY,
            state,
            |state| async move {
                state.reconciler.recent_sales().await?;
                Ok(())
            },
        );
        let every = Duration::from_millis(state.config.reconcile_interval_ms);
        chores.every_from_start("sold sets against Postgres", every, state, |state| async move {
            state.reconciler.full_pass(&state.catalog.snapshot()).await?;
            Ok(())
        });
    }
    // Passes ended through another instance are refused here within a second.
    chores.every_from_start(
        "ended passes",
        crate::pass::revocation::FOLLOW_EVERY,
        state,
        |state| async move {
            state.passes.follow_revocations().await?;
            let (verified, ended) = state.passes.held();
            metrics::gauge!(crate::telemetry::metrics::PASSES_VERIFIED_HELD).set(verified as f64);
            metrics::gauge!(crate::telemetry::metrics::PASSES_ENDED_HELD).set(ended as f64);
            Ok(())
        },
    );
    // Sessions the check renewed reach the active sets, in one batch a queue.
    chores.every("sliding sessions", Duration::from_secs(1), state, |state| async move {
        state.sessions.write().await?;
        Ok(())
    });
    chores.every("metrics upkeep", Duration::from_secs(5), state, |_| async move {
        crate::telemetry::metrics::handle().run_upkeep();
        Ok(())
    });
    chores.every_from_start("dependency probes", PROBE_EVERY, state, |state| async move {
        state.probes.run_once().await;
        Ok(())
    });
    // An OIDC provider's keys, fetched again when due (`identity/provider.rs`):
    // at once at start, then every BOXOFFICE_IDENTITY_JWKS_REFRESH_S.
    chores.every_from_start("identity keys", Duration::from_secs(1), state, |state| async move {
        state.identity.refresh_keys_if_due();
        Ok(())
    });
    // Between the rounds: Postgres ending its connections is noticed at once.
    let (watching, stop) = (state.clone(), chores.stop.clone());
    chores
        .tasks
        .spawn(async move { watching.probes.watch_postgres(stop).await });
}

/// The running chores; each stops when `stop` changes.
pub(crate) struct Chores {
    tasks: JoinSet<()>,
    stop: watch::Receiver<bool>,
}

impl Chores {
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Self {
        Chores {
            tasks: JoinSet::new(),
            stop,
        }
    }

    /// Waits until every chore has stopped.
    pub(crate) async fn join_all(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Runs `step` every `period`, the first time one period after start.
    pub(crate) fn every<S, F, Fut>(&mut self, name: &'static str, period: Duration, state: &S, step: F)
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.spawn(name, period, false, state, step);
    }

    /// Runs `step` at once, then every `period`.
    pub(crate) fn every_from_start<S, F, Fut>(&mut self, name: &'static str, period: Duration, state: &S, step: F)
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.spawn(name, period, true, state, step);
    }

    fn spawn<S, F, Fut>(&mut self, name: &'static str, period: Duration, at_once: bool, state: &S, step: F)
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (state, mut stop) = (state.clone(), self.stop.clone());
        self.tasks.spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            if !at_once {
                ticker.reset();
            }
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = ticker.tick() => {}
                }
                // A pass that waits on a reply lost for good (a link that
                // dropped it) would stop the chore, and with it whatever it
                // keeps converging; it is given up after its bound, and a stop
                // does not wait for it.
                tokio::select! {
                    _ = stop.changed() => return,
                    pass = tokio::time::timeout(period.max(PASS_BOUND), step(state.clone())) => match pass {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => tracing::warn!(chore = name, error = %err, "background chore failed"),
                        Err(_) => tracing::warn!(chore = name, bound = ?period.max(PASS_BOUND), "background chore gave up a pass"),
                    },
                }
            }
        });
    }
}
