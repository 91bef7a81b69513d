//! Payments as records of their method: a payment names the method that took
//! its money, an Idempotency-Key of a payment points at its payments (a
//! charge's at its ledger row), and the audit checks each balance payment
//! against its own ledger row.

use crate::helpers::app::database_url_named;
use crate::helpers::{assert_error, json_of, spawn_app, spawn_app_with, TestApp};
use sqlx::{Connection, PgConnection};

const ADMIN: &str = "payments-admin-token";

/// The migration that gave payments their method and keys their payments.
const METHOD_MIGRATION: &str = "20261126000000";

async fn charge_with_key(app: &TestApp, user: i64, amount: i64, key: &str) {
    let charged = app.charge(user, amount).header("Idempotency-Key", key).await;
    assert_eq!(charged.status(), 200);
}

/// A key's pointers: (key, ledger rows, payments).
type KeyPointers = (String, Option<Vec<i64>>, Option<Vec<i64>>);

async fn key_pointers(db: &mut PgConnection) -> Vec<KeyPointers> {
    sqlx::query_as("SELECT key, ledger_ids, payment_ids FROM idempotency_keys ORDER BY key")
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payment_key_points_at_its_payments_and_a_charge_key_at_its_ledger_row() {
    let app = spawn_app().await;
    charge_with_key(&app, 1, 10_000, "top-up").await;
    let token = app.active_token(1).await;
    assert_eq!(
        app.reserve(&token, 1, 1, 1, &[3, 4]).send().await.unwrap().status(),
        200
    );
    let pay = || app.pay(&token, 1, 1, 1).header("Idempotency-Key", "pay-1").send();
    let receipt = json_of(pay().await.unwrap()).await;
    let payment_ids: Vec<i64> = serde_json::from_value(receipt["paymentIds"].clone()).unwrap();
    assert_eq!(payment_ids.len(), 1);

    let mut db = app.state.db.acquire().await.unwrap();
    let charge_row: i64 = sqlx::query_scalar("SELECT id FROM balance_ledger WHERE reason = 'charge'")
        .fetch_one(&mut *db)
        .await
        .unwrap();
    assert_eq!(
        key_pointers(&mut db).await,
        [
            ("pay-1".to_string(), None, Some(payment_ids.clone())),
            ("top-up".to_string(), Some(vec![charge_row]), None),
        ]
    );
    let methods: Vec<String> = sqlx::query_scalar("SELECT method FROM payments")
        .fetch_all(&mut *db)
        .await
        .unwrap();
    assert_eq!(methods, ["balance"]);
    drop(db);

    // The retry (the token is ended by now) is answered from that payment.
    assert_eq!(json_of(pay().await.unwrap()).await, receipt);
    app.stop().await;
}

#[tokio::test]
async fn the_audit_checks_each_balance_payment_against_its_own_ledger_row() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let mut paid = Vec::new();
    for (user, seats) in [(1, &[5][..]), (2, &[6, 7][..])] {
        app.charge(user, 10_000).await;
        let token = app.active_token(user).await;
        assert_eq!(
            app.reserve(&token, 1, 1, user, seats).send().await.unwrap().status(),
            200
        );
        let receipt = json_of(app.pay(&token, 1, 1, user).send().await.unwrap()).await;
        paid.push(receipt["paymentIds"][0].as_i64().unwrap());
    }
    let audit = || app.admin_invariants().send();
    assert_eq!(audit().await.unwrap().status(), 200);

    // The two payments' ledger rows swapped: every sum still agrees (each
    // balance with its ledger, the payments with the ledger and the seats), yet
    // neither payment has a ledger row of its own amount.
    sqlx::query(
        "UPDATE balance_ledger SET payment_id = CASE WHEN payment_id = $1 THEN $2 ELSE $1 END
         WHERE payment_id IN ($1, $2)",
    )
    .bind(paid[0])
    .bind(paid[1])
    .execute(&app.state.db)
    .await
    .unwrap();
    let report = assert_error(audit().await.unwrap(), 409, "INVARIANT_VIOLATED").await;
    assert_eq!(
        report["violations"],
        serde_json::json!(["2 balance payment(s) have no entry of their amount in the ledger"]),
        "{report}"
    );
    assert_eq!(report["payments_total"], report["ledger_payments_total"]);
    app.stop().await;
}

