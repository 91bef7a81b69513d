//! Traces and structured logs, seen from outside: the real binary as a child
//! process, since the OpenTelemetry layer is process-wide and the in-process
//! apps of the other suites share one process. Its spans go to a small
//! OTLP/HTTP receiver here (`helpers/otlp.rs`), its log lines are read from
//! its stdout.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::gateway::{gateway_env, Gateway};
use crate::helpers::otlp::{OtlpReceiver, Span};
use crate::helpers::{eventually, json_of, test_config, Api};

/// The caller's trace and span, as its `traceparent` names them.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn traceparent(trace: &str, span: &str) -> String {
    format!("00-{trace}-{span}-01")
}

/// A gateway exporting every trace to `receiver`, in OTLP's JSON, a tenth of
/// a second after its spans end.
async fn traced_gateway(receiver: &OtlpReceiver, extra: &[(&str, &str)]) -> Gateway {
    let config = test_config();
    let mut settings = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    settings.extend_from_slice(extra);
    let gateway = Gateway::start_logging(gateway_env(&config, &settings));
    gateway.wait_ready(&reqwest::Client::new()).await;
    gateway
}

/// `user` joins, is admitted by the gateway's own admission steps, tops up
/// and holds a seat; the token to pay with.
async fn holding_a_seat(api: &Api, user: i64) -> String {
    let joined = json_of(api.join(user).await).await;
    let token = joined["token"].as_str().expect("a token").to_string();
    assert_eq!(api.charge(user, 1_000_000).await.status(), 200);
    eventually(Duration::from_secs(10), "admitted, a seat held", || async {
        let held = api.reserve(&token, 1, 1, user, &[7]).await;
        (held.status() == 200).then_some(())
    })
    .await;
    token
}

/// Whether `span` descends from the span `ancestor` within `spans`.
fn descends_from(span: &Span, ancestor: &str, spans: &HashMap<String, Span>) -> bool {
    let mut parent = span.parent_span_id().to_string();
    while !parent.is_empty() {
        if parent == ancestor {
            return true;
        }
        parent = spans
            .get(&parent)
            .map(|p| p.parent_span_id().to_string())
            .unwrap_or_default();
    }
    false
}

#[tokio::test]
async fn a_payments_trace_runs_from_the_callers_span_down_to_its_sql() {
    let receiver = OtlpReceiver::start().await;
    let gateway = traced_gateway(&receiver, &[]).await;
    let api = gateway.api(&reqwest::Client::new());
    let user = 11;
    let token = holding_a_seat(&api, user).await;

    let paid = api
        .pay(&token, 1, 1, user)
        .header("traceparent", traceparent(CALLER_TRACE, CALLER_SPAN))
        .await;
    assert_eq!(paid.status(), 200, "{}", json_of(paid).await);

    // The request's span, a child of the caller's, and under it the payment's
    // statements and Lua calls, all in the caller's trace.
    let spans = eventually(Duration::from_secs(10), "the payment's spans", || async {
        let spans = receiver.trace(CALLER_TRACE);
        let ended = spans.iter().any(|span| span.parent_span_id() == CALLER_SPAN)
            && spans
                .iter()
                .any(|span| span.attribute("db.statement").as_deref() == Some("payments.capture"));
        ended.then_some(spans)
    })
    .await;
    let by_id: HashMap<String, Span> = spans
        .iter()
        .map(|span| (span.span_id().to_string(), span.clone()))
        .collect();
    let server: Vec<&Span> = spans
        .iter()
        .filter(|span| span.parent_span_id() == CALLER_SPAN)
        .collect();
    assert_eq!(server.len(), 1, "one span is the caller's child: {server:?}");
    let server = server[0];
    let route = "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment";
    assert_eq!(server.attribute("http.route").as_deref(), Some(route), "{server:?}");
    assert_eq!(server.name(), format!("POST {route}"));
    assert_eq!(server.attribute("http.response.status_code").as_deref(), Some("200"));

    let sql: Vec<&Span> = spans
        .iter()
        .filter(|span| span.attribute("db.system").as_deref() == Some("postgresql"))
        .collect();
    assert!(sql.iter().any(|span| span.name() == "payments.capture"), "{sql:?}");
    for statement in &sql {
        assert!(
            descends_from(statement, server.span_id(), &by_id),
            "{statement:?} under the request"
        );
        assert!(
            statement
                .attribute("db.statement")
                .is_some_and(|name| !name.contains(' ')),
            "a name, not SQL"
        );
    }
    let lua: Vec<&Span> = spans
        .iter()
        .filter(|span| span.attribute("db.system").as_deref() == Some("redis"))
        .collect();
    assert!(
        lua.iter().any(|span| span.name() == "seats_user_holds"),
        "the holds read in Redis: {lua:?}"
    );
    for call in &lua {
        assert!(
            descends_from(call, server.span_id(), &by_id),
            "{call:?} under the request"
        );
    }

    // A refusal's body names its trace; the token was ended by the payment.
    let other_trace = "0af7651916cd43dd8448eb211c80319c";
    let again = api
        .pay(&token, 1, 1, user)
        .header("traceparent", traceparent(other_trace, CALLER_SPAN))
        .await;
    assert!(again.status().is_client_error(), "{}", again.status());
    let body = json_of(again).await;
    assert_eq!(body["traceId"], other_trace, "{body}");
}

