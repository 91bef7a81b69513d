//! The real binary as a process of its own, on one test's stores: for tests
//! that run several gateways side by side, kill one with SIGKILL, or hold one
//! to an open-file limit. Killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice::config::Config;

use super::call::Api;
use super::own_stores::free_port;
use super::poll::eventually;

pub struct Gateway {
    child: Child,
    pub port: u16,
    pub base: String,
    /// What it was started with (its environment, its open-file limit), for a restart.
    restart: (Vec<(String, String)>, Option<u32>),
    /// Its stdout's lines so far, when started with [`Gateway::start_logging`].
    lines: Arc<Mutex<Vec<String>>>,
}

/// The environment of a gateway on `config`'s stores (database, Redis or
/// cluster, key prefix, secret), admission stepping ten times a second, the
/// limits off (the per-address connection cap too); `extra` adds or overrides settings.
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
        ("BOXOFFICE_MAX_CONNECTIONS_PER_IP", "0"),
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
        Gateway::start_on(free_port(), env, None, Stdio::null())
    }

    /// Started with its stdout kept, line by line ([`Gateway::log_lines`]).
    #[allow(dead_code)]
    pub fn start_logging(env: Vec<(String, String)>) -> Self {
        let mut gateway = Gateway::start_on(free_port(), env, None, Stdio::piped());
        if let Some(stdout) = gateway.child.stdout.take() {
            let lines = gateway.lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    lines.lock().expect("not poisoned").push(line);
                }
            });
        }
        gateway
    }

    /// What it wrote to stdout so far (only when started with [`Gateway::start_logging`]).
    #[allow(dead_code)]
    pub fn log_lines(&self) -> Vec<String> {
        self.lines.lock().expect("not poisoned").clone()
    }

    /// Started with at most `open_files` descriptors (`ulimit -n`, soft and hard).
    pub fn start_with_open_files(env: Vec<(String, String)>, open_files: u32) -> Self {
        Gateway::start_on(free_port(), env, Some(open_files), Stdio::null())
    }

    fn start_on(port: u16, env: Vec<(String, String)>, open_files: Option<u32>, stdout: Stdio) -> Self {
        let binary = env!("CARGO_BIN_EXE_boxoffice");
        let mut command = match open_files {
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.args(["-c", r#"ulimit -n "$1" && exec "$0""#, binary, &limit.to_string()]);
                shell
            }
            None => Command::new(binary),
        };
        let child = command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .env("BOXOFFICE_ADDR", format!("127.0.0.1:{port}"))
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("the gateway starts");
        Gateway {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            restart: (env, open_files),
            lines: Arc::default(),
        }
    }

    /// Its endpoints, called through `client` (with the admin token it was given, if any).
    pub fn api(&self, client: &reqwest::Client) -> Api {
        let admin_token = self
            .restart
            .0
            .iter()
            .find(|(name, _)| name == "BOXOFFICE_ADMIN_TOKEN")
            .map(|(_, token)| token.clone());
        Api::new(client.clone(), self.base.clone(), admin_token)
    }

    /// SIGKILL, then the same gateway again on the same port.
    #[allow(dead_code)]
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (env, open_files) = std::mem::take(&mut self.restart);
        *self = Gateway::start_on(self.port, env, open_files, Stdio::null());
    }

    /// Waits until `/ready` answers 200 (at most 60 s).
    pub async fn wait_ready(&self, client: &reqwest::Client) {
        let api = self.api(client);
        eventually(Duration::from_secs(60), format!("{} coming up", self.base), || async {
            let ready = api.ready().send().await;
            ready.is_ok_and(|response| response.status() == 200).then_some(())
        })
        .await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
