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

/// A Redis Cluster of a test's own (3 masters, 3 replicas, started by
/// `scripts/redis-cluster.sh` on free ports), removed when dropped.
pub struct OwnCluster {
    base_port: u16,
    pub nodes: Vec<String>,
}

impl OwnCluster {
    /// `node_timeout_ms`: how soon a silent master is failed over.
    pub fn start(node_timeout_ms: u64) -> Self {
        // Six ports in a row, clear of the shared Redis and of other tests, and
        // below the kernel's ephemeral range with their bus ports (+10000).
        let base_port = 12_000 + (std::process::id() % 900) as u16 * 10;
        let output = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-cluster.sh"))
            .arg("start")
            .env("CLUSTER_BASE_PORT", base_port.to_string())
            .env("CLUSTER_NODE_TIMEOUT_MS", node_timeout_ms.to_string())
            .output()
            .expect("scripts/redis-cluster.sh runs");
        let mut cluster = OwnCluster {
            base_port,
            nodes: Vec::new(),
        };
        // On failure, dropping `cluster` removes whatever did start.
        assert!(
            output.status.success(),
            "the cluster did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.nodes = String::from_utf8_lossy(&output.stdout)
            .trim()
            .split(',')
            .map(str::to_string)
            .collect();
        cluster
    }

    /// The port of the master that serves `key` now.
    pub fn master_of(&self, key: &str) -> u16 {
        let any = self.base_port.to_string();
        let slot: u16 = String::from_utf8_lossy(
            &Command::new("redis-cli")
                .args(["-p", &any, "cluster", "keyslot", key])
                .output()
                .expect("redis-cli")
                .stdout,
        )
        .trim()
        .parse()
        .expect("a slot");
        let nodes = Command::new("redis-cli")
            .args(["-p", &any, "cluster", "nodes"])
            .output()
            .expect("redis-cli")
            .stdout;
        for line in String::from_utf8_lossy(&nodes).lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(low), Ok(high)) if (low..=high).contains(&slot))
            });
            if serves {
                let address = fields[1].split('@').next().unwrap_or_default();
                return address
                    .rsplit(':')
                    .next()
                    .and_then(|port| port.parse().ok())
                    .expect("a port");
            }
        }
        panic!("no master serves slot {slot}");
    }

    /// SIGKILL of one node, as a crashed machine.
    pub fn kill(&self, port: u16) {
        let dir = format!("/tmp/boxoffice-redis-cluster-{}", self.base_port);
        let pid = std::fs::read_to_string(format!("{dir}/{port}.pid")).expect("the node's pid file");
        assert!(run(Command::new("kill").args(["-9", pid.trim()])), "kill -9 {port}");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-cluster.sh"))
            .arg("stop")
            .env("CLUSTER_BASE_PORT", self.base_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
