//! `hive-api` as the tests run it: the same program (the binary is a one-line
//! call into the library), built inside this package so that the tests can
//! find it through `CARGO_BIN_EXE_*`.

fn main() -> std::process::ExitCode {
    hive_api::cli::run_main()
}
