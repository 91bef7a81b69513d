//! The yardstick: a bare axum route doing exactly one ZRANK on one multiplexed
//! Redis connection and returning a small JSON. Whatever the real poll route
//! adds on top (token signing, a Lua script, validation) is measured against it.
//!
//! `GET /gate/{queue}` answers 200 with nothing else: the bare axum route the
//! gate benchmark (`loadtest/gate.sh`) sets boxoffice's forward-auth check
//! against, behind the same nginx config (hence boxoffice's path).
//!
//! `CEILING_ADDR` (default 127.0.0.1:8090), `REDIS_URL`, `CEILING_KEY`
//! (the sorted set to rank in; the benchmark fills it).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use redis::aio::MultiplexedConnection;
use serde_json::{json, Value};

#[derive(Clone)]
struct Ceiling {
    redis: MultiplexedConnection,
    key: String,
}

async fn position(State(ceiling): State<Ceiling>, headers: HeaderMap) -> Json<Value> {
    let user = headers
        .get("user-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("1")
        .to_string();
    let mut redis = ceiling.redis.clone();
    let rank: Option<u64> = redis::cmd("ZRANK")
        .arg(&ceiling.key)
        .arg(&user)
        .query_async(&mut redis)
        .await
        .ok()
        .flatten();
    Json(json!({ "userId": user, "position": rank.map(|r| r + 1) }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("CEILING_ADDR").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let key = std::env::var("CEILING_KEY").unwrap_or_else(|_| "ceiling:waiting".into());
    let redis = redis::Client::open(url)?.get_multiplexed_async_connection().await?;
    let app = Router::new()
        .route("/position", get(position))
        .route("/gate/{queue}", get(|| async {}))
        .with_state(Ceiling { redis, key });
    // The same socket setting as boxoffice, so the ratio compares work, not TCP options.
    let listener = tokio::net::TcpListener::bind(&addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("ceiling listening on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
