//! The application's services, each built once, here, and shared by whatever
//! drives them: HTTP (`crate::http` wraps them in its own state) and the
//! background chores (`crate::background`). Nothing here knows about HTTP.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;

use crate::booking::{Auditor, Balances, Catalog, CatalogEditor, Checkout, Holds, LatestAudit, Reconciler, SoldSeats};
use crate::config::Config;
use crate::events::report::Reports;
use crate::events::webhooks::{Courier, Webhooks};
use crate::events::{BreakerEvents, CountWriter, Drain, EventLog, QueueCounts, Sequencer};
use crate::identity::IdentityVerifier;
use crate::local_time::LocalClock;
use crate::pass::{PassKeys, Passes};
use crate::queue::rates::MeasuredRates;
use crate::queue::{
    BookingHealth, Challenges, Gate, Invitations, Line, Scheduler, SessionActivity, Settings, TokenSigner, Visitors,
};
use crate::store::breaker::Breaker;
use crate::store::db::{Db, Deadlines};
use crate::store::keys::Keys;
use crate::store::probe::Probes;
use crate::store::redis::Redis;
use crate::store::scripts::library;
use crate::store::{db, seed, Dependency};
use crate::users::UserDirectory;

/// Every service, wired to the others once. Public are the ones tests and the
/// tools in `examples/` drive directly (the stores, the line, the scheduler).
pub struct Services {
    pub(crate) config: Arc<Config>,
    /// The serving pool (request deadlines apply) as it was made; tests query through it.
    pub db: PgPool,
    /// The same behind its breaker, as the services use it (and replace it: `store::renewal`).
    pub(crate) database: Db,
    /// For the in-memory copies' reloads, which may take longer than a request.
    pub(crate) background_db: PgPool,
    pub redis: Redis,
    pub users: Arc<UserDirectory>,
    pub line: Line,
    pub scheduler: Scheduler,
    pub(crate) gate: Gate,
    pub(crate) settings: Settings,
    pub(crate) invitations: Invitations,
    pub(crate) challenges: Challenges,
    pub(crate) booking_health: Arc<BookingHealth>,
    pub(crate) catalog: Catalog,
    pub(crate) catalog_editor: CatalogEditor,
    pub(crate) sold: SoldSeats,
    pub(crate) holds: Holds,
    pub(crate) balances: Balances,
    pub(crate) checkout: Checkout,
    pub(crate) events: EventLog,
    pub(crate) sequencer: Sequencer,
    pub(crate) drain: Drain,
    pub(crate) reports: Reports,
    pub(crate) breaker_events: BreakerEvents,
    pub(crate) counts: CountWriter,
    pub(crate) webhooks: Webhooks,
    pub(crate) courier: Courier,
    pub(crate) audit: LatestAudit,
    pub(crate) reconciler: Reconciler,
    pub(crate) probes: Probes,
    pub(crate) clock: LocalClock,
    pub(crate) identity: IdentityVerifier,
    pub(crate) passes: Passes,
    pub(crate) visitors: Visitors,
    pub(crate) sessions: SessionActivity,
}

impl Services {
    /// One full pass of the sold sets against Postgres, the step the
    /// background chore repeats, for tests and tools to drive: the seats it
    /// added to and removed from the sold sets.
    pub async fn reconcile_sold_sets(&self) -> anyhow::Result<(u64, u64)> {
        let healed = self.reconciler.full_pass(&self.catalog.snapshot()).await?;
        Ok((healed.added, healed.removed))
    }

    /// One sweep of every schedule's lapsed holds, the step the background
    /// chore repeats every 30 s, for tests and tools to drive: the holds removed.
    pub async fn sweep_lapsed_holds(&self) -> anyhow::Result<u64> {
        Ok(self.holds.sweep(&self.catalog.snapshot()).await?)
    }

    /// Creates and migrates the database, inserts the demo data when it is
    /// empty, loads what is kept in memory, and wires the services.
    pub(crate) async fn build(config: Config) -> anyhow::Result<Self> {
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

        let settings = Settings::new(database.clone(), redis.clone(), keys.clone(), queue_config.clone());
        let invitations = Invitations::new(database.clone());
        let challenges = Challenges::new(config.token_secret.as_bytes(), config.queue.challenge_ttl_s);
        // Joins, polls, admissions and departures this instance answered, per
        // queue and second (`queue.counts`).
        let counts = QueueCounts::default();
        let line = Line::new(
            redis.clone(),
            keys.clone(),
            signer.clone(),
            users.clone(),
            rates.clone(),
            queue_config.clone(),
            settings.snapshot(),
        )
        .counting(counts.clone());
        let scheduler = Scheduler::new(
            redis.clone(),
            keys.clone(),
            rates,
            queue_config,
            settings.snapshot(),
            counts.clone(),
        );
        let gate = Gate::new(redis.clone(), keys.clone(), signer);
        let booking_health = Arc::new(BookingHealth::new(redis.clone(), keys.clone()));
        let catalog = Catalog::new(background_pool.clone());
        catalog.reload().await?;
        // Joins follow each queue's settings as this instance holds them:
        // read them before the first join is served.
        settings
            .refresh(&catalog.queue_names(&config.queue.default_queue))
            .await?;
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
        let catalog_editor = CatalogEditor::new(database.clone(), redis.clone(), keys.clone(), catalog.clone());
        let probes = Probes::new(&redis, &database, &config.database_url);
        let visitors = Visitors::new(redis.clone(), keys.clone(), counts.clone());
        let sessions = SessionActivity::new(redis.clone(), keys.clone());
        let passes = Passes::new(&config.pass, PassKeys::from_config(&config.pass)?, redis.clone(), &keys);

        let courier = Courier::new(database.clone(), &config.webhooks)?;
        let drain = Drain::new(database.clone(), redis.clone(), keys.clone());
        let breaker_events = BreakerEvents::new(
            database.clone(),
            vec![redis.breaker().clone(), database.breaker().clone()],
            instance_name(&config.addr),
        );

        Ok(Services {
            clock: LocalClock(config.timezone),
            identity: IdentityVerifier::from_config(&config.identity)?,
            config: Arc::new(config),
            db: pool,
            database: database.clone(),
            background_db: background_pool,
            redis,
            users,
            line,
            scheduler,
            gate,
            settings,
            invitations,
            challenges,
            booking_health,
            catalog,
            catalog_editor,
            sold,
            holds,
            balances,
            checkout,
            events: EventLog::new(database.clone()),
            sequencer: Sequencer::new(database.clone()),
            drain,
            reports: Reports::new(database.clone()),
            breaker_events,
            counts: CountWriter::new(counts, database.clone()),
            webhooks: Webhooks::new(database.clone()),
            courier,
            audit,
            reconciler,
            probes,
            passes,
            visitors,
            sessions,
        })
    }
}

/// How this instance names itself in the events it alone sees (its breakers'
/// changes): the host's name and the address it serves on.
fn instance_name(addr: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/{addr}")
}