/// The migrations' SQL in order: those before `version`, and `version`'s own.
fn migrations_around(version: &str) -> (Vec<String>, String) {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let (mut earlier, mut this) = (Vec::new(), None);
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let sql = std::fs::read_to_string(&file).unwrap();
        if name.starts_with(version) {
            this = Some(sql);
        } else if name.as_str() < version {
            earlier.push(sql);
        }
    }
    (earlier, this.expect("the migration exists"))
}

#[tokio::test]
async fn keys_of_payments_made_before_the_migration_point_at_their_payments() {
    let name = format!("bo_test_migration_{:08x}", rand::random::<u32>());
    let mut admin = PgConnection::connect(&database_url_named("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut db = PgConnection::connect(&database_url_named(&name)).await.unwrap();
    let (earlier, migration) = migrations_around(METHOD_MIGRATION);
    for sql in earlier {
        sqlx::raw_sql(&sql).execute(&mut db).await.unwrap();
    }
    // Written as the code before the migration wrote them: two payments (one
    // per schedule) under one key, a charge under another, and a payment key
    // whose ledger rows name no payment.
    sqlx::raw_sql(
        "INSERT INTO users (id, uuid) VALUES (1, '00000000-0000-4000-8000-000000000001');
         INSERT INTO concerts (id, code, name) VALUES (1, 'c', 'C');
         INSERT INTO concert_schedules (id, concert_id, starts_at)
             VALUES (1, 1, '2030-01-01T19:00:00Z'), (2, 1, '2030-01-02T19:00:00Z');
         INSERT INTO balances (user_id, amount) VALUES (1, 2000);
         INSERT INTO payments (id, user_id, schedule_id, amount) VALUES (10, 1, 1, 1000), (11, 1, 2, 2000);
         INSERT INTO balance_ledger (id, user_id, delta, balance_after, reason, payment_id, idempotency_key) VALUES
             (100, 1, 5000, 5000, 'charge', NULL, 'top-up'),
             (101, 1, -1000, 4000, 'payment', 10, 'pay'),
             (102, 1, -2000, 2000, 'payment', 11, 'pay');
         INSERT INTO idempotency_keys (user_id, key, operation, request_hash, ledger_ids) VALUES
             (1, 'top-up', 'charge', 'h1', '{100}'),
             (1, 'pay', 'payment', 'h2', '{102,101}'),
             (1, 'unanswerable', 'payment', 'h3', '{100}');",
    )
    .execute(&mut db)
    .await
    .unwrap();

    sqlx::raw_sql(&migration).execute(&mut db).await.unwrap();
    assert_eq!(
        key_pointers(&mut db).await,
        [
            ("pay".to_string(), None, Some(vec![10, 11])),
            ("top-up".to_string(), Some(vec![100]), None),
        ]
    );
    let methods: Vec<String> = sqlx::query_scalar("SELECT method FROM payments ORDER BY id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(methods, ["balance", "balance"]);

    // A key points at one effect; a payment names a method the code knows.
    let both = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, operation, request_hash, ledger_ids, payment_ids)
         VALUES (1, 'both', 'payment', 'h4', '{100}', '{10}')",
    )
    .execute(&mut db)
    .await
    .unwrap_err();
    let constraint = |err: &sqlx::Error| err.as_database_error().and_then(|e| e.constraint()).map(str::to_string);
    assert_eq!(constraint(&both).as_deref(), Some("idempotency_keys_one_effect"));
    let unknown = sqlx::query("INSERT INTO payments (user_id, schedule_id, amount, method) VALUES (1, 1, 0, 'cash')")
        .execute(&mut db)
        .await
        .unwrap_err();
    assert_eq!(constraint(&unknown).as_deref(), Some("payments_method_known"));
    // The database is left, as every test's is: dropping one forces a
    // checkpoint, which waits behind every other suite's writes (90 s once).
}
