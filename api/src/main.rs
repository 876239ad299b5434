//! `hive-api`: see `hive-api --help`.

/// mimalloc rather than the system allocator: a request allocates many small
/// objects across threads, and glibc's malloc was a fifth of a signed-in
/// list request's CPU in the side-by-side bench (issue 19).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hive_api::cli::run_main()
}
