//! Joins and polls of one queue are coalesced into batched script runs while a
//! run is in flight. These tests drive many users at once, so that joins and
//! polls of different users (and of the same user) share runs, and check that
//! every answer is what the queue promises of a call made alone: places in
//! join order and exact, a repeated join answered with the same place and
//! token, abandonment and expiry as before.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::helpers::{json_of, metric_value, spawn_app_with, TestApp};
use futures::future::join_all;
use serde_json::Value;

/// A queue name of this test's own, so its counters on /metrics are its own.
fn own_queue(name: &str) -> String {
    format!("{name}-{}", rand::random::<u32>())
}

/// Joins and polls this instance sent for `queue`: (script runs, entries).
async fn runs_and_entries(app: &TestApp, queue: &str) -> (f64, f64) {
    let text = app.metrics_text().await;
    let counter = |name: &str| metric_value(&text, &format!("{name}{{queue=\"{queue}\"}} ")).unwrap_or(0.0);
    (
        counter("boxoffice_queue_standing_calls_total"),
        counter("boxoffice_queue_standing_entries_total"),
    )
}

type JoinAndPoll = (Option<Value>, Option<(u16, Value)>);

#[derive(Debug, Clone)]
enum Call {
    Join(i64),
    Poll(i64),
}

async fn send(app: &TestApp, call: &Call) -> (u16, Value) {
    let response = match call {
        Call::Join(user) => app.join(*user).await,
        Call::Poll(user) => app.position(*user).await,
    };
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

#[tokio::test]
async fn joins_and_polls_of_many_users_interleaved_in_one_batch_answer_as_if_alone() {
    let queue = own_queue("interleave");
    let app = spawn_app_with(|config| {
        config.queue.default_queue = queue.clone();
        config.queue.batch_max = 64;
    })
    .await;
    // 1..=200 are in line, in that order, one after another.
    let mut first = HashMap::new();
    for user in 1..=200 {
        first.insert(user, json_of(app.join(user).await).await);
    }
    let (runs_before, entries_before) = runs_and_entries(&app, &queue).await;
    assert_eq!((runs_before, entries_before), (200.0, 200.0), "one at a time: alone");

    // At once: everyone in line polls, a quarter of them join again, 200
    // newcomers join, 50 who never joined poll, and 20 newcomers join and
    // poll together.
    let mut calls: Vec<Call> = Vec::new();
    for user in 1..=200 {
        calls.push(Call::Poll(user));
        if user % 4 == 0 {
            calls.push(Call::Join(user));
        }
        calls.push(Call::Join(200 + user));
        if user <= 50 {
            calls.push(Call::Poll(500 + user));
        }
        if user <= 20 {
            calls.push(Call::Join(600 + user));
            calls.push(Call::Poll(600 + user));
        }
    }
    let answers = join_all(calls.iter().map(|call| send(&app, call))).await;

    let mut newcomer_places = HashMap::new();
    // Newcomers who joined and polled at once: the join's answer, the poll's.
    let mut pairs: HashMap<i64, JoinAndPoll> = HashMap::new();
    for (call, (status, body)) in calls.iter().zip(answers) {
        match *call {
            Call::Poll(user) if user <= 200 => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["position"], first[&user]["position"], "user {user}: {body}");
                assert_eq!(body["token"], first[&user]["token"], "user {user}");
            }
            Call::Join(user) if user <= 200 => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(
                    body["position"], first[&user]["position"],
                    "a repeated join, user {user}"
                );
                assert_eq!(body["token"], first[&user]["token"], "a repeated join, user {user}");
            }
            Call::Join(user) if user <= 400 => {
                assert_eq!((status, &body["tokenStatus"]), (200, &Value::from("대기")), "{body}");
                newcomer_places.insert(user, body["position"].as_u64().expect("a position"));
            }
            Call::Poll(user) if (501..=550).contains(&user) => {
                assert_eq!(
                    (status, body["code"].as_str()),
                    (404, Some("TOKEN_NOT_FOUND")),
                    "{body}"
                );
            }
            Call::Join(user) => {
                assert_eq!((status, &body["tokenStatus"]), (200, &Value::from("대기")), "{body}");
                newcomer_places.insert(user, body["position"].as_u64().expect("a position"));
                pairs.entry(user).or_default().0 = Some(body);
            }
            Call::Poll(user) => pairs.entry(user).or_default().1 = Some((status, body)),
        }
    }

    // Newcomers got distinct places right behind the 200, and the places they
    // were told are the places they hold.
    let total = 200 + 200 + 20;
    let places: HashSet<u64> = newcomer_places.values().copied().collect();
    assert_eq!(places.len(), 220, "distinct places");
    for (user, place) in &newcomer_places {
        assert!((201..=total).contains(place), "user {user} at {place}");
        let now = json_of(app.position(*user).await).await;
        assert_eq!(now["position"].as_u64(), Some(*place), "user {user}");
    }
    // A join and a poll of the same newcomer: the poll came before the join
    // (never joined) or saw the join's place and token.
    assert_eq!(pairs.len(), 20);
    for (user, pair) in &pairs {
        let (Some(join), Some((status, poll))) = pair else {
            panic!("user {user}: {pair:?}");
        };
        match status {
            200 => {
                assert_eq!(poll["token"], join["token"], "user {user}");
                assert_eq!(poll["position"], join["position"], "user {user}");
            }
            404 => assert_eq!(poll["code"], "TOKEN_NOT_FOUND", "user {user}"),
            other => panic!("user {user}: {other} {poll}"),
        }
    }
    let stats = app.state.scheduler.stats(&queue).await.unwrap();
    assert_eq!((stats.waiting, stats.joined), (total, total));

    // And they did share runs.
    let (runs, entries) = runs_and_entries(&app, &queue).await;
    // Less the polls, one at a time, that checked the newcomers' places.
    let checks = newcomer_places.len() as f64;
    let burst_runs = runs - runs_before - checks;
    let burst_entries = entries - entries_before - checks;
    assert_eq!(burst_entries, calls.len() as f64);
    assert!(
        burst_runs < burst_entries / 2.0,
        "{burst_entries} joins and polls in {burst_runs} runs"
    );
    app.stop().await;
}

