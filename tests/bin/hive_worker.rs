//! `hive-worker` as the tests run it (see `hive_api.rs` beside this file).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hive_worker::cli::main().await
}