/// At a ratio of 0 a trace is kept only when its caller kept it. A request
/// of a trace not kept makes no span, and neither do its statements (none is
/// a trace of its own), nor start-up and the chores' rounds; its error body
/// still names its trace, the caller's or a new one.
#[tokio::test]
async fn at_a_ratio_of_0_only_the_traces_callers_kept_are_sent() {
    let receiver = OtlpReceiver::start().await;
    let sampler = [
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ];
    let gateway = traced_gateway(&receiver, &sampler).await;
    let api = gateway.api(&reqwest::Client::new());
    let user = 12;
    let not_kept = "0af7651916cd43dd8448eb211c80319c";
    let not_kept_parent = format!("00-{not_kept}-{CALLER_SPAN}-00");

    let charged = api.charge(user, 1_000).header("traceparent", &not_kept_parent).await;
    assert_eq!(charged.status(), 200);
    assert_eq!(api.charge(user, 1_000).await.status(), 200);
    let missing = api.get("/api/nothing").header("traceparent", &not_kept_parent).await;
    assert_eq!(json_of(missing).await["traceId"], not_kept);
    let missing = json_of(api.get("/api/nothing").await).await;
    let fresh = missing["traceId"].as_str().unwrap_or_default();
    assert!(fresh.len() == 32 && fresh != not_kept, "{missing}");

    // Kept by its caller, and sent after all of the above: once its spans
    // are in, whatever the others had made would be in too.
    let kept = api
        .charge(user, 1_000)
        .header("traceparent", traceparent(CALLER_TRACE, CALLER_SPAN))
        .await;
    assert_eq!(kept.status(), 200);
    let spans = eventually(Duration::from_secs(10), "the kept trace's statements", || async {
        let spans = receiver.spans();
        spans
            .iter()
            .any(|span| span.trace_id() == CALLER_TRACE && is_sql(span))
            .then_some(spans)
    })
    .await;
    let others: Vec<&Span> = spans.iter().filter(|span| span.trace_id() != CALLER_TRACE).collect();
    assert!(others.is_empty(), "only the kept trace is sent: {others:?}");
    assert!(
        spans.iter().any(|span| span.parent_span_id() == CALLER_SPAN),
        "the request's span, under its caller's: {spans:?}"
    );
}

/// Whether `span` is a Postgres statement's.
fn is_sql(span: &Span) -> bool {
    span.attribute("db.system").as_deref() == Some("postgresql")
}

