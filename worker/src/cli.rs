//! `hive-worker`: the worker alone, for running beside `hive-api --no-worker`
//! (several of them may share one PostgreSQL queue).

use std::sync::Arc;

use crate::{Settings, WorkerContext, db, ops, runner, telemetry};
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// The command line: no arguments, configuration from the environment (see
/// the README's configuration table). `--help` and `--version` print and
/// exit 0 before anything is opened; anything else is refused (exit 2), as
/// for `hive-api`, so a mistyped flag never starts a worker on the default
/// `./hive.db`.
#[derive(Parser, Debug)]
#[command(
    name = "hive-worker",
    version,
    about = "Hive's worker alone: sends the outbox's email and runs the programme's periodic jobs",
    long_about = "Hive's worker alone, beside `hive-api --no-worker`: sends the outbox's email \
                  and runs the programme's periodic jobs. Any number may share one PostgreSQL \
                  database. Configured by environment variables (DATABASE_URL, SMTP_URL, \
                  HIVE_WORKER_ADDR, ...; see the README). Serves /healthz, /readyz and /metrics \
                  on HIVE_WORKER_ADDR."
)]
struct Cli {}

/// Runs the worker until Ctrl-C or SIGTERM; bad configuration exits 2.
pub async fn main() -> std::process::ExitCode {
    main_with(|_| {}).await
}

/// As [`main`], with settings that are not environment variables changed
/// first: the tests' copy of the binary shortens the email lease with it.
pub async fn main_with(tune: impl FnOnce(&mut Settings)) -> std::process::ExitCode {
    if let Err(error) = Cli::try_parse() {
        // clap prints help and the version to stdout (exit 0), mistakes with
        // a usage line to stderr (exit 2).
        let _ = error.print();
        return std::process::ExitCode::from(error.exit_code().clamp(0, 255) as u8);
    }
    telemetry::init_logging();
    let settings = match Settings::from_env() {
        Ok(mut settings) => {
            tune(&mut settings);
            settings
        }
        Err(error) => {
            eprintln!("hive-worker: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hive-worker: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Bound first: an address in use is a start-up error naming the variable,
    // before anything touches the database.
    let (listener, addr) = ops::bind(settings.worker_addr)
        .await
        .map_err(|error| anyhow::anyhow!("HIVE_WORKER_ADDR {}: {error}", settings.worker_addr))?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    let ctx = WorkerContext::new(db.clone(), Arc::new(settings))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(runner::shutdown_on_signal(shutdown.clone()));
    info!(%addr, "serving /healthz, /readyz and /metrics");
    let ops = tokio::spawn(ops::serve(listener, db, shutdown.clone()));
    let result = runner::run(ctx, shutdown.clone()).await;
    shutdown.cancel();
    let _ = ops.await;
    result
}
