//! The command line as a person or a script uses it.

use std::process::{Command, Output};

use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

fn hive_api(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hive-api-under-test"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run hive-api")
}

on_both_databases!(
    create_user_prints_a_working_token_last,
    |app: TestApp| async move {
        let url = app.settings.database_url.clone();
        let output = tokio::task::spawn_blocking(move || {
            hive_api(
                &url,
                &[
                    "admin",
                    "create-user",
                    "--email",
                    "First@Staff.coop",
                    "--name",
                    "First Staff",
                    "--role",
                    "staff",
                ],
            )
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let token = stdout.lines().last().unwrap().trim().to_string();
        let (_, me) = app
            .graphql("{ me { name email role } }", json!({}), Some(&token))
            .await;
        assert_eq!(me["data"]["me"]["role"], "STAFF", "{me}");
        assert_eq!(me["data"]["me"]["email"], "first@staff.coop");
        app.stop().await;
    }
);

#[test]
fn bad_command_lines_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());

    let output = hive_api(
        &url,
        &[
            "admin",
            "create-user",
            "--email",
            "a@b.coop",
            "--name",
            "A",
            "--role",
            "wizard",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("wizard") && stderr.contains("staff, mentor, adviser, member"),
        "{stderr}"
    );

    let output = hive_api(
        &url,
        &[
            "admin",
            "create-user",
            "--email",
            "a@b.coop",
            "--name",
            "A",
            "--role",
            "member",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--organisation"), "{stderr}");

    // The same text rules as the API: no control characters in a name.
    let output = hive_api(
        &url,
        &[
            "admin",
            "create-user",
            "--email",
            "a@b.coop",
            "--name",
            "Bell\u{7}",
            "--role",
            "staff",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("control character"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_hive-api-under-test"))
        .args(["migrate"])
        .env_clear()
        .env("DATABASE_URL", &url)
        .env("HIVE_ADDR", "nowhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("HIVE_ADDR"), "{stderr}");
}
