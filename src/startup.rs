//! Building and running the application: the one place that wires stores,
//! services, background chores and HTTP together. Tests use it exactly like
//! `main` does, on port 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::Instrument;

use crate::app::Services;
use crate::background::{self, Chores};
use crate::config::Config;
use crate::events::QueueCounts;
use crate::http::{self, AppState};
use crate::queue::rates::MeasuredRates;
use crate::queue::settings::Snapshot as SettingsSnapshot;
use crate::queue::{Challenges, Line, Scheduler, TokenSigner};
use crate::store::db::{self, Deadlines};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::telemetry::otel;
use crate::users::UserDirectory;

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Builds the services ([`Services::build`]), wraps them for HTTP and
    /// binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let addr = config.addr.clone();
        // One trace for start-up's loads (users, catalog, settings), so that no
        // statement's span is a trace of its own.
        let services = Arc::new(Services::build(config).instrument(otel::chore("startup")).await?);
        let state = AppState::new(services.clone(), &services.config)?;
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Application { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|addr| addr.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish and
    /// stops the background chores.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut chores = Chores::new(stop_rx);
        background::spawn(self.state.services(), &mut chores);
        // HTTP's own upkeep: the per-client limiters forget clients gone quiet,
        // bounding their memory.
        chores.every(
            "idle limiter keys",
            Duration::from_secs(3600),
            &self.state,
            |state| async move {
                state.limits.forget_idle();
                Ok(())
            },
        );
        let served = http::serve(self.listener, self.state, shutdown).await;
        let _ = stop_tx.send(true);
        chores.join_all().await;
        tracing::info!("boxoffice stopped");
        served
    }
}

/// The queue's services alone, wired as [`Application::build`] wires them, for
/// tools that drive the queue without HTTP (`examples/queue_bench.rs`).
pub struct QueueTools {
    pub line: Line,
    pub scheduler: Scheduler,
    /// Issues and checks challenges as the server does (the same secret).
    pub challenges: Challenges,
}

impl QueueTools {
    /// Connects to the configured stores; `with_users` loads the user
    /// directory from Postgres (joining needs it, admission does not).
    pub async fn connect(config: &Config, with_users: bool) -> anyhow::Result<Self> {
        let redis =
            Redis::open(&config.redis_url, &config.redis_cluster).context("REDIS_URL is not a valid Redis URL")?;
        let users = Arc::new(UserDirectory::default());
        if with_users {
            let pool = db::pool(config, 2, Deadlines::None, None)?;
            users.reload(&pool).await?;
        }
        let keys = Keys::new(&config.redis_prefix);
        let queue_config = Arc::new(config.queue.clone());
        let rates = Arc::new(MeasuredRates::default());
        let signer = TokenSigner::new(config.token_secret.as_bytes());
        let challenges = Challenges::new(config.token_secret.as_bytes(), config.queue.challenge_ttl_s);
        Ok(QueueTools {
            challenges,
            line: Line::new(
                redis.clone(),
                keys.clone(),
                signer,
                users,
                rates.clone(),
                queue_config.clone(),
                // The tools join as the configuration says; no live settings.
                SettingsSnapshot::new(&queue_config),
            ),
            scheduler: Scheduler::new(
                redis,
                keys,
                rates,
                queue_config.clone(),
                SettingsSnapshot::new(&queue_config),
                QueueCounts::default(),
            ),
        })
    }
}

/// One clear line, not a stack trace, when a dependency is missing.
pub async fn preflight(config: &Config) -> Result<(), String> {
    let hint = "start the local services with `./scripts/services.sh`";
    let redis =
        Redis::open(&config.redis_url, &config.redis_cluster).map_err(|err| format!("REDIS_URL is invalid: {err}"))?;
    redis
        .ping()
        .await
        .map_err(|err| format!("cannot reach Redis at {} ({err}); {hint}", config.redis_url))?;
    db::create_database_if_missing(&config.database_url)
        .await
        .map_err(|err| format!("cannot reach Postgres at {} ({err:#}); {hint}", config.database_url))
}
