//! The state every handler receives: the services, wired once in `startup`.

use std::sync::Arc;

use sqlx::PgPool;

use super::client_ip::TrustedProxies;
use super::limits::RateLimits;
use super::shedding::ShedLayer;
use super::views::LocalClock;
use crate::booking::{Balances, Catalog, CatalogEditor, Checkout, Holds, LatestAudit, Reconciler, SoldSeats};
use crate::config::Config;
use crate::identity::IdentityVerifier;
use crate::queue::{BookingHealth, Gate, Line, Scheduler, Settings};
use crate::store::probe::Probes;
use crate::store::redis::Redis;
use crate::users::UserDirectory;

/// Everything a handler may need. axum clones the state for every request, so
/// it is one `Arc`: a clone is a single reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

impl AppState {
    pub(crate) fn new(context: AppContext) -> Self {
        AppState(Arc::new(context))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

/// The services, wired once in `startup`. Public are the ones tests and the
/// tools in `examples/` drive directly (the stores, the line, the scheduler).
pub struct AppContext {
    pub(crate) config: Arc<Config>,
    /// The serving pool (request deadlines apply); tests query through it.
    pub db: PgPool,
    /// For the in-memory copies' reloads, which may take longer than a request.
    pub(crate) background_db: PgPool,
    pub redis: Redis,
    pub users: Arc<UserDirectory>,
    pub line: Line,
    pub scheduler: Scheduler,
    pub(crate) gate: Gate,
    pub(crate) settings: Settings,
    pub(crate) booking_health: Arc<BookingHealth>,
    pub(crate) catalog: Catalog,
    pub(crate) catalog_editor: CatalogEditor,
    pub(crate) sold: SoldSeats,
    pub(crate) holds: Holds,
    pub(crate) balances: Balances,
    pub(crate) checkout: Checkout,
    pub(crate) audit: LatestAudit,
    pub(crate) reconciler: Reconciler,
    pub(crate) probes: Probes,
    pub(crate) limits: RateLimits,
    /// The in-flight bounds, kept here so the `/ops` reads can say how often they refused.
    pub(crate) shed: ShedLayer,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) clock: LocalClock,
    pub(crate) identity: IdentityVerifier,
}
