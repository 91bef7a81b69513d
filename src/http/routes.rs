//! Routes and their classes. Each route is declared once, by the module that
//! holds its handler (`api::routes`, `v1::routes`, ...; gathered in
//! `table.rs`), as one line: its method, path, handler and [`Class`]. Everything else about a route follows from its class,
//! here: its deadline, its shed group, whether it is timed for adaptive
//! admission, the headers the pages carry. Its rate limit is an extractor in
//! its handler's signature (`guards::limits`, and the join gate's).
//!
//! The same declarations build the router (with the state) and, without one,
//! the list the shed layer and the tests read.

use std::convert::Infallible;
use std::time::Duration;

use axum::handler::Handler;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use super::booking_latency;
use super::edge::middleware;
use super::edge::shedding::{ShedGroup, ShedGroups};
use super::state::AppState;

/// What kind of work a route does, which decides how it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Joining and polling a queue: one Redis call, the hot path.
    Queue,
    /// Reading the catalog, seats and balances.
    Booking,
    /// Holding seats.
    Hold,
    /// Paying for held seats: moves money.
    Payment,
    /// Topping up a balance: moves money.
    TopUp,
    /// Health, metrics and the open reads behind the `/ops` page.
    Ops,
    /// The admin API.
    Admin,
    /// The admin API's event stream: an answer that lasts as long as its
    /// client stays.
    AdminStream,
    /// The pages served from the binary.
    Page,
    /// A protected site's forward-auth check and the public keys: decided in
    /// process, with no store call.
    Check,
}

/// What bounds how long a route may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// `BOXOFFICE_REQUEST_TIMEOUT_MS`, answered `503 TIMEOUT`.
    Request,
    /// The Redis client's own timeouts: the queue's routes make one Redis call
    /// each, and the deadline's timer was a measurable part of a poll's cost
    /// (loadtest/RESULTS.md).
    RedisCall,
    /// The store's own deadline that knows what happened
    /// (`store::db::Db::decisive`): cutting a route that moves money off from
    /// outside would answer 503 while its statement might still commit.
    Decisive,
    /// Nothing to wait on: the answer is computed in process.
    InProcess,
    /// A stream, which a request deadline would cut off: each store read it
    /// makes is bounded by the statement deadline (`store::db::Db::bounded`)
    /// instead, and the answer lasts as long as its client.
    EachRead,
}

impl Class {
    pub(crate) const fn deadline(self) -> Deadline {
        match self {
            Class::Queue => Deadline::RedisCall,
            Class::Payment | Class::TopUp => Deadline::Decisive,
            Class::Check => Deadline::InProcess,
            Class::AdminStream => Deadline::EachRead,
            Class::Booking | Class::Hold | Class::Ops | Class::Admin | Class::Page => Deadline::Request,
        }
    }

    /// The in-flight bound a request shares; operations are never shed, so
    /// an operator can see and steer an instance that sheds everything else.
    pub(crate) const fn shed_group(self) -> ShedGroup {
        match self {
            Class::Queue => ShedGroup::Queue,
            Class::Booking | Class::Hold | Class::Payment | Class::TopUp => ShedGroup::Booking,
            // A check is cheap and in process; refusing one would turn an
            // admitted visitor away (a proxy reads a 503 as an error).
            // A stream holds a group's permit only until its answer starts
            // (`edge::shedding`), but it is the admin API's, never shed either.
            Class::Ops | Class::Admin | Class::AdminStream | Class::Page | Class::Check => ShedGroup::Never,
        }
    }

    /// Whether its answers' latency feeds adaptive admission (`booking_latency`).
    pub(crate) const fn timed(self) -> bool {
        matches!(self, Class::Hold | Class::Payment)
    }
}

/// One declared route.
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) class: Class,
}

impl Declared {
    /// The path as OpenAPI writes it: a catch-all `{*path}` is `{path}` there.
    pub(crate) fn openapi_path(&self) -> String {
        self.path.replace("{*", "{")
    }
}

/// The table being declared, and with a state, the router being built.
pub(crate) struct Routes {
    declared: Vec<Declared>,
    mount: Option<Mount>,
}

struct Mount {
    router: Router<AppState>,
    state: AppState,
    request_timeout: Duration,
}

impl Routes {
    /// Declares `handler` for `method` on `path`, served as its `class` says.
    pub(crate) fn route<H, T>(mut self, method: Method, path: &'static str, handler: H, class: Class) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        if let Some(mount) = self.mount.as_mut() {
            let filter = MethodFilter::try_from(method.clone()).expect("a route's method is a standard one");
            let served = mount.served(on(filter, handler), class);
            // The same path again adds a method to it.
            mount.router = std::mem::take(&mut mount.router).route(path, served);
        }
        self.declared.push(Declared { method, path, class });
        self
    }
}

impl Mount {
    fn served(&self, route: MethodRouter<AppState>, class: Class) -> MethodRouter<AppState> {
        let route = if class.timed() {
            route.route_layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                booking_latency::timed,
            ))
        } else {
            route
        };
        let route = match class.deadline() {
            Deadline::Request => middleware::with_deadline(route, self.request_timeout),
            Deadline::RedisCall | Deadline::Decisive | Deadline::InProcess | Deadline::EachRead => route,
        };
        match class {
            Class::Page => with_page_headers(route),
            _ => route,
        }
    }
}

impl Routes {
    /// A table that only records what is declared.
    pub(crate) fn declaring() -> Self {
        Routes {
            declared: Vec::new(),
            mount: None,
        }
    }

    /// A table that also builds the router, serving each route as its class says.
    pub(crate) fn mounting(state: AppState) -> Self {
        Routes {
            declared: Vec::new(),
            mount: Some(Mount {
                router: Router::new(),
                request_timeout: Duration::from_millis(state.config.request_timeout_ms.max(1)),
                state,
            }),
        }
    }

    /// The declarations, and the router built of them (empty when only declaring).
    pub(crate) fn finish(self) -> (Vec<Declared>, Router<AppState>) {
        let router = self.mount.map(|mount| mount.router).unwrap_or_default();
        (self.declared, router)
    }
}

/// Each path's shed group, for the shed layer.
pub(crate) fn shed_groups(declared: &[Declared]) -> ShedGroups {
    ShedGroups::new(declared.iter().map(|route| (route.path, route.class.shed_group())))
}

/// What the pages may load, and that no other page may frame them (see `pages.rs`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Where the pages may be shown and what they may load.
fn with_page_headers(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    let header = |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    route
        .layer::<_, Infallible>(header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer::<_, Infallible>(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer::<_, Infallible>(header(header::REFERRER_POLICY, "same-origin"))
}
