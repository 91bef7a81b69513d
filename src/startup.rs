//! Building and running the application: the one place that wires stores,
//! services, background chores and HTTP together. Tests use it exactly like
//! `main` does, on port 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::background;
use crate::booking::{Auditor, Balances, Catalog, CatalogEditor, Checkout, Holds, LatestAudit, Reconciler, SoldSeats};
use crate::config::Config;
use crate::http::client_ip::TrustedProxies;
use crate::http::connections::{self, Caps, Timeouts};
use crate::http::limits::RateLimits;
use crate::http::shedding::ShedLayer;
use crate::http::views::LocalClock;
use crate::http::{self, AppContext, AppState};
use crate::identity::IdentityVerifier;
use crate::queue::rates::MeasuredRates;
use crate::queue::{BookingHealth, Gate, Line, Scheduler, Settings, TokenSigner};
use crate::store::breaker::Breaker;
use crate::store::db::{Db, Deadlines};
use crate::store::keys::Keys;
use crate::store::probe::Probes;
use crate::store::redis::Redis;
use crate::store::scripts::library;
use crate::store::{db, seed, Dependency};
use crate::users::UserDirectory;

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Creates and migrates the database, inserts the demo data when it is empty,
    /// loads what is kept in memory, wires the services, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        if config.uses_development_secret() {
            tracing::warn!(
                "!!! BOXOFFICE_TOKEN_SECRET is not set: queue tokens are signed with the public development \
                 secret and can be forged. Set it before serving real users. !!!"
            );
        }
        crate::telemetry::metrics::handle();
        db::create_database_if_missing(&config.database_url).await?;
        // Migrations, demo data and the in-memory copies' reloads may take longer
        // than a request's statement may: they get a small pool of their own.
        let background_pool = db::pool(&config, 2, Deadlines::None, None)?;
        db::migrate(&background_pool).await?;
        if config.demo_data {
            seed::insert_demo_data_if_empty(&background_pool).await?;
        }
        let breaker = Arc::new(Breaker::new(Dependency::Postgres));
        let pool = db::pool(&config, config.db_max_connections, Deadlines::Serving, Some(&breaker))?;
        let database = Db::new(pool.clone(), breaker, config.db_statement_timeout_ms);

        let redis =
            Redis::open(&config.redis_url, &config.redis_cluster).context("REDIS_URL is not a valid Redis URL")?;
        match redis.connection().await {
            Ok(mut connection) => library::load(&mut connection)
                .await
                .context("loading the Lua library into Redis (FUNCTION LOAD needs Redis 7 or later)")?,
            // Redis may come later; the library loads itself on first use.
            Err(err) => tracing::warn!(error = %err, "Redis is not reachable yet"),
        }

        let users = Arc::new(UserDirectory::default());
        users.reload(&background_pool).await?;
        let keys = Keys::new(&config.redis_prefix);
        let signer = TokenSigner::new(config.token_secret.as_bytes());
        let queue_config = Arc::new(config.queue.clone());
        let booking_config = Arc::new(config.booking.clone());
        let rates = Arc::new(MeasuredRates::default());

        let line = Line::new(
            redis.clone(),
            keys.clone(),
            signer.clone(),
            users.clone(),
            rates.clone(),
            queue_config.clone(),
        );
        let queue_config_for_settings = queue_config.clone();
        let scheduler = Scheduler::new(redis.clone(), keys.clone(), rates, queue_config);
        let gate = Gate::new(redis.clone(), keys.clone(), signer);
        let settings = Settings::new(database.clone(), redis.clone(), keys.clone(), queue_config_for_settings);
        let booking_health = Arc::new(BookingHealth::new(redis.clone(), keys.clone()));
        let catalog = Catalog::new(background_pool.clone());
        catalog.reload().await?;
        let sold = SoldSeats::new(database.clone(), redis.clone(), keys.clone());
        let holds = Holds::new(
            redis.clone(),
            keys.clone(),
            sold.clone(),
            users.clone(),
            booking_config.clone(),
        );
        let balances = Balances::new(database.clone(), users.clone(), booking_config);
        let checkout = Checkout::new(
            database.clone(),
            catalog.clone(),
            holds.clone(),
            sold.clone(),
            gate.clone(),
            users.clone(),
        );
        // The audit reads every sale and ledger row: a pool of its own, one
        // connection, so payments never wait behind it; a run is bounded by how
        // long a request may wait for it.
        let audit_db = Db::new(
            db::pool(&config, 1, Deadlines::None, None)?,
            database.breaker().clone(),
            config.db_statement_timeout_ms,
        );
        let auditor = Auditor::new(
            audit_db,
            redis.clone(),
            keys.clone(),
            catalog.clone(),
            Some(Duration::from_millis(config.request_timeout_ms)),
        );
        let audit = LatestAudit::new(auditor, Duration::from_millis(config.audit_max_age_ms));
        let reconciler = Reconciler::new(database.clone(), redis.clone(), keys.clone(), sold.clone());
        let catalog_editor = CatalogEditor::new(database.clone(), redis.clone(), keys, catalog.clone());

        let probes = Probes::new(&redis, &database, &config.database_url);
        let listener = TcpListener::bind(&config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let state = AppState::new(AppContext {
            clock: LocalClock(config.timezone),
            identity: IdentityVerifier::from_config(&config.identity)?,
            limits: RateLimits::new(&config.queue, &config.limits),
            shed: ShedLayer::new(&config.limits),
            trusted_proxies: TrustedProxies::parse(&config.limits.trusted_proxies)?,
            config: Arc::new(config),
            db: pool,
            background_db: background_pool,
            redis,
            users,
            line,
            scheduler,
            gate,
            settings,
            booking_health,
            catalog,
            catalog_editor,
            sold,
            holds,
            balances,
            checkout,
            audit,
            reconciler,
            probes,
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
    /// stops the background chores.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut chores = background::spawn(&self.state, stop_rx);
        // Shedding sits outside everything, so that a refusal costs next to nothing.
        let app = self
            .state
            .shed
            .clone()
            .layer(NormalizePathLayer::trim_trailing_slash().layer(http::router(self.state.clone())));
        let limits = &self.state.config.connections;
        let caps = Arc::new(Caps::new(
            limits,
            self.state.config.db_max_connections,
            self.state.trusted_proxies.clone(),
        ));
        let timeouts = Timeouts {
            header: Duration::from_millis(limits.header_timeout_ms),
            idle: Duration::from_secs(limits.idle_connection_timeout_s),
        };
        tracing::info!(
            addr = %self.listener.local_addr()?,
            max_connections = caps.max(),
            "boxoffice listening"
        );
        connections::serve(self.listener, app, caps, timeouts, shutdown).await;
        let _ = stop_tx.send(true);
        while chores.join_next().await.is_some() {}
        tracing::info!("boxoffice stopped");
        Ok(())
    }
}

/// The queue's services alone, wired as [`Application::build`] wires them, for
/// tools that drive the queue without HTTP (`examples/queue_bench.rs`).
pub struct QueueTools {
    pub line: Line,
    pub scheduler: Scheduler,
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
        Ok(QueueTools {
            line: Line::new(
                redis.clone(),
                keys.clone(),
                signer,
                users,
                rates.clone(),
                queue_config.clone(),
            ),
            scheduler: Scheduler::new(redis, keys, rates, queue_config),
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
