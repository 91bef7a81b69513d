//! The invariant audit as operators and load tests use it: safe to call during
//! a sale (it never reports a sale in flight as a violation), unable to slow
//! payments however often it is called, and able to run whatever is stored.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{assert_error, eventually, json_of, spawn_app_with, TestApp, ADMIN};
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use rand::seq::IndexedRandom;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

/// A fresh audit: a run that began after the request arrived.
async fn fresh_audit(app: &TestApp) -> (u16, Value) {
    let response = app.admin_invariants().await;
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

async fn open_audit(app: &TestApp) -> (u16, Value) {
    let response = app.ops_invariants().await;
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

#[tokio::test]
async fn twenty_callers_share_one_audit_and_charges_never_wait_behind_it() {
    let app = spawn_app_with(|config| {
        // A serving pool the audit could exhaust, and a charge that waits
        // longer than this for a connection is a 503.
        config.db_max_connections = 2;
        config.db_acquire_timeout_ms = 500;
    })
    .await;
    // A ledger long enough that one audit costs Postgres a while (user 1000's
    // zero-won entries: every invariant still holds). Written on a connection
    // of the test's own, beyond the serving statement timeout.
    let mut setup = PgConnection::connect(&app.config.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO balance_ledger (user_id, delta, balance_after, reason)
         SELECT 1000, 0, 0, 'charge' FROM generate_series(1, 300000)",
    )
    .execute(&mut setup)
    .await
    .unwrap();
    setup.close().await.unwrap();

    // Twenty at once: one run answers them all.
    let answers = join_all((0..20).map(|_| open_audit(&app))).await;
    let runs: BTreeSet<String> = answers
        .iter()
        .map(|(status, report)| {
            assert_eq!(*status, 200, "{report}");
            report["checked_at"].as_str().expect("checked_at").to_string()
        })
        .collect();
    assert_eq!(runs.len(), 1, "twenty callers, one run: {runs:?}");

    // Twenty in a loop while a buyer tops up, again and again.
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let callers = join_all((0..20).map(|_| async {
        let mut seen = BTreeSet::new();
        while !stop.load(Ordering::Relaxed) {
            let (status, report) = open_audit(&app).await;
            assert_eq!(status, 200, "{report}");
            seen.insert(report["checked_at"].as_str().unwrap().to_string());
        }
        seen
    }));
    let charges = async {
        let mut statuses = Vec::new();
        for round in 0..40 {
            let response = app.charge(1 + round % 5, 1000).await;
            statuses.push((response.status().as_u16(), response.text().await.unwrap()));
        }
        stop.store(true, Ordering::Relaxed);
        statuses
    };
    let (seen, statuses) = tokio::join!(callers, charges);
    let refused: Vec<_> = statuses.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        refused.is_empty(),
        "charges refused while the audit was called: {refused:?}"
    );
    let runs: BTreeSet<String> = seen.into_iter().flatten().collect();
    let most = started.elapsed().as_millis() / 2000 + 2;
    assert!(
        runs.len() as u128 <= most,
        "{} runs in {:?}: at most one per 2 s",
        runs.len(),
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_audit_sampled_all_through_a_rush_finds_nothing_wrong() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let buyers = app.admitted(1..=400).await;
    for user in buyers.keys() {
        assert_eq!(app.charge(*user, 20_000).await.status(), 200);
    }

    let rushing = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (app, rushing) = (&app, rushing.clone());
        async move {
            let mut samples = Vec::new();
            while rushing.load(Ordering::Relaxed) {
                samples.push(fresh_audit(app).await);
                // Sampled every 50 ms for as long as the rush lasts: the samples are the evidence.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            samples
        }
    };
    // Concert 1's three schedules and concert 2's two: 250 seats, 400 buyers
    // holding one or two and paying at once, 8 at a time, arriving 6 ms apart:
    // the rush lasts at least 2.4 s however fast the machine, so the audit
    // is sampled all through it (a rush of a few hundred ms left too few
    // samples on a quiet machine).
    let rush = async {
        let app = &app;
        let paid = stream::iter(&buyers)
            .then(|buyer| async move {
                tokio::time::sleep(Duration::from_millis(6)).await;
                buyer
            })
            .map(|(user, token)| async move {
                for _ in 0..3 {
                    let (concert, schedule, wanted) = {
                        let mut rng = rand::rng();
                        let (concert, schedule) = *[(1, 1), (1, 2), (1, 3), (2, 4), (2, 5)].choose(&mut rng).unwrap();
                        let count = *[1usize, 2].choose(&mut rng).unwrap();
                        let seats: Vec<i32> = (1..=50).collect();
                        let wanted: Vec<i32> = seats.choose_multiple(&mut rng, count).copied().collect();
                        (concert, schedule, wanted)
                    };
                    let hold = app.reserve(token, concert, schedule, *user, &wanted).await;
                    if hold.status() != 200 {
                        continue;
                    }
                    let paid = app.pay(token, concert, schedule, *user).await;
                    return paid.status() == 200;
                }
                false
            })
            .buffer_unordered(8)
            .filter(|paid| std::future::ready(*paid))
            .count()
            .await;
        rushing.store(false, Ordering::Relaxed);
        paid
    };
    let (samples, paid) = tokio::join!(sampler, rush);

    assert!(paid > 50, "only {paid} payments: no rush");
    assert!(samples.len() >= 8, "only {} samples", samples.len());
    let violated: Vec<_> = samples.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        violated.is_empty(),
        "{} of {} samples during the rush were not clean: {violated:?}",
        violated.len(),
        samples.len()
    );
    let (status, report) = fresh_audit(&app).await;
    assert_eq!(status, 200, "{report}");
    assert!(report["seats_sold"].as_i64().unwrap() > 50);
    app.stop().await;
}

#[tokio::test]
async fn an_absurd_price_stored_before_the_bound_is_named_and_never_sold() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let db = &app.state.db;
    // A database from before prices were bounded: 2^63-1 won was accepted,
    // sold, and paid (as the sums wrapped).
    for statement in [
        "ALTER TABLE seats DROP CONSTRAINT IF EXISTS seats_price_bounded",
        "ALTER TABLE reservations DROP CONSTRAINT IF EXISTS reservations_price_bounded",
        "ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_amount_bounded",
        "UPDATE seats SET price = 9223372036854775807 WHERE schedule_id = 3 AND seat_number <= 4",
        "INSERT INTO payments (user_id, schedule_id, amount, created_at)
         SELECT 7, 3, 9223372036854775807, now() - interval '1 hour' FROM generate_series(1, 2)",
        "INSERT INTO reservations (seat_id, schedule_id, user_id, payment_id, price, created_at)
         SELECT id, 3, 7, (SELECT min(id) FROM payments), price, now() - interval '1 hour'
         FROM seats WHERE schedule_id = 3 AND seat_number <= 2",
    ] {
        sqlx::query(statement).execute(db).await.unwrap();
    }

    // The audit still answers, and says what is wrong.
    let (status, report) = fresh_audit(&app).await;
    assert_eq!(
        (status, report["code"].as_str()),
        (409, Some("INVARIANT_VIOLATED")),
        "{report}"
    );
    assert_eq!(report["revenue"].as_u64(), Some(2 * i64::MAX as u64), "{report}");
    assert_eq!(report["payments_total"], report["revenue"]);
    let violations = report["violations"].as_array().unwrap();
    assert!(
        violations.iter().any(|v| {
            let v = v.as_str().unwrap();
            v.contains("4 seat(s) priced beyond") && v.contains("seat 1 of schedule 3 at 9223372036854775807 won")
        }),
        "{violations:?}"
    );
    let (status, _) = open_audit(&app).await;
    assert_eq!(status, 409);
    let checked = boxoffice::booking::audit::check(&app.config).await;
    let failure = format!("{:#}", checked.expect_err("violations fail the check"));
    assert!(failure.contains("invariant(s) violated"), "{failure}");

    // Every instance picks up the prices; holding two of them is refused, not wrapped.
    let mut redis = app.state.redis.connection().await.unwrap();
    redis::cmd("INCR")
        .arg(app.keys().catalog_version())
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    eventually(Duration::from_secs(3), "the catalog reloaded", || async {
        let seats = json_of(app.seats(1, 3).await).await;
        (seats["seats"][3]["seatPrice"].as_i64() == Some(i64::MAX)).then_some(())
    })
    .await;
    let token = app.active_token(8).await;
    let held = app.reserve(&token, 1, 3, 8, &[3, 4]).await;
    assert_error(held, 400, "AMOUNT_OUT_OF_RANGE").await;
    let held = app.reserve(&token, 1, 3, 8, &[3]).await;
    assert_error(held, 400, "AMOUNT_OUT_OF_RANGE").await;
    let paid = app.pay(&token, 1, 3, 8).await;
    assert_error(paid, 409, "NO_HOLD").await;
    app.stop().await;
}
