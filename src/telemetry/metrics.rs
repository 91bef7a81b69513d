//! Metrics through the `metrics` facade, rendered for Prometheus by
//! `metrics-exporter-prometheus` at `GET /metrics`: no hand-written exposition.
//!
//! Every name is here, with its help text, so the dashboard
//! (`ops/grafana-dashboard.json`) and docs/operations.md have one list to follow.
//! Counters kept in Redis by the queue's scripts (so every instance reports
//! the same) are copied in at each scrape; the rest are counted in process.

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub(crate) const HTTP_REQUESTS: &str = "boxoffice_http_requests_total";
pub(crate) const HTTP_DURATION: &str = "boxoffice_http_request_duration_seconds";
pub(crate) const QUEUE_WAITING: &str = "boxoffice_queue_waiting";
pub(crate) const QUEUE_ACTIVE: &str = "boxoffice_queue_active";
pub(crate) const QUEUE_RATE: &str = "boxoffice_queue_admission_rate";
pub(crate) const QUEUE_RATE_60: &str = "boxoffice_queue_admission_rate_60s";
pub(crate) const QUEUE_ETA_LAST: &str = "boxoffice_queue_eta_of_last_seconds";
pub(crate) const QUEUE_STATE: &str = "boxoffice_queue_state";
pub(crate) const QUEUE_MAX_ACTIVE: &str = "boxoffice_queue_max_active";
pub(crate) const QUEUE_RATE_SETTING: &str = "boxoffice_queue_admit_rate_setting";
pub(crate) const QUEUE_RATE_IN_USE: &str = "boxoffice_queue_admit_rate_in_use";
pub(crate) const QUEUE_BOOKING_P99: &str = "boxoffice_queue_booking_p99_seconds";
pub(crate) const QUEUE_JOINED: &str = "boxoffice_queue_joined_total";
pub(crate) const QUEUE_ADMITTED: &str = "boxoffice_queue_admitted_total";
pub(crate) const QUEUE_ABANDONED: &str = "boxoffice_queue_abandoned_total";
pub(crate) const QUEUE_EXPIRED: &str = "boxoffice_queue_expired_total";
pub(crate) const QUEUE_COMPLETED: &str = "boxoffice_queue_completed_total";
pub(crate) const QUEUE_SCRIPT_CALLS: &str = "boxoffice_queue_standing_calls_total";
pub(crate) const QUEUE_SCRIPT_ENTRIES: &str = "boxoffice_queue_standing_entries_total";
pub(crate) const HOLDS: &str = "boxoffice_holds_total";
pub(crate) const SEATS_SOLD: &str = "boxoffice_seats_sold_total";
pub(crate) const PAYMENTS: &str = "boxoffice_payments_total";
pub(crate) const CHARGES: &str = "boxoffice_charges_total";
pub(crate) const DEPENDENCY_ERRORS: &str = "boxoffice_dependency_errors_total";
pub(crate) const DB_POOL_CONNECTIONS: &str = "boxoffice_db_pool_connections";
pub(crate) const DB_POOL_MAX: &str = "boxoffice_db_pool_max_connections";
pub(crate) const DB_ACQUIRE_TIMEOUTS: &str = "boxoffice_db_acquire_timeouts_total";
pub(crate) const DB_POOLS_REPLACED: &str = "boxoffice_db_pools_replaced_total";
pub(crate) const DB_ACQUIRES_WAITING: &str = "boxoffice_db_acquires_waiting";
pub(crate) const CONNECTIONS_OPEN: &str = "boxoffice_connections_open";
pub(crate) const CONNECTIONS_REFUSED: &str = "boxoffice_connections_refused_total";
pub(crate) const CONNECTIONS_TIMED_OUT: &str = "boxoffice_connections_timed_out_total";
pub(crate) const KNOWN_USERS: &str = "boxoffice_known_users";
pub(crate) const PASSES_VERIFIED_HELD: &str = "boxoffice_passes_verified_held";
pub(crate) const PASSES_ENDED_HELD: &str = "boxoffice_passes_ended_held";
pub(crate) const GATE_BYPASSED: &str = "boxoffice_gate_bypassed_total";
pub(crate) const JOINS_RATE_LIMITED: &str = "boxoffice_joins_rate_limited_total";
pub(crate) const JOINS_REFUSED: &str = "boxoffice_joins_refused_total";
pub(crate) const GATE_FAIL_OPEN: &str = "boxoffice_gate_fail_open_passes_total";
pub(crate) const WEBHOOK_ATTEMPTS: &str = "boxoffice_webhook_attempts_total";
pub(crate) const BUILD_INFO: &str = "boxoffice_build_info";

/// Latency buckets, seconds: from a poll's fraction of a millisecond to a
/// payment that waited seconds for a connection.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's one recorder (many apps in one test process share it).
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_string()), LATENCY_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics shows only its own");
        }
        describe();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        zero_series();
        handle
    })
}

