//! The real binary as a process of its own, on one test's stores: for tests
//! that run several gateways side by side or kill one with SIGKILL. Killed
//! when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use boxoffice::config::Config;

use super::own_stores::free_port;

pub struct Gateway {
    child: Child,
    pub port: u16,
    pub base: String,
    env: Vec<(String, String)>,
}

/// The environment of a gateway on `config`'s stores (database, Redis or
/// cluster, key prefix, secret), admission stepping ten times a second, the
/// limits off; `extra` adds or overrides settings.
pub fn gateway_env(config: &Config, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("DATABASE_URL", config.database_url.as_str()),
        ("REDIS_URL", config.redis_url.as_str()),
        ("BOXOFFICE_REDIS_PREFIX", config.redis_prefix.as_str()),
        ("BOXOFFICE_TOKEN_SECRET", config.token_secret.as_str()),
        ("BOXOFFICE_ADMIT_TICK_MS", "100"),
        ("BOXOFFICE_JOIN_RATE_LIMIT", "0"),
        ("BOXOFFICE_POLL_RATE_LIMIT", "0"),
        ("BOXOFFICE_READ_RATE_LIMIT", "0"),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .chain(extra)
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    if !config.redis_cluster.is_empty() {
        env.push(("BOXOFFICE_REDIS_CLUSTER".into(), config.redis_cluster.join(",")));
    }
    env
}

impl Gateway {
    /// Starts one on a free port; nothing of the test's own environment leaks in.
    pub fn start(env: Vec<(String, String)>) -> Self {
        Gateway::start_on(free_port(), env)
    }

    fn start_on(port: u16, env: Vec<(String, String)>) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .env("BOXOFFICE_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the gateway starts");
        Gateway {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            env,
        }
    }

    /// SIGKILL, then the same gateway again on the same port.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Gateway::start_on(self.port, std::mem::take(&mut self.env));
    }

    /// Waits until `/ready` answers 200 (at most 60 s).
    pub async fn wait_ready(&self, client: &reqwest::Client) {
        let started = Instant::now();
        while !client
            .get(format!("{}/ready", self.base))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} did not come up",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
