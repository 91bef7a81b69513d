use std::process::ExitCode;

use boxoffice::booking::audit;
use boxoffice::config::{Command, Config};
use boxoffice::startup::{self, Application};
use boxoffice::store::seed;
use boxoffice::telemetry;
use clap::Parser;

/// The allocator is a measured choice: the poll's profile showed glibc's
/// malloc/free among its largest costs (loadtest/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
    if let Err(problem) = startup::preflight(&config).await {
        eprintln!("boxoffice: {problem}");
        return ExitCode::FAILURE;
    }
    let outcome = match config.command.clone() {
        Some(Command::Seed(seeding)) => seed::run(&config, &seeding).await,
        Some(Command::Check) => audit::check(&config).await,
        Some(Command::Serve) | None => serve(config).await,
    };
    telemetry::flush().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("boxoffice: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.run_until_stopped(telemetry::shutdown_signal()).await
}