/// Counters at 0 before anything happened: a series that is absent until its
/// first event makes `rate()` and the dashboard's panels blank instead of 0.
fn zero_series() {
    metrics::counter!(DB_ACQUIRE_TIMEOUTS).absolute(0);
    metrics::counter!(DB_POOLS_REPLACED).absolute(0);
    metrics::gauge!(DB_ACQUIRES_WAITING).set(0.0);
    metrics::counter!(SEATS_SOLD).absolute(0);
    for kind in ["DEPENDENCY_UNAVAILABLE", "OUTCOME_UNKNOWN", "TIMEOUT"] {
        metrics::counter!(DEPENDENCY_ERRORS, "kind" => kind).absolute(0);
    }
    for event in ["made", "released", "expired"] {
        metrics::counter!(HOLDS, "event" => event).absolute(0);
    }
    metrics::counter!(PAYMENTS, "outcome" => "succeeded").absolute(0);
    for cap in ["instance", "address"] {
        metrics::counter!(CONNECTIONS_REFUSED, "cap" => cap).absolute(0);
    }
    for phase in ["head", "serving", "idle"] {
        metrics::counter!(CONNECTIONS_TIMED_OUT, "phase" => phase).absolute(0);
    }
    metrics::counter!(CHARGES, "outcome" => "succeeded").absolute(0);
}

fn describe() {
    describe_counter!(
        WEBHOOK_ATTEMPTS,
        "Webhook delivery attempts this instance sent, by outcome (delivered: answered 2xx; failed: retried or given up)."
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method, status and error code."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route template and method."
    );
    describe_gauge!(QUEUE_WAITING, "Users waiting in line.");
    describe_gauge!(
        PASSES_VERIFIED_HELD,
        "Admission passes this instance remembers having verified."
    );
    describe_counter!(
        GATE_FAIL_OPEN,
        "Short passes a protected site's check gave without waiting, Redis down and the queue failing open."
    );
    describe_counter!(
        JOINS_RATE_LIMITED,
        "Joins refused 429 RATE_LIMITED by this instance, by queue and the limit they tripped (reason = identity, ip, network)."
    );
    describe_counter!(
        JOINS_REFUSED,
        "Joins refused at the door by this instance, by queue and reason (challenge_required, challenge_invalid, challenge_expired, challenge_spent, challenge_other_queue, invitation_invalid, invitation_used_up, invitation_expired)."
    );
    describe_counter!(
        GATE_BYPASSED,
        "Requests a protected site let through without a pass, by queue and rule (cidr, header)."
    );
    describe_gauge!(
        PASSES_ENDED_HELD,
        "Passes ended before their expiry that this instance refuses."
    );
    describe_gauge!(QUEUE_ACTIVE, "Users admitted and active.");
    describe_gauge!(QUEUE_RATE, "Measured admissions per second, averaged over 10 s.");
    describe_gauge!(QUEUE_RATE_60, "Measured admissions per second, averaged over 60 s.");
    describe_gauge!(QUEUE_ETA_LAST, "Estimated wait of the last user in line, seconds.");
    describe_gauge!(QUEUE_STATE, "Queue state: 0 open, 1 paused, 2 closed.");
    describe_gauge!(QUEUE_MAX_ACTIVE, "Setting: most users active at once (0 = unlimited).");
    describe_gauge!(QUEUE_RATE_SETTING, "Setting: admissions per second (0 = unlimited).");
    describe_gauge!(
        QUEUE_RATE_IN_USE,
        "Admissions per second the admission step uses: the setting, or in adaptive mode the controller's rate."
    );
    describe_gauge!(
        QUEUE_BOOKING_P99,
        "Adaptive mode: booking p99 (holds and payments, all instances) over the controller's window, seconds."
    );
    describe_counter!(QUEUE_JOINED, "Places taken in line.");
    describe_counter!(QUEUE_ADMITTED, "Users admitted.");
    describe_counter!(QUEUE_ABANDONED, "Waiting users dropped for not polling.");
    describe_counter!(QUEUE_EXPIRED, "Active tokens that ran out.");
    describe_counter!(QUEUE_COMPLETED, "Active tokens ended by a payment.");
    describe_counter!(
        QUEUE_SCRIPT_CALLS,
        "Runs of the join-and-poll script sent to Redis by this instance, by queue."
    );
    describe_counter!(
        QUEUE_SCRIPT_ENTRIES,
        "Joins and polls those runs carried (coalesced): entries / calls is the mean batch."
    );
    describe_counter!(HOLDS, "Seat holds: made, released by a sale, expired (swept).");
    describe_counter!(SEATS_SOLD, "Seats sold.");
    describe_counter!(PAYMENTS, "Payments by outcome (succeeded, or why refused).");
    describe_counter!(CHARGES, "Balance top-ups by outcome (succeeded, or why refused).");
    describe_counter!(DEPENDENCY_ERRORS, "Answers failed by Redis or Postgres, by kind.");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Postgres pool connections, by state (idle, in_use)."
    );
    describe_gauge!(DB_POOL_MAX, "Largest Postgres pool of this instance.");
    describe_counter!(
        DB_ACQUIRE_TIMEOUTS,
        "Waits for a pooled Postgres connection that ran out."
    );
    describe_counter!(
        DB_POOLS_REPLACED,
        "Postgres pools replaced because every connection was held past any statement's deadline (replies lost for good)."
    );
    describe_gauge!(
        DB_ACQUIRES_WAITING,
        "Requests of this instance waiting for a pooled Postgres connection."
    );
    describe_gauge!(CONNECTIONS_OPEN, "Client connections this instance holds.");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Client connections refused at accept, by the cap they met (instance, address)."
    );
    describe_counter!(
        CONNECTIONS_TIMED_OUT,
        "Client connections closed for overstaying, by phase: head (request head too slow), serving, idle (keep-alive)."
    );
    describe_gauge!(KNOWN_USERS, "Users in the in-memory directory.");
    describe_gauge!(BUILD_INFO, "Always 1; the version is a label.");
}
