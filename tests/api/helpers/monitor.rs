//! What clients send a Redis of a test's own, watched with `MONITOR`: how
//! many calls a request costs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Watches what clients send the Redis on `port` (`MONITOR`), leaving out
/// what scripts run inside Redis (which `INFO commandstats` would count too).
pub struct ClientCommands {
    monitor: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ClientCommands {
    pub fn watch(port: u16) -> Self {
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
    pub fn stop(mut self) -> BTreeMap<String, u64> {
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
