//! `hive-api`: see `hive-api --help`.

fn main() -> std::process::ExitCode {
    hive_api::cli::run_main()
}
