//! Starts the real application in-process on a random port, against the real
//! Redis and Postgres, with a database and a Redis key prefix of its own, so
//! tests run in parallel without seeing each other.

use std::net::TcpStream;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use boxoffice::config::Config;
use boxoffice::http::AppState;
use boxoffice::queue::{AdmissionLimits, AdmissionStep};
use boxoffice::startup::Application;
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use tokio::sync::oneshot;

pub mod gateway;
// Stores of a test's own, for the fault suite (the integration crate takes only free_port).
#[allow(dead_code)]
pub mod own_stores;

pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/boxoffice";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn base_database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE.to_string())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS.to_string())
}

/// The server part of the base URL with another database name.
pub fn database_url_named(name: &str) -> String {
    let base = base_database_url();
    let server = base.rsplit_once('/').map(|(server, _)| server).unwrap_or(&base);
    format!("{server}/{name}")
}

fn unique_suffix() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}_{:08x}", rand::random::<u32>())
}

/// Config for one test: its own database and key prefix, port 0, no background
/// scheduler (tests step it), no join rate limit nor per-address connection cap
/// (every client of a test is 127.0.0.1), fast housekeeping. With
/// `BOXOFFICE_REDIS_CLUSTER` set (`scripts/redis-cluster.sh start` prints it),
/// every test runs against that Redis Cluster instead, as `.ci/run` does once.
pub fn test_config() -> Config {
    services_must_run();
    let mut config = Config::from_env();
    let suffix = unique_suffix();
    config.addr = "127.0.0.1:0".into();
    config.database_url = database_url_named(&format!("bo_test_{suffix}"));
    config.redis_url = redis_url();
    config.redis_prefix = format!("t{suffix}");
    config.token_secret = "test-secret".into();
    config.queue.run_scheduler = false;
    config.queue.join_rate_limit = 0;
    config.limits.poll_rate_limit = 0;
    config.limits.read_rate_limit = 0;
    config.connections.max_connections_per_ip = 0;
    config.db_max_connections = 10;
    config.command = None;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    customize(&mut config);
    spawn_configured(config).await
}

pub async fn spawn_configured(config: Config) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        boxoffice::telemetry::init();
    }
    let app = Application::build(config.clone()).await.expect("the app builds");
    let port = app.port();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        state,
        config,
        stop: Some(stop),
        server: Some(server),
    }
}

/// Fails early, with the fix, when Redis or Postgres is not running.
fn services_must_run() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        for (name, addr) in [("Redis", "127.0.0.1:6379"), ("Postgres", "127.0.0.1:5432")] {
            let reachable = addr
                .parse()
                .ok()
                .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
            assert!(
                reachable,
                "{name} is not running on {addr}: run ./scripts/services.sh first"
            );
        }
        // Called from inside a test's runtime: do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(drop_stale_test_databases).join();
    });
}

/// Test databases older than a few hours are leftovers of earlier runs.
fn drop_stale_test_databases() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    runtime.block_on(async {
        use sqlx::{Connection, PgConnection};
        let Ok(mut admin) = PgConnection::connect(&database_url_named("postgres")).await else {
            return;
        };
        let cutoff = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            - 3 * 3600;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'bo\\_test\\_%'")
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
        for name in names {
            let created = name
                .split('_')
                .nth(2)
                .and_then(|secs| secs.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if created < cutoff {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    });
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn default_queue(&self) -> String {
        self.config.queue.default_queue.clone()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Joins the default queue through HTTP.
    pub async fn join(&self, user_id: i64) -> Response {
        self.client
            .post(self.url("/api/waiting-queue/"))
            .header("user-id", user_id.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn position(&self, user_id: i64) -> Response {
        self.client
            .get(self.url("/api/waiting-queue/position"))
            .header("user-id", user_id.to_string())
            .send()
            .await
            .expect("request")
    }

    /// Admits everyone waiting in `queue`, ignoring capacity and rate.
    pub async fn admit_everyone(&self, queue: &str) -> AdmissionStep {
        let limits = AdmissionLimits {
            max_active: 0,
            rate: 0,
            tick_ms: 1000,
            max_users_per_step: 1_000_000,
        };
        self.state
            .scheduler
            .admit_with(queue, limits)
            .await
            .expect("admission step")
    }

    /// Joins the default queue and gets admitted; returns the active token.
    pub async fn active_token(&self, user_id: i64) -> String {
        let body = json_of(self.join(user_id).await).await;
        self.admit_everyone(&self.default_queue()).await;
        body["token"].as_str().expect("a token").to_string()
    }

    pub async fn charge(&self, user_id: i64, amount: i64) -> Response {
        self.client
            .patch(self.url("/api/balances/balance/charge"))
            .header("user-id", user_id.to_string())
            .body(amount.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn balance(&self, user_id: i64) -> i64 {
        let response = self
            .client
            .get(self.url("/api/balances/balance/"))
            .header("user-id", user_id.to_string())
            .send()
            .await
            .expect("request");
        json_of(response).await["amount"].as_i64().expect("an amount")
    }

    pub fn reserve(&self, token: &str, concert: i64, schedule: i64, user_id: i64, seats: &[i32]) -> RequestBuilder {
        self.client
            .post(self.url(&format!(
                "/api/concerts/{concert}/schedules/{schedule}/seats/reservation"
            )))
            .header("Token", token)
            .json(&serde_json::json!({ "userId": user_id, "seats": seats }))
    }

    pub fn pay(&self, token: &str, concert: i64, schedule: i64, user_id: i64) -> RequestBuilder {
        self.client
            .post(self.url(&format!(
                "/api/concerts/{concert}/schedules/{schedule}/seats/reservation/payment"
            )))
            .header("Token", token)
            .json(&serde_json::json!({ "userId": user_id, "concertScheduleId": schedule }))
    }

    /// Deletes every Redis key of this test (as if Redis had restarted).
    pub async fn flush_redis(&self) {
        let mut redis = self.state.redis.connection().await.expect("redis");
        let pattern = format!("{{{}:*", self.config.redis_prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut redis)
            .await
            .expect("keys");
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<i64>(&mut redis)
                .await
                .expect("del");
        }
    }
}

pub async fn json_of(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON (status {status}): {text}"))
}

/// Asserts a JSON error answer and returns its body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body = json_of(response).await;
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    body
}
