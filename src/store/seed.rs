//! Demo data and bulk users.
//!
//! The demo data is fixed so clients, load tests and examples can rely on it:
//! concert 1 `hero-autumn` (schedules 1-3, seats 1..50 at 2000 won), concert 2
//! `iu-winter` (schedules 4-5), concert 3 `bts-spring` (schedules 6-7), and users
//! 1..1000. User N's UUID is `uuid5(NAMESPACE_OID, "boxoffice-user-N")`.

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::db;
use crate::config::{Config, Seeding};
use crate::telemetry::progress::Progress;

const DEMO_USERS: i64 = 1000;
const SEATS_PER_SCHEDULE: i32 = 50;

/// Arbitrary constant naming the advisory lock that serialises seeding across instances.
const SEED_LOCK: i64 = 0x626f_786f_6666;

struct DemoConcert {
    id: i64,
    code: &'static str,
    name: &'static str,
    price: i64,
    /// (year, month, day, hour) in Korea Standard Time.
    dates: &'static [(i32, u32, u32, u32)],
}

const DEMO_CONCERTS: [DemoConcert; 3] = [
    DemoConcert {
        id: 1,
        code: "hero-autumn",
        name: "임영웅가을콘서트",
        price: 2000,
        dates: &[(2030, 10, 10, 19), (2030, 10, 11, 19), (2030, 10, 12, 19)],
    },
    DemoConcert {
        id: 2,
        code: "iu-winter",
        name: "아이유겨울콘서트",
        price: 3000,
        dates: &[(2030, 12, 24, 19), (2030, 12, 25, 19)],
    },
    DemoConcert {
        id: 3,
        code: "bts-spring",
        name: "BTS봄콘서트",
        price: 5000,
        dates: &[(2031, 4, 5, 18), (2031, 4, 6, 18)],
    },
];

/// The UUID of user `id`, the same rule for demo and seeded users.
pub fn user_uuid(id: i64) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("boxoffice-user-{id}").as_bytes())
}

fn kst(year: i32, month: u32, day: u32, hour: u32) -> anyhow::Result<DateTime<Utc>> {
    let offset = chrono::FixedOffset::east_opt(9 * 3600).context("offset")?;
    offset
        .with_ymd_and_hms(year, month, day, hour, 0, 0)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .context("invalid demo date")
}

/// `boxoffice seed`: the demo data if the database is empty, then the users
/// and the `bench-arena` concert asked for.
pub async fn run(config: &Config, seeding: &Seeding) -> anyhow::Result<()> {
    let pool = db::pool(config, 2, db::Deadlines::None, None)?;
    db::migrate(&pool).await?;
    insert_demo_data_if_empty(&pool).await?;
    if seeding.users > 0 {
        let mut progress = Progress::new("seeding users", seeding.users);
        let ids = add_users_reporting(&pool, seeding.users, |added| progress.advance(added)).await?;
        progress.finish(&format!("added users {}..={}", ids.start(), ids.end()));
    }
    if seeding.arena_schedules > 0 {
        let mut progress = Progress::new("seeding the arena", u64::from(seeding.arena_schedules));
        let added = add_arena(&pool, seeding.arena_schedules, seeding.arena_seats, || {
            progress.advance(1)
        })
        .await?;
        match added {
            Some(concert_id) => progress.finish(&format!(
                "added concert {concert_id} `{ARENA_CODE}`: {} schedules of {} seats",
                seeding.arena_schedules, seeding.arena_seats
            )),
            None => progress.finish(&format!("`{ARENA_CODE}` already exists")),
        }
    }
    Ok(())
}

/// Inserts the demo data when the database holds no concerts; returns whether it did.
pub(crate) async fn insert_demo_data_if_empty(pool: &PgPool) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEED_LOCK)
        .execute(&mut *tx)
        .await?;
    let concerts: i64 = sqlx::query_scalar("SELECT count(*) FROM concerts")
        .fetch_one(&mut *tx)
        .await?;
    if concerts > 0 {
        return Ok(false);
    }

    let mut schedule_id = 0_i64;
    let (mut seat_schedule, mut seat_number, mut seat_price) = (Vec::new(), Vec::new(), Vec::new());
    for concert in &DEMO_CONCERTS {
        sqlx::query("INSERT INTO concerts (id, code, name) VALUES ($1, $2, $3)")
            .bind(concert.id)
            .bind(concert.code)
            .bind(concert.name)
            .execute(&mut *tx)
            .await?;
        for &(year, month, day, hour) in concert.dates {
            schedule_id += 1;
            sqlx::query("INSERT INTO concert_schedules (id, concert_id, starts_at) VALUES ($1, $2, $3)")
                .bind(schedule_id)
                .bind(concert.id)
                .bind(kst(year, month, day, hour)?)
                .execute(&mut *tx)
                .await?;
            for number in 1..=SEATS_PER_SCHEDULE {
                seat_schedule.push(schedule_id);
                seat_number.push(number);
                seat_price.push(concert.price);
            }
        }
    }
    sqlx::query(
        "INSERT INTO seats (schedule_id, seat_number, price)
         SELECT * FROM UNNEST($1::bigint[], $2::int[], $3::bigint[])
         ORDER BY 1, 2",
    )
    .bind(&seat_schedule)
    .bind(&seat_number)
    .bind(&seat_price)
    .execute(&mut *tx)
    .await?;

    let ids: Vec<i64> = (1..=DEMO_USERS).collect();
    let uuids: Vec<Uuid> = ids.iter().map(|&id| user_uuid(id)).collect();
    sqlx::query(
        "INSERT INTO users (id, uuid) SELECT * FROM UNNEST($1::bigint[], $2::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&uuids)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO balances (user_id) SELECT id FROM users ON CONFLICT DO NOTHING")
        .execute(&mut *tx)
        .await?;
    resync_identities(&mut tx).await?;
    tx.commit().await?;
    tracing::info!("inserted demo data: 3 concerts, {schedule_id} schedules, {DEMO_USERS} users");
    Ok(true)
}

