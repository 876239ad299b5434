//! `hive-api`: see `hive-api --help`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hive_api::cli::main().await
}
