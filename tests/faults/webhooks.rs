//! Webhook deliveries through a failing receiver and a gateway crash: every
//! event arrives, each signature checked by the Standard Webhooks
//! specification's own Python library (`webhook_receiver.py`), with no more
//! duplicates than the failures explain. The gateway that delivers is a
//! process of its own, killed with SIGKILL while the receiver holds one of its
//! deliveries; its successor sends that one again once the lease runs out.

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use boxoffice::config::Config;
use serde_json::{json, Value};

use crate::blocking;
use crate::helpers::gateway::{gateway_env, Gateway};
use crate::helpers::own_stores::{free_port, OwnCluster};
use crate::helpers::{eventually, json_of, test_config, Api};

const ADMIN: &str = "webhook-faults-admin";

/// The receiver process; killed when dropped.
struct PythonReceiver {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl PythonReceiver {
    fn start(secret: &str, script: &Value) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("webhook-receiver-{port}.jsonl"));
        let _ = std::fs::remove_file(&log);
        std::fs::write(&log, "").expect("the receiver's log");
        let child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/faults/webhook_receiver.py"))
            .args([port.to_string(), secret.to_string()])
            .arg(&log)
            .arg(script.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs (the receiver needs `pip install standardwebhooks`)");
        PythonReceiver {
            child,
            url: format!("http://127.0.0.1:{port}/hook"),
            log,
        }
    }

    /// Every request it got so far, as it logged them.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Whether it is still running (it exits at once when its library is missing).
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `user` tops up, waits to be admitted, holds `seat` of schedule 1 and pays.
async fn buy_through(api: &Api, user: i64, seat: i32) {
    assert_eq!(api.charge(user, 100_000).await.status(), 200);
    api.join(user).await;
    let token = eventually(Duration::from_secs(10), "admitted", || async {
        let body = json_of(api.position(user).await).await;
        (body["tokenStatus"] == "활성").then(|| body["token"].as_str().map(str::to_string))?
    })
    .await;
    assert_eq!(api.reserve(&token, 1, 1, user, &[seat]).await.status(), 200);
    assert_eq!(api.pay(&token, 1, 1, user).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with standardwebhooks and the binary; run by .ci/run"]
async fn every_event_reaches_a_failing_receiver_signed_through_a_gateway_crash() {
    every_event_arrives(test_config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis Cluster; needs python3 with standardwebhooks; run by .ci/run"]
async fn on_a_redis_cluster_too() {
    let cluster = blocking(|| OwnCluster::start(2000));
    let mut config = test_config();
    config.redis_cluster = cluster.nodes.clone();
    every_event_arrives(config).await;
}

/// The sale, the receiver, the crash and the checks, on `config`'s stores.
async fn every_event_arrives(config: Config) {
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b"thirty-two bytes of test secret!")
    );
    // Events by the order the receiver first sees them: 1 and 2 are the
    // first payment's. Event 1 is held past the moment the gateway is killed
    // (the attempt is lost with it); 3 fails with a 500; 4 gets no answer
    // within the 3 s timeout; 5 is answered late but in time.
    let script = json!({
        "1": [[6, 200]],
        "3": [[0, 500]],
        "4": [[5, 200]],
        "5": [[1, 200]],
    });
    let mut receiver = PythonReceiver::start(&secret, &script);
    let env = gateway_env(
        &config,
        &[
            ("BOXOFFICE_ADMIN_TOKEN", ADMIN),
            ("BOXOFFICE_WEBHOOK_TIMEOUT_MS", "3000"),
            ("BOXOFFICE_WEBHOOK_RETRY_FIRST_MS", "200"),
        ],
    );
    let client = reqwest::Client::new();
    let mut gateway = blocking(|| Gateway::start(env));
    gateway.wait_ready(&client).await;
    assert!(
        receiver.running(),
        "the receiver exited: is standardwebhooks installed?"
    );
    let api = gateway.api(&client);
    let registered = api
        .admin_new_webhook(
            &json!({ "url": receiver.url, "events": ["payment.completed", "seats.sold"], "secret": secret }),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let endpoint = json_of(registered).await["id"].as_str().expect("an id").to_string();

    // The first payment; the gateway dies while the receiver holds event 1
    // (and once event 2, sent beside it, is recorded delivered).
    buy_through(&api, 1, 1).await;
    eventually(Duration::from_secs(10), "event 1 held, event 2 delivered", || async {
        let deliveries = json_of(api.admin_webhook_deliveries(&endpoint).await).await;
        let delivered = deliveries
            .as_array()?
            .iter()
            .filter(|delivery| delivery["state"] == "delivered")
            .count();
        let held = receiver.requests().iter().any(|request| request["rank"] == 1);
        (held && delivered == 1).then_some(())
    })
    .await;
    blocking(|| gateway.kill_and_restart());
    gateway.wait_ready(&client).await;
    let api = gateway.api(&client);
    for user in 2..=6 {
        buy_through(&api, user, i32::try_from(user).expect("a seat")).await;
    }

    // Six payments, two events each: all delivered in the end.
    let deliveries = eventually(Duration::from_secs(60), "all 12 deliveries delivered", || async {
        let deliveries = json_of(api.admin_webhook_deliveries(&endpoint).await).await;
        let all = deliveries.as_array()?;
        (all.len() == 12 && all.iter().all(|delivery| delivery["state"] == "delivered")).then(|| all.clone())
    })
    .await;

    let requests = receiver.requests();
    let unverified: Vec<&Value> = requests.iter().filter(|request| request["verified"] != true).collect();
    assert!(
        unverified.is_empty(),
        "signatures the reference library refused: {unverified:?}"
    );
    // Each event by its rank at the receiver, and how many times it came.
    let mut times: BTreeMap<i64, (String, usize)> = BTreeMap::new();
    for request in &requests {
        let rank = request["rank"].as_i64().expect("a rank");
        let id = request["id"].as_str().unwrap_or_default().to_string();
        times.entry(rank).or_insert((id, 0)).1 += 1;
    }
    let counted: Vec<(i64, usize)> = times.iter().map(|(rank, (_, n))| (*rank, *n)).collect();
    let expected: Vec<(i64, usize)> = (1..=12)
        .map(|rank| (rank, if matches!(rank, 1 | 3 | 4) { 2 } else { 1 }))
        .collect();
    assert_eq!(counted, expected, "every event once, and again only after a failure");

    // The deliveries say what happened: event 1's first attempt was cut off
    // by the crash (begun, no outcome), 3 answered 500, 4 no answer.
    let by_id: HashMap<&str, &Value> = deliveries
        .iter()
        .map(|delivery| (delivery["webhookId"].as_str().expect("a webhook id"), delivery))
        .collect();
    let delivery = |rank: i64| by_id[times[&rank].0.as_str()];
    let statuses = |rank: i64| -> Vec<Value> {
        delivery(rank)["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|attempt| attempt.get("status").cloned().unwrap_or(Value::Null))
            .collect()
    };
    assert_eq!(delivery(1)["attemptCount"], 2);
    assert_eq!(statuses(1), vec![json!(200)], "the crashed attempt has no outcome");
    assert_eq!(statuses(3), vec![json!(500), json!(200)]);
    assert_eq!(statuses(4), vec![Value::Null, json!(200)]);
    assert_eq!(statuses(5), vec![json!(200)]);
}