/// Code of the large venue that load tests sell out.
const ARENA_CODE: &str = "bench-arena";

/// Adds the `bench-arena` concert (schedules daily from 2032-01-01, seats at
/// 1000 won) unless it exists; returns its id when added.
async fn add_arena(
    pool: &PgPool,
    schedules: u32,
    seats_per_schedule: i32,
    mut on_schedule: impl FnMut(),
) -> anyhow::Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEED_LOCK)
        .execute(&mut *tx)
        .await?;
    let concert_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO concerts (code, name) VALUES ($1, '벤치마크아레나') ON CONFLICT (code) DO NOTHING RETURNING id",
    )
    .bind(ARENA_CODE)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(concert_id) = concert_id else {
        return Ok(None);
    };
    let first_day = kst(2032, 1, 1, 19)?;
    for day in 0..schedules {
        let schedule_id: i64 =
            sqlx::query_scalar("INSERT INTO concert_schedules (concert_id, starts_at) VALUES ($1, $2) RETURNING id")
                .bind(concert_id)
                .bind(first_day + chrono::Duration::days(i64::from(day)))
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO seats (schedule_id, seat_number, price) SELECT $1, n, 1000 FROM generate_series(1, $2) AS n",
        )
        .bind(schedule_id)
        .bind(seats_per_schedule)
        .execute(&mut *tx)
        .await?;
        on_schedule();
    }
    tx.commit().await?;
    Ok(Some(concert_id))
}

/// Explicit ids leave the identity sequences behind; move them past the data.
async fn resync_identities(tx: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    for table in ["users", "concerts", "concert_schedules", "seats"] {
        let statement = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
        );
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Adds `count` users after the highest id, with zero balances, using COPY.
/// Returns the id range added.
pub async fn add_users(pool: &PgPool, count: u64) -> anyhow::Result<std::ops::RangeInclusive<i64>> {
    add_users_reporting(pool, count, |_| {}).await
}

/// [`add_users`], calling `on_batch` with the number of users of each batch sent.
async fn add_users_reporting(
    pool: &PgPool,
    count: u64,
    mut on_batch: impl FnMut(u64),
) -> anyhow::Result<std::ops::RangeInclusive<i64>> {
    const BATCH: i64 = 20_000;
    let count = i64::try_from(count).context("too many users")?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEED_LOCK)
        .execute(&mut *tx)
        .await?;
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) + 1 FROM users")
        .fetch_one(&mut *tx)
        .await?;
    let last = first + count - 1;
    let mut start = first;
    while start <= last {
        let end = (start + BATCH - 1).min(last);
        let mut users = String::with_capacity(((end - start + 1) * 48) as usize);
        let mut balances = String::with_capacity(((end - start + 1) * 10) as usize);
        for id in start..=end {
            users.push_str(&format!("{id}\t{}\n", user_uuid(id)));
            balances.push_str(&format!("{id}\n"));
        }
        let mut copy = tx.copy_in_raw("COPY users (id, uuid) FROM STDIN").await?;
        copy.send(users.into_bytes()).await?;
        copy.finish().await?;
        let mut copy = tx.copy_in_raw("COPY balances (user_id) FROM STDIN").await?;
        copy.send(balances.into_bytes()).await?;
        copy.finish().await?;
        on_batch(u64::try_from(end - start + 1).unwrap_or(0));
        start = end + 1;
    }
    resync_identities(&mut tx).await?;
    tx.commit().await?;
    Ok(first..=last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_uuids_follow_the_name_based_rule() {
        // uuid5(NAMESPACE_OID, "boxoffice-user-7"), computed independently with Python's uuid module.
        assert_eq!(user_uuid(7).to_string(), "890cd9f4-4be2-56a3-a116-49b160d80fa5");
        assert_ne!(user_uuid(7), user_uuid(8));
    }
}
