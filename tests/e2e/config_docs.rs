//! The README's configuration table and docker-compose.yml name the same
//! variables as the code, so the documentation cannot drift from the program.

use std::collections::BTreeSet;

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn known() -> BTreeSet<String> {
    hive_worker::settings::VARIABLES
        .iter()
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn readme_documents_every_variable_with_its_default() {
    let readme = repo_file("README.md");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect();
    let documented: BTreeSet<String> = rows
        .iter()
        .filter_map(|row| row.split('`').nth(1))
        .map(str::to_string)
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert_eq!(
        documented,
        known(),
        "README configuration table vs settings::VARIABLES"
    );
    for (name, default) in hive_worker::settings::VARIABLES {
        if default.is_empty() {
            continue;
        }
        let row = rows
            .iter()
            .find(|row| row.starts_with(&format!("| `{name}`")))
            .unwrap();
        assert!(
            row.contains(&format!("`{default}`")),
            "README gives {name} the default {default}: {row}"
        );
    }
}

#[test]
fn docker_compose_uses_only_known_variables() {
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&repo_file("docker-compose.yml")).unwrap();
    let services = compose["services"].as_mapping().expect("services");
    let mut seen = BTreeSet::new();
    for name in ["api", "worker"] {
        let service = &services[name];
        let environment = service["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name} has an environment map"));
        for key in environment.keys() {
            let key = key.as_str().unwrap().to_string();
            assert!(
                known().contains(&key),
                "docker-compose {name} sets unknown {key}"
            );
            seen.insert(key);
        }
    }
    for required in ["DATABASE_URL", "SMTP_URL", "HIVE_PUBLIC_URL"] {
        assert!(seen.contains(required), "docker-compose sets {required}");
    }
    assert!(services.contains_key("postgres") && services.contains_key("mailpit"));
    let api_command = format!("{:?}", services["api"]["command"]);
    assert!(
        api_command.contains("--no-worker"),
        "the api service leaves sending to the worker"
    );
}
