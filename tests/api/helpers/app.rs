//! The real application in-process on a random port, against the real Redis
//! and Postgres, with a database and a Redis key prefix of its own.

use std::collections::HashMap;
use std::net::TcpStream;
use std::ops::Deref;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use boxoffice::config::Config;
use boxoffice::http::AppState;
use boxoffice::queue::{AdmissionLimits, AdmissionStep};
use boxoffice::startup::Application;
use tokio::sync::oneshot;

use super::call::Api;
use super::json_of;
use super::keys::Keys;

pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/boxoffice";

/// The application, its services (to step the scheduler or query Postgres
/// directly) and, through `Deref`, its endpoints ([`Api`]).
pub struct TestApp {
    api: Api,
    pub port: u16,
    pub state: AppState,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
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
        boxoffice::telemetry::init(boxoffice::config::LogFormat::Text);
    }
    let app = Application::build(config.clone()).await.expect("the app builds");
    let port = app.port();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        api: Api::new(client, format!("http://127.0.0.1:{port}"), config.admin_token.clone()),
        port,
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
    pub fn default_queue(&self) -> String {
        self.config.queue.default_queue.clone()
    }

    /// The Redis keys of this test's prefix.
    pub fn keys(&self) -> Keys<'_> {
        Keys::new(&self.config.redis_prefix)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
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

    /// Joins the default queue, gets admitted and polls: the token as the
    /// poll gives it, signed with the admission's end (it books even after
    /// Redis lost the admission).
    pub async fn admitted_token(&self, user_id: i64) -> String {
        self.join(user_id).await;
        self.admit_everyone(&self.default_queue()).await;
        json_of(self.position(user_id).await).await["token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// Joins all `users` to the default queue and admits them; their tokens.
    pub async fn admitted(&self, users: impl IntoIterator<Item = i64>) -> HashMap<i64, String> {
        let mut tokens = HashMap::new();
        for user in users {
            let body = json_of(self.join(user).await).await;
            tokens.insert(user, body["token"].as_str().expect("a token").to_string());
        }
        self.admit_everyone(&self.default_queue()).await;
        tokens
    }

    /// Takes a place in `code`'s queue through `/api/v1` and gets admitted; the token.
    pub async fn v1_active_token(&self, code: &str, user: i64) -> String {
        let token = self.v1_token(code, &super::uuid(user)).await;
        self.admit_everyone(code).await;
        token
    }

    /// Deletes every Redis key of this test (as if Redis had restarted).
    pub async fn flush_redis(&self) {
        let mut redis = self.state.redis.connection().await.expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(self.keys().every_key())
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