#[tokio::test]
async fn in_one_batch_the_quiet_lose_their_places_and_everyone_behind_moves_up() {
    let queue = own_queue("abandon");
    let app = spawn_app_with(|config| {
        config.queue.default_queue = queue.clone();
        config.queue.idle_timeout_s = 1;
    })
    .await;
    for user in 1..=60 {
        app.join(user).await;
    }
    // The even users keep polling; the odd ones go quiet past the idle timeout.
    // (The idle timeout passing is the behaviour.)
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(350)).await;
        join_all((2..=60).step_by(2).map(|user| app.position(user))).await;
    }
    // All at once: the quiet ones poll (too late) or join again, the rest poll,
    // newcomers join.
    let mut calls = Vec::new();
    for user in 1..=60 {
        calls.push(if user % 4 == 1 {
            Call::Join(user)
        } else {
            Call::Poll(user)
        });
        calls.push(Call::Join(100 + user));
    }
    let answers = join_all(calls.iter().map(|call| send(&app, call))).await;
    for (call, (status, body)) in calls.iter().zip(&answers) {
        assert_eq!(*status, 200, "{call:?}: {body}");
        match *call {
            Call::Poll(user) if user % 2 == 1 => assert_eq!(body["tokenStatus"], "만료", "{user}: {body}"),
            Call::Join(user) if user <= 60 => {
                assert_eq!(body["tokenStatus"], "대기", "{user}: {body}");
            }
            _ => assert_eq!(body["tokenStatus"], "대기", "{call:?}: {body}"),
        }
    }
    // Afterwards the line is exact: places 1..n without a gap, the 30 who kept
    // polling first in their old order, then everyone else in join order.
    let mut line: Vec<(u64, i64)> = Vec::new();
    for user in (1..=60).chain(101..=160) {
        let body = json_of(app.position(user).await).await;
        if body["tokenStatus"] == "대기" {
            line.push((body["position"].as_u64().expect("a position"), user));
        }
    }
    line.sort_unstable();
    let places: Vec<u64> = line.iter().map(|(place, _)| *place).collect();
    assert_eq!(places, (1..=line.len() as u64).collect::<Vec<_>>(), "{line:?}");
    assert_eq!(line.len(), 30 + 15 + 60, "the patient, the rejoined, the newcomers");
    let patient: Vec<i64> = line[..30].iter().map(|(_, user)| *user).collect();
    assert_eq!(patient, (2..=60).step_by(2).collect::<Vec<_>>());
    let stats = app.state.scheduler.stats(&queue).await.unwrap();
    assert_eq!(stats.waiting, line.len() as u64);
    app.stop().await;
}
