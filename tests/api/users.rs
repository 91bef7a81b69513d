//! A new account is usable within about a second of its insert, by id and by
//! UUID, with no restart: the user directory tops itself up from Postgres.

use std::time::{Duration, Instant};

use crate::helpers::{eventually, spawn_app, TestApp};
use uuid::Uuid;

async fn insert(db: impl sqlx::PgExecutor<'_>, uuid: Uuid) -> i64 {
    sqlx::query_scalar("INSERT INTO users (uuid) VALUES ($1) RETURNING id")
        .bind(uuid)
        .fetch_one(db)
        .await
        .expect("insert a user")
}

/// Seconds from `since` until the user is known by id (join) and by UUID
/// (an /api/v1 token); fails after five.
async fn usable_after(app: &TestApp, id: i64, uuid: Uuid, since: Instant) -> f64 {
    let within = Duration::from_secs(5).saturating_sub(since.elapsed());
    eventually(within, format!("user {id} known"), || async {
        let by_id = app.join(id).await.status();
        let by_uuid = app.v1_join("hero-autumn", &uuid.to_string()).await.status();
        (by_id == 200 && by_uuid == 200).then_some(())
    })
    .await;
    since.elapsed().as_secs_f64()
}

#[tokio::test]
async fn a_new_account_is_usable_within_seconds() {
    let app = spawn_app().await;
    let uuid = Uuid::new_v4();
    let since = Instant::now();
    let id = insert(&app.state.db, uuid).await;
    let took = usable_after(&app, id, uuid, since).await;
    println!("user {id} usable {took:.2} s after its insert");
    app.stop().await;
}

#[tokio::test]
async fn an_account_committed_after_a_later_one_is_found_too() {
    let app = spawn_app().await;
    let (early, late) = (Uuid::new_v4(), Uuid::new_v4());
    let mut slow = app.state.db.begin().await.expect("begin");
    let early_id = insert(&mut *slow, early).await;
    let late_id = insert(&app.state.db, late).await;
    assert!(late_id > early_id);
    usable_after(&app, late_id, late, Instant::now()).await;
    // The directory has moved past `early_id` by now; the commit still counts.
    slow.commit().await.expect("commit");
    let took = usable_after(&app, early_id, early, Instant::now()).await;
    println!("user {early_id}, committed late, usable {took:.2} s after its commit");
    app.stop().await;
}
