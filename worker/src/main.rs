//! `hive-worker`: see `hive_worker::cli`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hive_worker::cli::main().await
}
