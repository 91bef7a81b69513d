//! Many gateways, one line: three boxoffice processes on one Redis (or, with
//! `BOXOFFICE_REDIS_CLUSTER` set, one Redis Cluster) and one Postgres. Places
//! follow join order whichever process served the join, admission in total
//! keeps to the rate and the capacity, and a rush spread over all three sells
//! no seat twice.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::helpers::gateway::{gateway_env, Gateway};
use crate::helpers::{eventually, json_of, test_config, Api, ADMIN};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

async fn queue_figures(gateway: &Api) -> Value {
    let queues = json_of(gateway.ops_queues().await).await;
    queues
        .as_array()
        .unwrap()
        .iter()
        .find(|queue| queue["name"] == "default")
        .cloned()
        .expect("the default queue")
}

async fn settings(gateway: &Api, body: Value) {
    let response = gateway.admin_set_queue("default", &body).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
}

async fn join(gateway: &Api, user: i64) -> Value {
    let response = gateway.join(user).await;
    assert_eq!(response.status(), 200);
    json_of(response).await
}

#[tokio::test]
async fn three_gateways_keep_one_line_one_rate_and_sell_each_seat_once() {
    let config = test_config();
    let env = gateway_env(&config, &[("BOXOFFICE_ADMIN_TOKEN", ADMIN)]);
    let client = reqwest::Client::new();
    // The first creates and migrates the database; then the other two.
    let first = Gateway::start(env.clone());
    first.wait_ready(&client).await;
    let processes = [first, Gateway::start(env.clone()), Gateway::start(env)];
    for gateway in &processes[1..] {
        gateway.wait_ready(&client).await;
    }
    let gateways = processes.each_ref().map(|gateway| gateway.api(&client));
    settings(&gateways[0], json!({ "state": "paused" })).await;

    // One after another, each through the next gateway: places in join order.
    for user in 1..=300_i64 {
        let gateway = &gateways[(user % 3) as usize];
        let answer = join(gateway, user).await;
        assert_eq!(answer["position"], user, "user {user} through {}", gateway.address);
    }
    // At once through all three: the next places, each exactly once.
    let mut places: Vec<u64> = stream::iter(301..=600_i64)
        .map(|user| {
            let gateway = &gateways[(user % 3) as usize];
            async move { join(gateway, user).await["position"].as_u64().unwrap() }
        })
        .buffer_unordered(30)
        .collect()
        .await;
    places.sort_unstable();
    assert_eq!(places, (301..=600).collect::<Vec<u64>>());

    // Every gateway runs admission ten times a second: together they keep to
    // the rate and the capacity set once.
    let (rate, capacity) = (40_u64, 150_u64);
    settings(
        &gateways[1],
        json!({ "state": "open", "admitRate": rate, "maxActive": capacity }),
    )
    .await;
    let started = Instant::now();
    let most_active = Cell::new(0);
    let admitted = eventually(Duration::from_secs(15), "admission up to the capacity", || async {
        let figures = queue_figures(&gateways[2]).await;
        let admitted = figures["admitted"].as_u64().unwrap();
        most_active.set(most_active.get().max(figures["active"].as_u64().unwrap()));
        let elapsed = started.elapsed().as_secs_f64();
        // One second's allowance may be spent at once, then the rate.
        assert!(
            admitted as f64 <= rate as f64 * (elapsed + 1.0),
            "{admitted} admitted in {elapsed:.1} s at {rate}/s"
        );
        (admitted >= capacity).then_some(admitted)
    })
    .await;
    let most_active = most_active.get();
    // Whether admission goes past the capacity shows only by letting it have the time to.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let figures = queue_figures(&gateways[0]).await;
    assert_eq!(admitted, capacity, "admission stopped short");
    assert_eq!(figures["active"], capacity, "the capacity is the capacity: {figures}");
    assert!(most_active <= capacity);

    // The admitted are the first in line, whichever gateway is asked.
    for user in [1_i64, 75, 150, 151, 400] {
        let gateway = &gateways[(user % 3) as usize];
        let position = json_of(gateway.position(user).await).await;
        let expected = if user <= capacity as i64 { "활성" } else { "대기" };
        assert_eq!(position["tokenStatus"], expected, "user {user}: {position}");
    }

    // The rush: 150 admitted buyers, 10 per seat, each step through any gateway.
    let outcomes: Vec<(u16, i64)> = stream::iter(1..=capacity as i64)
        .map(|user| {
            let (a, b, c) = (
                &gateways[(user % 3) as usize],
                &gateways[((user + 1) % 3) as usize],
                &gateways[((user + 2) % 3) as usize],
            );
            async move {
                let token = join(a, user).await["token"].as_str().unwrap().to_string();
                let charged = b.charge(user, 10_000).await;
                assert_eq!(charged.status(), 200);
                let seat = (user % 15 + 1) as i32;
                let held = c.reserve(&token, 1, 1, user, &[seat]).await;
                if held.status() != 200 {
                    return (held.status().as_u16(), user);
                }
                let paid = a.pay(&token, 1, 1, user).await;
                (paid.status().as_u16(), user)
            }
        })
        .buffer_unordered(30)
        .collect()
        .await;
    let paid = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert!(
        outcomes.iter().all(|(status, _)| *status == 200 || *status == 409),
        "only sales and refusals of a taken seat: {outcomes:?}"
    );
    assert_eq!(paid, 15, "each of the 15 seats sold exactly once: {outcomes:?}");
    for gateway in &gateways {
        let audit = gateway.ops_invariants().await;
        assert_eq!(audit.status(), 200, "{}", json_of(audit).await);
    }
}
