//! `hive-worker` as the tests run it (see `hive_api.rs` beside this file).
//! `HIVE_TEST_EMAIL_LEASE_SECONDS` shortens the email lease, so a test that
//! kills a worker sees its mail taken over in seconds rather than minutes;
//! only this test copy reads it. `HIVE_TEST_PERIODIC_MS` likewise shortens
//! the pause between periodic passes (chasers, digests, retention).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hive_worker::cli::main_with(|settings| {
        if let Some(seconds) = std::env::var("HIVE_TEST_EMAIL_LEASE_SECONDS")
            .ok()
            .and_then(|value| value.parse().ok())
        {
            settings.email_lease = chrono::Duration::seconds(seconds);
        }
        if let Some(ms) = std::env::var("HIVE_TEST_PERIODIC_MS")
            .ok()
            .and_then(|value| value.parse().ok())
        {
            settings.periodic_interval = std::time::Duration::from_millis(ms);
        }
    })
    .await
}
