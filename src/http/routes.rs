//! The route table. Each route is declared once, by the module that holds its
//! handler (`api::routes`, `v1::routes`, ...), as one line: its method, path,
//! handler and [`Class`]. Everything else about a route follows from its class,
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

use super::edge::middleware;
use super::edge::shedding::{ShedGroup, ShedGroups};
use super::state::AppState;
use super::{admin, api, booking_latency, health, openapi, ops, pages, v1};

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
    /// The pages served from the binary.
    Page,
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
}

impl Class {
    pub(crate) const fn deadline(self) -> Deadline {
        match self {
            Class::Queue => Deadline::RedisCall,
            Class::Payment | Class::TopUp => Deadline::Decisive,
            Class::Booking | Class::Hold | Class::Ops | Class::Admin | Class::Page => Deadline::Request,
        }
    }

    /// The in-flight bound a request shares; operations are never shed, so
    /// an operator can see and steer an instance that sheds everything else.
    pub(crate) const fn shed_group(self) -> ShedGroup {
        match self {
            Class::Queue => ShedGroup::Queue,
            Class::Booking | Class::Hold | Class::Payment | Class::TopUp => ShedGroup::Booking,
            Class::Ops | Class::Admin | Class::Page => ShedGroup::Never,
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
    /// Read by the tests, which hold the table against the OpenAPI document.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) class: Class,
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

    pub(crate) fn declared(&self) -> &[Declared] {
        &self.declared
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
            Deadline::RedisCall | Deadline::Decisive => route,
        };
        match class {
            Class::Page => with_page_headers(route),
            _ => route,
        }
    }
}

/// Every route, declared.
fn table(routes: Routes) -> Routes {
    let routes = api::routes(routes);
    let routes = v1::routes(routes);
    let routes = admin::routes(routes);
    let routes = health::routes(routes);
    let routes = ops::routes(routes);
    let routes = pages::routes(routes);
    openapi::routes(routes)
}

/// The declarations alone, without building anything.
#[cfg(test)]
pub(crate) fn declared() -> Vec<Declared> {
    table(Routes {
        declared: Vec::new(),
        mount: None,
    })
    .declared
}

/// The router of every route, and the shed groups of their paths.
pub(crate) fn mounted(state: AppState) -> (Router<AppState>, ShedGroups) {
    let routes = table(Routes {
        declared: Vec::new(),
        mount: Some(Mount {
            router: Router::new(),
            request_timeout: Duration::from_millis(state.config.request_timeout_ms.max(1)),
            state,
        }),
    });
    let groups = ShedGroups::new(
        routes
            .declared()
            .iter()
            .map(|route| (route.path, route.class.shed_group())),
    );
    let router = routes.mount.map(|mount| mount.router).unwrap_or_default();
    (router, groups)
}

/// Where the pages may be shown and what they may load (see `pages.rs`).
fn with_page_headers(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    let header = |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    route
        .layer::<_, Infallible>(header(header::CONTENT_SECURITY_POLICY, pages::CONTENT_SECURITY_POLICY))
        .layer::<_, Infallible>(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer::<_, Infallible>(header(header::REFERRER_POLICY, "same-origin"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every declared route as (METHOD, path), the wildcard written as OpenAPI writes it.
    fn table_operations() -> BTreeSet<(String, String)> {
        declared()
            .iter()
            .map(|route| (route.method.to_string(), route.path.replace("{*", "{")))
            .collect()
    }

    #[test]
    fn every_route_is_declared_once_and_documented_and_every_documented_one_is_a_route() {
        let routes = declared();
        assert_eq!(
            table_operations().len(),
            routes.len(),
            "a method and path declared twice"
        );
        let document = openapi::document();
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("the document has paths") {
            for method in item.as_object().expect("a path item").keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let table = table_operations();
        let undocumented: Vec<_> = table.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&table).collect();
        assert!(
            undocumented.is_empty(),
            "routes with no OpenAPI entry: {undocumented:?}"
        );
        assert!(unrouted.is_empty(), "OpenAPI entries no route serves: {unrouted:?}");
    }

    #[test]
    fn every_route_has_a_deadline_rule_and_is_shed_in_its_class_s_group() {
        let routes = declared();
        let groups = ShedGroups::new(routes.iter().map(|route| (route.path, route.class.shed_group())));
        for route in &routes {
            // Each rule is a total function of the class; what is checked here
            // is that the shed layer, which sees only the path, finds the same.
            let _deadline: Deadline = route.class.deadline();
            let concrete = route
                .path
                .replace("{*path}", "app.js")
                .replace('{', "x")
                .replace('}', "");
            for path in [concrete.clone(), format!("{concrete}/")] {
                assert_eq!(
                    groups.of(&path),
                    route.class.shed_group(),
                    "{} {} ({:?})",
                    route.method,
                    path,
                    route.class
                );
            }
        }
    }

    #[test]
    fn routes_fall_into_their_groups() {
        let groups = ShedGroups::new(declared().iter().map(|route| (route.path, route.class.shed_group())));
        assert_eq!(groups.of("/api/waiting-queue/"), ShedGroup::Queue);
        assert_eq!(groups.of("/api/waiting-queue/position"), ShedGroup::Queue);
        assert_eq!(groups.of("/api/v1/concerts/hero-autumn/token/"), ShedGroup::Queue);
        assert_eq!(groups.of("/api/v1/concerts/hero-autumn/seats"), ShedGroup::Booking);
        assert_eq!(groups.of("/api/balances/balance"), ShedGroup::Booking);
        assert_eq!(groups.of("/ready"), ShedGroup::Never);
        assert_eq!(groups.of("/ops/invariants"), ShedGroup::Never);
    }

    #[test]
    fn only_holds_and_payments_are_timed_and_only_the_queue_and_money_go_without_the_request_deadline() {
        let routes = declared();
        let timed: BTreeSet<_> = routes
            .iter()
            .filter(|route| route.class.timed())
            .map(|route| (route.method.as_str(), route.path))
            .collect();
        let expected: BTreeSet<_> = [
            (
                "POST",
                "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation",
            ),
            (
                "POST",
                "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
            ),
            ("PATCH", "/api/v1/concerts/{code}"),
            ("POST", "/api/v1/payments"),
        ]
        .into_iter()
        .collect();
        assert_eq!(timed, expected);
        let undeadlined: BTreeSet<_> = routes
            .iter()
            .filter(|route| route.class.deadline() != Deadline::Request)
            .map(|route| (route.method.as_str(), route.path))
            .collect();
        let expected: BTreeSet<_> = [
            ("POST", "/api/waiting-queue"),
            ("GET", "/api/waiting-queue/position"),
            ("POST", "/api/v1/concerts/{code}/token"),
            ("GET", "/api/v1/concerts/{code}/token"),
            (
                "POST",
                "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
            ),
            ("POST", "/api/v1/payments"),
            ("PATCH", "/api/balances/balance/charge"),
            ("PATCH", "/api/v1/users/{uuid}/balance"),
        ]
        .into_iter()
        .collect();
        assert_eq!(undeadlined, expected);
    }
}
