//! Building and running the application: the one place that wires stores,
//! services, background work and HTTP together. Tests use it exactly like
//! `main` does, on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use axum::serve::ListenerExt;
use axum::ServiceExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::booking::{idempotency, BookingService};
use crate::config::Config;
use crate::http::limits::JoinLimiter;
use crate::http::views::LocalClock;
use crate::http::{self, AppContext, AppState};
use crate::queue::{QueueService, TokenSigner};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::{db, scripts, seed};
use crate::users::UserDirectory;

/// How often the in-memory users and catalog catch up with Postgres.
const USERS_REFRESH: Duration = Duration::from_secs(1);
const FULL_RELOAD: Duration = Duration::from_secs(600);
const CATALOG_RELOAD: Duration = Duration::from_secs(30);
const HOLD_SWEEP: Duration = Duration::from_secs(30);
const HOUSEKEEPING: Duration = Duration::from_secs(3600);

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Creates and migrates the database, inserts the demo data when it is empty,
    /// loads what is kept in memory, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        if config.uses_development_secret() {
            tracing::warn!(
                "!!! BOXOFFICE_TOKEN_SECRET is not set: queue tokens are signed with the public development \
                 secret and can be forged. Set it before serving real users. !!!"
            );
        }
        db::create_database_if_missing(&config.database_url).await?;
        let pool = db::pool(
            &config.database_url,
            config.db_max_connections,
            config.db_acquire_timeout_ms,
        )?;
        db::migrate(&pool).await?;
        if config.demo_data {
            seed::insert_demo_data_if_empty(&pool).await?;
        }

        let redis = Redis::open(&config.redis_url).context("REDIS_URL is not a valid Redis URL")?;
        match redis.connection().await {
            Ok(mut connection) => scripts::load_all(&mut connection).await?,
            // Redis may come later; scripts load themselves on first use.
            Err(err) => tracing::warn!(error = %err, "Redis is not reachable yet"),
        }

        let users = Arc::new(UserDirectory::default());
        users.reload(&pool).await?;
        let keys = Keys::new(&config.redis_prefix);
        let signer = TokenSigner::new(config.token_secret.as_bytes());
        let queue = QueueService::new(redis.clone(), keys.clone(), signer, users.clone(), config.queue.clone());
        let booking = BookingService::new(
            pool.clone(),
            redis.clone(),
            keys,
            users.clone(),
            queue.clone(),
            config.booking.clone(),
        );
        booking.reload_catalog().await?;

        let listener = TcpListener::bind(&config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let state = AppState::new(AppContext {
            clock: LocalClock(config.timezone),
            join_limiter: Arc::new(JoinLimiter::new(config.queue.join_rate_limit)),
            config: Arc::new(config),
            db: pool,
            redis,
            users,
            queue,
            booking,
        });
        Ok(Application { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|addr| addr.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish and
    /// stops the background tasks.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut background = spawn_background(&self.state, stop_rx);
        let app = NormalizePathLayer::trim_trailing_slash().layer(http::router(self.state.clone()));
        tracing::info!(addr = %self.listener.local_addr()?, "boxoffice listening");
        // Answers are small and go out in one write: Nagle would only hold them back.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(error = %err, "could not set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        let _ = stop_tx.send(true);
        while background.join_next().await.is_some() {}
        tracing::info!("boxoffice stopped");
        Ok(())
    }
}

fn spawn_background(state: &AppState, stop: watch::Receiver<bool>) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    if state.config.queue.run_scheduler {
        let for_scheduler = state.clone();
        let queues = move || queue_names(&for_scheduler);
        tasks.spawn(state.queue.clone().run_admission(queues, stop.clone()));
    }
    tasks.spawn(housekeeping(state.clone(), stop));
    tasks
}

/// Every queue: the default one and one per concert code.
fn queue_names(state: &AppState) -> Vec<String> {
    let mut names = vec![state.config.queue.default_queue.clone()];
    names.extend(state.booking.catalog().concerts().map(|concert| concert.code.clone()));
    names
}

/// Keeps the in-memory copies current and tidies what correctness does not need.
async fn housekeeping(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut users_tick = tokio::time::interval(USERS_REFRESH);
    let mut reload_tick = tokio::time::interval(FULL_RELOAD);
    let mut catalog_tick = tokio::time::interval(CATALOG_RELOAD);
    let mut sweep_tick = tokio::time::interval(HOLD_SWEEP);
    let mut hourly = tokio::time::interval(HOUSEKEEPING);
    for tick in [
        &mut users_tick,
        &mut reload_tick,
        &mut catalog_tick,
        &mut sweep_tick,
        &mut hourly,
    ] {
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
    }
    loop {
        let outcome = tokio::select! {
            _ = stop.changed() => return,
            _ = users_tick.tick() => {
                let queues = queue_names(&state);
                if let Err(err) = state.queue.refresh_rates(&queues).await {
                    tracing::debug!(error = %err, "could not refresh admission rates");
                }
                state.users.refresh(&state.db).await.map(drop).map_err(anyhow::Error::from)
            }
            _ = reload_tick.tick() => state.users.reload(&state.db).await.map(drop).map_err(anyhow::Error::from),
            _ = catalog_tick.tick() => state.booking.reload_catalog().await.map_err(anyhow::Error::from),
            _ = sweep_tick.tick() => state.booking.sweep_holds().await.map(drop).map_err(anyhow::Error::from),
            _ = hourly.tick() => {
                state.join_limiter.forget_idle();
                idempotency::purge_expired(&state.db).await.map(drop).map_err(anyhow::Error::from)
            }
        };
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "housekeeping step failed");
        }
    }
}