#[tokio::test]
async fn start_up_and_the_chores_are_traces_of_their_own_with_their_statements_under_them() {
    let receiver = OtlpReceiver::start().await;
    let _gateway = traced_gateway(&receiver, &[]).await;

    // Each a root span with a statement as its child; these chores run at
    // least once a second and talk to Postgres on every round.
    let rounds = [
        "startup",
        "users.refresh",
        "settings.restore",
        "events.sequence",
        "webhooks.deliver",
    ];
    let spans = eventually(Duration::from_secs(10), "each round and its statements", || async {
        let spans = receiver.spans();
        let found = |round: &str| {
            spans.iter().any(|span| {
                span.name() == round
                    && span.parent_span_id().is_empty()
                    && spans
                        .iter()
                        .any(|child| is_sql(child) && child.parent_span_id() == span.span_id())
            })
        };
        rounds.iter().all(|round| found(round)).then_some(spans)
    })
    .await;
    // No statement is a trace of its own, and none is named by its SQL.
    for statement in spans.iter().filter(|span| is_sql(span)) {
        assert!(!statement.parent_span_id().is_empty(), "{statement:?} has a parent");
        assert!(!statement.name().contains(' '), "{statement:?}: a name, not SQL");
    }
    let names: Vec<&str> = spans.iter().filter(|span| is_sql(span)).map(Span::name).collect();
    for name in [
        "catalog.seats",
        "users.copy",
        "settings.all",
        "events.sequence_lock",
        "webhooks.claim",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

#[tokio::test]
async fn traces_go_as_protobuf_unless_the_protocol_says_json() {
    let receiver = OtlpReceiver::start().await;
    let config = test_config();
    let env = gateway_env(
        &config,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let gateway = Gateway::start(env);
    gateway.wait_ready(&reqwest::Client::new()).await;
    let api = gateway.api(&reqwest::Client::new());
    assert_eq!(api.schedules(1).await.status(), 200);
    let exports = eventually(Duration::from_secs(10), "an export", || async {
        let exports = receiver.exports();
        (!exports.is_empty()).then_some(exports)
    })
    .await;
    assert!(
        exports.iter().all(|kind| kind == "application/x-protobuf"),
        "{exports:?}"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_requests_ids_route_status_and_latency() {
    let receiver = OtlpReceiver::start().await;
    let gateway = traced_gateway(&receiver, &[("BOXOFFICE_LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    let api = gateway.api(&reqwest::Client::new());
    let answer = api
        .schedules(1)
        .header("x-request-id", "json-log-test")
        .header("traceparent", traceparent(CALLER_TRACE, CALLER_SPAN))
        .await;
    assert_eq!(answer.status(), 200);

    let line = eventually(Duration::from_secs(10), "the request's log line", || async {
        gateway.log_lines().into_iter().find_map(|line| {
            let entry: Value = serde_json::from_str(&line).ok()?;
            let ours = entry["span"]["request_id"] == "json-log-test";
            (ours && entry["message"] == "finished processing request").then_some(entry)
        })
    })
    .await;
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["latency_us"].is_u64(), "{line}");
    assert_eq!(line["span"]["route"], "/api/concerts/{concert_id}/schedules", "{line}");
    assert_eq!(line["span"]["trace_id"], CALLER_TRACE, "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    assert!(line["timestamp"].is_string() && line["level"] == "INFO", "{line}");

    // With the request logs on too, an error body names its trace.
    let missing = api
        .get("/api/nothing")
        .header("traceparent", traceparent(CALLER_TRACE, CALLER_SPAN))
        .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(json_of(missing).await["traceId"], CALLER_TRACE);

    let lines = gateway.log_lines();
    assert!(lines.len() > 1, "start-up's lines too: {lines:?}");
    for line in &lines {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
        assert!(entry.is_object(), "{line}");
    }
}
