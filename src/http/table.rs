//! The route table: every module's routes, gathered in one place. A route is
//! added with one line in its module's `routes` (and its handler); the tests
//! below hold the table against the OpenAPI document and the class rules.

use axum::Router;

use super::edge::shedding::ShedGroups;
use super::routes::{shed_groups, Declared, Routes};
use super::state::AppState;
use super::{admin, api, door, gate, health, openapi, ops, pages, v1};

/// Every route, declared.
fn table(routes: Routes) -> Routes {
    let routes = api::routes(routes);
    let routes = v1::routes(routes);
    let routes = admin::routes(routes);
    let routes = door::routes(routes);
    let routes = gate::routes(routes);
    let routes = health::routes(routes);
    let routes = ops::routes(routes);
    let routes = pages::routes(routes);
    openapi::routes(routes)
}

/// The declarations alone, without building anything (for the OpenAPI
/// document's error lists, and the tests).
pub(crate) fn declared() -> Vec<Declared> {
    table(Routes::declaring()).finish().0
}

/// The router of every route, and the shed groups of their paths.
pub(crate) fn mounted(state: AppState) -> (Router<AppState>, ShedGroups) {
    let (declared, router) = table(Routes::mounting(state)).finish();
    (router, shed_groups(&declared))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::http::edge::shedding::ShedGroup;
    use crate::http::openapi;
    use crate::http::routes::{shed_groups, Deadline};

    /// Every declared route as (METHOD, path), the wildcard written as OpenAPI writes it.
    fn table_operations() -> BTreeSet<(String, String)> {
        declared()
            .iter()
            .map(|route| (route.method.to_string(), route.openapi_path()))
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
        let groups = shed_groups(&routes);
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
        let groups = shed_groups(&declared());
        assert_eq!(groups.of("/api/waiting-queue/"), ShedGroup::Queue);
        assert_eq!(groups.of("/api/waiting-queue/position"), ShedGroup::Queue);
        assert_eq!(groups.of("/api/v1/concerts/hero-autumn/token/"), ShedGroup::Queue);
        assert_eq!(groups.of("/api/v1/concerts/hero-autumn/seats"), ShedGroup::Booking);
        assert_eq!(groups.of("/api/balances/balance"), ShedGroup::Booking);
        assert_eq!(groups.of("/ready"), ShedGroup::Never);
        assert_eq!(groups.of("/ops/invariants"), ShedGroup::Never);
    }

    #[test]
    fn only_holds_and_payments_are_timed_and_only_the_queue_the_gate_money_and_the_event_stream_go_without_the_request_deadline(
    ) {
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
            ("POST", "/gate/{queue}/join"),
            ("GET", "/gate/{queue}/status"),
            ("POST", "/gate/{queue}/leave"),
            ("GET", "/gate/{queue}"),
            ("GET", "/.well-known/jwks.json"),
            ("GET", "/queues/{queue}/challenge"),
            ("GET", "/admin/events"),
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
