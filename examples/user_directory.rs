//! What the user directory costs at scale: its resident memory and load time,
//! the cost of each lookup, and the two ways to stream the table.
//!
//! Seed first (`boxoffice seed --users 10000000`), then run
//! `DATABASE_URL=... cargo run --release --example user_directory`.
//! The figures in `loadtest/RESULTS.md` ("User directory at scale") come from it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use boxoffice::users::UserDirectory;
use futures::TryStreamExt;
use sqlx::postgres::{PgPoolCopyExt, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

// The server's allocator: what it keeps resident is what an instance pays.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LOOKUPS: usize = 2_000_000;

/// A field of /proc/self/status in MiB (`VmRSS` now, `VmHWM` the peak).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn report(what: &str, figure: String) {
    println!("{what:<24} {figure}");
}

fn ns_each(elapsed: Duration, calls: usize) -> String {
    format!("{:.1} ns", elapsed.as_nanos() as f64 / calls.max(1) as f64)
}

/// xorshift: ids spread over twice the table, so half are unknown.
fn ids(count: usize, highest: i64) -> Vec<i64> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let span = (2 * highest).max(1) as u64;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + (state % span) as i64
        })
        .collect()
}

/// A row of `users`, decoded.
struct UserRow {
    id: i64,
    uuid: Uuid,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for UserRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        Ok(Self {
            id: row.try_get("id")?,
            uuid: row.try_get("uuid")?,
        })
    }
}

/// Seconds to stream every (id, uuid) as decoded query rows, and as binary COPY.
async fn transports(db: &PgPool) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut rows = sqlx::query_as::<_, UserRow>("SELECT id, uuid FROM users ORDER BY id").fetch(db);
    let mut sum = 0_i64;
    while let Some(user) = rows.try_next().await? {
        sum = sum.wrapping_add(user.id);
        black_box(user.uuid);
    }
    let query = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let copy = "COPY (SELECT id, uuid FROM users ORDER BY id) TO STDOUT (FORMAT binary)";
    let mut chunks = db.copy_out_raw(copy).await?;
    let mut bytes = 0_usize;
    while let Some(chunk) = chunks.try_next().await? {
        bytes += chunk.len();
    }
    black_box((sum, bytes));
    Ok((query, started.elapsed().as_secs_f64()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("boxoffice=debug").init();
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/boxoffice".into());
    let db = PgPoolOptions::new().max_connections(2).connect(&url).await?;
    let highest: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM users")
        .fetch_one(&db)
        .await?;

    let before = status_mib("VmRSS");
    let users = UserDirectory::default();
    let started = Instant::now();
    let loaded = users.reload(&db).await?;
    let load = started.elapsed().as_secs_f64();
    let after = status_mib("VmRSS");
    report("users loaded", format!("{loaded} (highest id {highest})"));
    report("load", format!("{load:.2} s"));
    report(
        "directory RSS",
        format!("{:.1} MiB (process {after:.1} MiB)", after - before),
    );
    report("peak RSS", format!("{:.1} MiB", status_mib("VmHWM")));

    let started = Instant::now();
    let added = users.refresh(&db).await?;
    let took = started.elapsed().as_secs_f64() * 1e3;
    report("refresh, nothing new", format!("{took:.2} ms ({added} added)"));

    let sample = ids(LOOKUPS, highest);
    let started = Instant::now();
    let found = sample
        .iter()
        .filter(|&&id| users.require(black_box(id)).is_ok())
        .count();
    report(
        "require",
        format!("{} ({found} known)", ns_each(started.elapsed(), LOOKUPS)),
    );

    let started = Instant::now();
    let mut known = Vec::with_capacity(found);
    for &id in &sample {
        if let Some(uuid) = users.uuid_of(black_box(id)) {
            known.push((id, uuid));
        }
    }
    report("uuid_of", ns_each(started.elapsed(), LOOKUPS));

    let started = Instant::now();
    let right = known
        .iter()
        .filter(|(id, uuid)| users.id_of(black_box(uuid)) == Some(*id))
        .count();
    report(
        "id_of, known",
        format!("{} ({right} right)", ns_each(started.elapsed(), known.len())),
    );
    let strangers: Vec<Uuid> = (0..LOOKUPS / 4).map(|_| Uuid::new_v4()).collect();
    let started = Instant::now();
    let unknown = strangers
        .iter()
        .filter(|uuid| users.id_of(black_box(uuid)).is_none())
        .count();
    report(
        "id_of, unknown",
        format!("{} ({unknown} unknown)", ns_each(started.elapsed(), strangers.len())),
    );
    drop((sample, known, strangers));

    // The periodic `reload`, beside the loaded copy; the peak is reset first.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (rss, started) = (status_mib("VmRSS"), Instant::now());
    let added = users.reload(&db).await?;
    let took = started.elapsed().as_secs_f64();
    let peak = status_mib("VmHWM") - rss;
    report(
        "periodic reload",
        format!("{took:.2} s ({added} added), peak +{peak:.1} MiB"),
    );

    let (query, copy) = transports(&db).await?;
    report("stream: query rows", format!("{query:.2} s"));
    report("stream: binary COPY", format!("{copy:.2} s"));
    Ok(())
}
