//! `hive-worker`: the worker alone, for running beside `hive-api --no-worker`
//! (several of them may share one PostgreSQL queue).

use std::sync::Arc;

use crate::{Settings, WorkerContext, db, runner, telemetry};
use tokio_util::sync::CancellationToken;

/// Runs the worker until Ctrl-C or SIGTERM; bad configuration exits 2.
pub async fn main() -> std::process::ExitCode {
    main_with(|_| {}).await
}

/// As [`main`], with settings that are not environment variables changed
/// first: the tests' copy of the binary shortens the email lease with it.
pub async fn main_with(tune: impl FnOnce(&mut Settings)) -> std::process::ExitCode {
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
    let db = db::connect(&settings.database_url).await?;
    db::migrate(&db).await?;
    let ctx = WorkerContext::new(db, Arc::new(settings))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(runner::shutdown_on_signal(shutdown.clone()));
    runner::run(ctx, shutdown).await
}
