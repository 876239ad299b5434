//! The checked-in SDL is what the server serves.

#[test]
fn checked_in_sdl_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/schema.graphql");
    let current = hive_api::graphql::sdl();
    if std::env::var("UPDATE_SDL").is_ok() {
        std::fs::write(&path, &current).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == current,
        "api/schema.graphql is out of date: run `UPDATE_SDL=1 cargo test -p hive-tests --test e2e schema` and commit it"
    );
}
