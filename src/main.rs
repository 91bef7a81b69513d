use std::process::ExitCode;

use boxoffice::booking::{audit, catalog::Catalog};
use boxoffice::config::{Command, Config};
use boxoffice::startup::Application;
use boxoffice::store::keys::Keys;
use boxoffice::store::{db, redis::Redis, seed};
use boxoffice::telemetry;
use clap::Parser;

/// The profile of the position poll showed glibc malloc/free at ~12% of CPU;
/// mimalloc's thread-local free lists cut that (figures in loadtest/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init();
    if let Err(problem) = preflight(&config).await {
        eprintln!("boxoffice: {problem}");
        return ExitCode::FAILURE;
    }
    let outcome = match config.command.clone() {
        Some(Command::Seed {
            users,
            arena_schedules,
            arena_seats,
        }) => seed_users(&config, users, arena_schedules, arena_seats).await,
        Some(Command::Check) => check(&config).await,
        Some(Command::Serve) | None => serve(config).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("boxoffice: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// One clear line, not a stack trace, when a dependency is missing.
async fn preflight(config: &Config) -> Result<(), String> {
    let hint = "start the local services with `./scripts/services.sh`";
    let redis = Redis::open(&config.redis_url).map_err(|err| format!("REDIS_URL is invalid: {err}"))?;
    redis
        .ping()
        .await
        .map_err(|err| format!("cannot reach Redis at {} ({err}); {hint}", config.redis_url))?;
    db::create_database_if_missing(&config.database_url)
        .await
        .map_err(|err| format!("cannot reach Postgres at {} ({err:#}); {hint}", config.database_url))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.run_until_stopped(shutdown_signal()).await
}

async fn seed_users(config: &Config, count: u64, arena_schedules: u32, arena_seats: i32) -> anyhow::Result<()> {
    let pool = db::pool(&config.database_url, 2, config.db_acquire_timeout_ms)?;
    db::migrate(&pool).await?;
    seed::insert_demo_data_if_empty(&pool).await?;
    if count > 0 {
        let started = std::time::Instant::now();
        let ids = seed::add_users(&pool, count).await?;
        println!(
            "added users {}..={} in {:.1?}",
            ids.start(),
            ids.end(),
            started.elapsed()
        );
    }
    if arena_schedules > 0 {
        match seed::add_arena(&pool, arena_schedules, arena_seats).await? {
            Some(concert_id) => println!(
                "added concert {concert_id} `{}`: {arena_schedules} schedules of {arena_seats} seats",
                seed::ARENA_CODE
            ),
            None => println!("`{}` already exists", seed::ARENA_CODE),
        }
    }
    Ok(())
}

async fn check(config: &Config) -> anyhow::Result<()> {
    let pool = db::pool(&config.database_url, 2, config.db_acquire_timeout_ms)?;
    let redis = Redis::open(&config.redis_url)?;
    let catalog = Catalog::load(&pool).await?;
    let report = audit::run(&pool, &redis, &Keys::new(&config.redis_prefix), &catalog).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    anyhow::ensure!(report.ok, "{} invariant(s) violated", report.violations.len());
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
