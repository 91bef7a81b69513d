//! The state every handler receives: the application's services (built
//! outside HTTP, in `crate::app`) and what only HTTP has: the per-client rate
//! limits, the in-flight bounds and the proxies whose `X-Forwarded-For` is
//! believed.

use std::sync::Arc;

use tokio::sync::watch;

use super::edge::proxies::TrustedProxies;
use super::edge::rate_limits::RateLimits;
use super::edge::shedding::ShedLayer;
use super::guards::door::DoorRefusals;
use crate::app::Services;
use crate::config::Config;

/// Everything a handler may need. axum clones the state for every request, so
/// it is one `Arc`: a clone is a single reference-count increment. Through
/// `Deref` a handler reaches HTTP's own parts (`state.limits`) and, beneath
/// them, the services (`state.line`).
#[derive(Clone)]
pub struct AppState(Arc<HttpContext>);

/// HTTP's own parts, beside the services they wrap.
pub struct HttpContext {
    services: Arc<Services>,
    pub(crate) limits: RateLimits,
    /// The in-flight bounds, kept here so the `/ops` reads can say how often they refused.
    pub(crate) shed: ShedLayer,
    pub(crate) trusted_proxies: TrustedProxies,
    /// Joins turned away at the door (a challenge, an invitation), by reason.
    pub(crate) door: DoorRefusals,
    /// Set when the server starts shutting down: answers that would otherwise
    /// never end (the event stream) end then, so the connections can close.
    pub(crate) closing: watch::Sender<bool>,
}

impl AppState {
    /// Wraps `services` with HTTP's own parts, configured from `config`.
    pub(crate) fn new(services: Arc<Services>, config: &Config) -> anyhow::Result<Self> {
        Ok(AppState(Arc::new(HttpContext {
            limits: RateLimits::new(&config.queue, &config.limits),
            shed: ShedLayer::new(&config.limits),
            trusted_proxies: TrustedProxies::parse(&config.limits.trusted_proxies)?,
            door: DoorRefusals::default(),
            closing: watch::Sender::new(false),
            services,
        })))
    }

    /// The services this state wraps.
    pub fn services(&self) -> &Arc<Services> {
        &self.0.services
    }
}

impl std::ops::Deref for AppState {
    type Target = HttpContext;

    fn deref(&self) -> &HttpContext {
        &self.0
    }
}

impl std::ops::Deref for HttpContext {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
