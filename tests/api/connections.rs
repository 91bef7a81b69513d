//! Connections that hold on: half-sent requests are closed within the header
//! timeout, idle keep-alive connections within the idle timeout, and a client
//! opening connections past its cap is refused while everyone else is served,
//! even when its connections would outnumber the process's descriptors.
//!
//! Clients on other addresses bind to 127.0.0.2 and up: all of 127.0.0.0/8 is
//! loopback on Linux.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::helpers::gateway::{gateway_env, Gateway};
use crate::helpers::{eventually, json_of, metric_value, spawn_app_with, test_config, Api};
use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `port` from the loopback address `from`.
async fn connect_from(from: &str, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from.parse().unwrap(), 0)).unwrap();
    socket.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap()
}

fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Waits up to `bound` for the server to close `stream`: what it sent before
/// closing, or `None` if it was still open.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(bound, stream.read_to_end(&mut answer)).await;
    closed.ok().map(|_| String::from_utf8_lossy(&answer).to_string())
}

async fn counter(app: &Api, series: &str) -> f64 {
    metric_value(&app.metrics_text().await, series).unwrap_or(0.0)
}

#[tokio::test]
async fn connections_that_never_finish_a_request_head_are_closed_within_the_header_timeout() {
    let app = spawn_app_with(|config| {
        config.connections.max_connections_per_ip = 256;
        config.connections.header_timeout_ms = 1000;
        config.connections.idle_connection_timeout_s = 60;
    })
    .await;
    let timed_out = r#"boxoffice_connections_timed_out_total{phase="head"}"#;
    let before = counter(&app, timed_out).await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for n in 0..40 {
        let mut stream = connect_from("127.0.0.1", app.port).await;
        // Half a request line, or nothing at all.
        if n % 2 == 0 {
            stream.write_all(b"GET /heal").await.unwrap();
        }
        slow.push(stream);
    }
    // Meanwhile a whole request is served.
    assert_eq!(app.health().await.status(), 200);
    let closed = join_all(
        slow.iter_mut()
            .map(|stream| closed_within(stream, Duration::from_secs(4))),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        closed.iter().all(Option::is_some),
        "{} of 40 still open after {elapsed:?}",
        closed.iter().filter(|answer| answer.is_none()).count()
    );
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(counter(&app, timed_out).await >= before + 40.0);
    app.stop().await;
}

#[tokio::test]
async fn a_keep_alive_connection_waits_out_the_idle_timeout_not_the_header_timeout() {
    let app = spawn_app_with(|config| {
        config.connections.header_timeout_ms = 500;
        config.connections.idle_connection_timeout_s = 2;
    })
    .await;
    let mut stream = connect_from("127.0.0.1", app.port).await;
    let request = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut answer = [0u8; 4096];
    for _ in 0..2 {
        stream.write_all(request).await.unwrap();
        let read = stream.read(&mut answer).await.unwrap();
        assert!(
            answer[..read].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&answer[..read])
        );
        // Idle for longer than a head may take (the wait is the behaviour): the connection stays.
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    let started = Instant::now();
    assert_eq!(
        closed_within(&mut stream, Duration::from_secs(5)).await.as_deref(),
        Some(""),
        "closed after the idle timeout, without a word"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await;
}

#[tokio::test]
async fn a_client_past_its_connection_cap_is_refused_while_another_client_still_joins() {
    let app = spawn_app_with(|config| {
        config.connections.max_connections_per_ip = 20;
        config.connections.header_timeout_ms = 60_000;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..50 {
        held.push(connect_from("127.0.0.1", app.port).await);
    }
    let answers = join_all(
        held.iter_mut()
            .map(|stream| closed_within(stream, Duration::from_secs(2))),
    )
    .await;
    let refused: Vec<&String> = answers.iter().flatten().collect();
    assert_eq!(refused.len(), 30, "20 held, the rest refused");
    for answer in refused {
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("\r\nretry-after: "), "{answer}");
        let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["code"], "OVERLOADED");
    }
    // The 20 held ones send half a request each and stay.
    for (stream, _) in held.iter_mut().zip(&answers).filter(|(_, answer)| answer.is_none()) {
        stream
            .write_all(b"POST /api/waiting-queue/ HTTP/1.1\r\nuser-id: 9")
            .await
            .unwrap();
    }

    let other = app.through(client_from("127.0.0.2"));
    assert_eq!(other.health().await.status(), 200);
    let joined = other.join(1).await;
    assert_eq!(joined.status(), 200);
    assert_eq!(json_of(joined).await["position"], 1);

    // Once the connections go, their places come back.
    drop(held);
    let first_address = app.through(client_from("127.0.0.1"));
    eventually(Duration::from_secs(5), "the first address served again", || async {
        let again = first_address.health().send().await;
        again.is_ok_and(|response| response.status() == 200).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn more_connections_than_the_process_has_descriptors_do_not_starve_other_clients() {
    let config = test_config();
    let env = gateway_env(&config, &[("BOXOFFICE_MAX_CONNECTIONS_PER_IP", "256")]);
    let gateway = Gateway::start_with_open_files(env, 600);
    gateway.wait_ready(&reqwest::Client::new()).await;
    // 600 descriptors: at most 480 connections (100 and the pool's 20 are kept
    // for the rest), 256 of them from one address.
    let mut flood = Vec::new();
    for _ in 0..700 {
        let mut stream = connect_from("127.0.0.1", gateway.port).await;
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ").await;
        flood.push(stream);
    }
    let other = gateway.api(&client_from("127.0.0.2"));
    let started = Instant::now();
    assert_eq!(other.health().await.status(), 200);
    let joined = other.join(1).await;
    assert_eq!(joined.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let closed = join_all(
        flood
            .iter_mut()
            .map(|stream| closed_within(stream, Duration::from_secs(2))),
    )
    .await;
    let still_open = closed.iter().filter(|answer| answer.is_none()).count();
    assert_eq!(still_open, 256, "one address holds its cap, no more");
}
