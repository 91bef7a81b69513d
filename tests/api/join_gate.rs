//! The join gate: both surfaces' joins pass one extractor, which reads each
//! queue's settings from the instance's own copy (refreshed from Postgres about
//! once a second), so a join still costs one Redis call.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::own_stores::OwnRedis;

use crate::helpers::{spawn_configured, test_config, uuid};

const CONCERT: &str = "hero-autumn";

/// Watches what clients send the Redis on `port` (`MONITOR`), leaving out
/// what scripts run inside Redis (which `INFO commandstats` would count too).
struct ClientCommands {
    monitor: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ClientCommands {
    fn watch(port: u16) -> Self {
        let mut monitor = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "monitor"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-cli runs");
        let stdout = monitor.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (watching, watched) = std::sync::mpsc::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // MONITOR answers OK once it watches.
                if line == "OK" {
                    let _ = watching.send(());
                }
                kept.lock().expect("not poisoned").push(line);
            }
        });
        watched.recv_timeout(Duration::from_secs(5)).expect("MONITOR answers");
        ClientCommands { monitor, lines }
    }

    /// Calls per command sent by clients since [`ClientCommands::watch`].
    fn stop(mut self) -> BTreeMap<String, u64> {
        // What was sent last is printed within a moment.
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.monitor.kill();
        let _ = self.monitor.wait();
        let mut calls = BTreeMap::new();
        for line in self.lines.lock().expect("not poisoned").iter() {
            if line.contains(" lua] ") {
                continue;
            }
            if let Some(command) = line.split('"').nth(1) {
                *calls.entry(command.to_ascii_lowercase()).or_insert(0) += 1;
            }
        }
        calls
    }
}

#[tokio::test]
async fn an_accepted_join_costs_one_redis_call_and_no_settings_read() {
    // A Redis of this test's own: the shared one's counters move with every test.
    let redis = OwnRedis::start();
    let mut config = test_config();
    config.redis_url = redis.url();
    config.redis_cluster = Vec::new();
    let app = spawn_configured(config).await;
    // The first join loads what the queue runs in Redis.
    assert_eq!(app.join(1).await.status(), 200);
    assert_eq!(app.v1_join(CONCERT, &uuid(1)).await.status(), 200);

    const JOINS: u64 = 100;
    let watched = ClientCommands::watch(redis.port);
    for user in 2..2 + JOINS as i64 {
        assert_eq!(app.join(user).await.status(), 200);
        assert_eq!(app.v1_join(CONCERT, &uuid(user)).await.status(), 200);
    }
    let sent = watched.stop();
    let grown: BTreeMap<&str, u64> = sent.iter().map(|(name, calls)| (name.as_str(), *calls)).collect();
    // One script run per join (each sent alone: they come one at a time);
    // the background chores (settings, catalog) add a few calls a second.
    let runs = ["evalsha", "fcall", "fcall_ro"]
        .iter()
        .map(|name| grown.get(name).copied().unwrap_or(0))
        .sum::<u64>();
    assert!(
        (2 * JOINS..2 * JOINS + 20).contains(&runs),
        "{runs} script runs for {} joins: {grown:?}",
        2 * JOINS
    );
    for (name, calls) in &grown {
        if !["evalsha", "fcall", "fcall_ro"].contains(name) {
            assert!(
                *calls < JOINS / 2,
                "{name} was called {calls} times for {} joins",
                2 * JOINS
            );
        }
    }
    app.stop().await;
}
