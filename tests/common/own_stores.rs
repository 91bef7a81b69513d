//! A Redis and a Postgres of a test's own, on ports of their own, for tests
//! that kill, stop or freeze a store: the shared ones are never touched. Each
//! is removed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

/// `redis-server` without persistence on a port of its own.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> Self {
        let mut redis = OwnRedis {
            port: free_port(),
            child: None,
        };
        redis.launch();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        self.child = Some(child);
        let port = self.port.to_string();
        wait_for("redis-server", || {
            run(Command::new("redis-cli").args(["-p", &port, "ping"]))
        });
    }

    /// SIGKILL: everything in it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new, empty Redis on the same port.
    pub fn restart_empty(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster of its own (`pg_createcluster`, trust auth on loopback).
pub struct OwnPostgres {
    pub port: u16,
    version: String,
    name: String,
}

impl OwnPostgres {
    pub fn start() -> Self {
        let version = std::fs::read_dir("/etc/postgresql")
            .ok()
            .and_then(|entries| entries.flatten().next())
            .map(|entry| entry.file_name().to_string_lossy().to_string())
            .expect("PostgreSQL's Debian tools (/etc/postgresql)");
        let port = free_port();
        let name = format!("bo_fault_{port}");
        assert!(
            run(Command::new("pg_createcluster").args([
                &version,
                &name,
                "-p",
                &port.to_string(),
                "--",
                "--auth=trust"
            ])),
            "pg_createcluster {name}"
        );
        let postgres = OwnPostgres { port, version, name };
        postgres.start_again();
        postgres
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn ctl(&self, action: &str, extra: &[&str]) -> bool {
        run(Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, &self.name, action])
            .args(extra))
    }

    pub fn start_again(&self) {
        assert!(self.ctl("start", &[]), "pg_ctlcluster start {}", self.name);
        let port = self.port.to_string();
        wait_for("postgres", || {
            run(Command::new("pg_isready").args(["-h", "127.0.0.1", "-p", &port]))
        });
    }

    /// A fast shutdown: connections are cut, nothing more is accepted.
    pub fn stop(&self) {
        self.ctl("stop", &["-m", "fast"]);
    }

    /// Every process of the cluster, postmaster first.
    fn pids(&self) -> Vec<String> {
        let pid_file = format!("/var/lib/postgresql/{}/{}/postmaster.pid", self.version, self.name);
        let Some(postmaster) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_string))
        else {
            return Vec::new();
        };
        let children = Command::new("pgrep")
            .args(["-P", &postmaster])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).to_string())
            .unwrap_or_default();
        std::iter::once(postmaster)
            .chain(children.lines().map(str::to_string))
            .collect()
    }

    /// SIGSTOP to every process of the cluster: it hangs, holding every connection.
    pub fn freeze(&self) {
        for pid in self.pids() {
            run(Command::new("kill").args(["-STOP", &pid]));
        }
    }

    pub fn thaw(&self) {
        for pid in self.pids() {
            run(Command::new("kill").args(["-CONT", &pid]));
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.thaw();
        run(Command::new("pg_dropcluster").args([&self.version, &self.name, "--stop"]));
    }
}
