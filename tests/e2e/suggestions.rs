//! `matchSuggestions`: ranked providers with reasons, and every exclusion.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, decode, ok},
};

const SUGGEST: &str = "query($r: ID!, $n: Int) { matchSuggestions(requestId: $r, first: $n) { rank score summary reasons provider { name } } }";

async fn mentor(
    app: &TestApp,
    p: &Programme,
    name: &str,
    topics: &[usize],
    region: &str,
    home: Option<&str>,
) -> String {
    let topic_ids: Vec<&String> = topics.iter().map(|i| &p.topics[*i]).collect();
    let input = json!({
        "email": format!("{}@mentors.test", name.to_lowercase().replace(' ', ".")),
        "name": name,
        "homeOrganisationId": home,
        "offer": {"bio": "", "topicIds": topic_ids, "sectorIds": [], "regions": [region], "formats": ["VIDEO"], "capacity": 2},
    });
    let body = ok(app
        .graphql(
            "mutation($i: RegisterMentorInput!) { registerMentor(input: $i) { id } }",
            json!({"i": input}),
            Some(&p.staff),
        )
        .await);
    body["data"]["registerMentor"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn names(body: &serde_json::Value) -> Vec<String> {
    body["data"]["matchSuggestions"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|s| s["provider"]["name"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases!(
    suggestions_rank_explain_and_exclude,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, member) = p.coop(&app, "Mersey Housing").await;
        // p.request asks for topics 0 and 1 (governance, finance), by video.
        let request = p.request(&app, &coop, "MENTORING").await;

        let _both = mentor(&app, &p, "Both Topics", &[0, 1], "North West", None).await;
        let _one = mentor(&app, &p, "One Topic", &[1], "North West", None).await;
        let _far = mentor(&app, &p, "Far Away", &[0, 1], "Wales", None).await;
        let _own = mentor(&app, &p, "Own Member", &[0, 1], "North West", Some(&coop)).await;
        let decliner = mentor(&app, &p, "Said No", &[0, 1], "North West", None).await;
        let gone = mentor(&app, &p, "Gone Quiet", &[0, 1], "North West", None).await;
        ok(app
            .graphql(
                "mutation($id: ID!) { deactivateProvider(id: $id) { active } }",
                json!({"id": gone}),
                Some(&p.staff),
            )
            .await);

        let body = ok(app
            .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
            .await);
        assert_eq!(
            names(&body),
            ["Both Topics", "Said No", "Far Away", "One Topic"]
        );
        let first = &body["data"]["matchSuggestions"][0];
        assert_eq!(first["rank"], 1);
        assert_eq!(
            first["summary"],
            "covers 2 of 2 topics: governance, finance · same region: North West · offers preferred formats: video · 2 of 2 places free · no reviews yet"
        );

        // Said No declines a proposal: it leaves the suggestions for this request.
        let body = p.propose(&app, &request, &decliner, 3).await;
        let engagement = body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let user = entity::users::Entity::find()
            .filter(entity::users::Column::Email.eq("said.no@mentors.test"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let (session, _) =
            hive_api::auth::create_session(&app.db, &user, chrono::Duration::days(1))
                .await
                .unwrap();
        ok(app
            .graphql(
                "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: false) { status } }",
                json!({"e": engagement}),
                Some(session.expose()),
            )
            .await);
        let body = ok(app
            .graphql(SUGGEST, json!({"r": request, "n": 2}), Some(&p.staff))
            .await);
        assert_eq!(names(&body), ["Both Topics", "Far Away"]);

        // Staff only; a bad first is refused.
        let (_, body) = app
            .graphql(SUGGEST, json!({"r": request}), Some(&member))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"));
        let (_, body) = app
            .graphql(SUGGEST, json!({"r": request, "n": -1}), Some(&p.staff))
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"));
        app.stop().await;
    }
);

/// With the pool cached for a minute, a change made through the API still
/// shows in the very next ranking.
async fn a_cached_pool_sees_changes_at_once(backend: crate::support::Backend) {
    let Some(app) = TestApp::start_tuned(backend, |settings| {
        settings.candidate_pool_ttl = std::time::Duration::from_secs(60);
    })
    .await
    else {
        return;
    };
    let p = Programme::new(&app).await;
    let (coop, _) = p.coop(&app, "Cached Co-op").await;
    let request = p.request(&app, &coop, "MENTORING").await;
    mentor(&app, &p, "Early Bird", &[0], "Wales", None).await;
    let body = ok(app
        .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
        .await);
    assert_eq!(names(&body), ["Early Bird"]);
    let late = mentor(&app, &p, "Late Comer", &[0, 1], "North West", None).await;
    let body = ok(app
        .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
        .await);
    assert_eq!(
        names(&body),
        ["Late Comer", "Early Bird"],
        "a registration drops the pool"
    );
    ok(app
        .graphql(
            "mutation($id: ID!) { deactivateProvider(id: $id) { active } }",
            json!({"id": late}),
            Some(&p.staff),
        )
        .await);
    let body = ok(app
        .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
        .await);
    assert_eq!(names(&body), ["Early Bird"], "so does a deactivation");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_pool_sees_changes_at_once_sqlite() {
    a_cached_pool_sees_changes_at_once(crate::support::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_pool_sees_changes_at_once_postgres() {
    a_cached_pool_sees_changes_at_once(crate::support::Backend::Postgres).await;
}

/// A change made by another process (here, straight in the database, as a
/// second API process or the worker would) reorders suggestions once the
/// pool's time to live has passed: its fingerprint check sees the change long
/// before the pool's full reload is due.
async fn a_cached_pool_sees_other_processes_changes(backend: crate::support::Backend) {
    use sea_orm::{ConnectionTrait, Statement};

    let Some(app) = TestApp::start_tuned(backend, |settings| {
        settings.candidate_pool_ttl = std::time::Duration::from_millis(300);
    })
    .await
    else {
        return;
    };
    let p = Programme::new(&app).await;
    let (coop, _) = p.coop(&app, "Elsewhere Co-op").await;
    let request = p.request(&app, &coop, "MENTORING").await;
    mentor(&app, &p, "Steady One", &[0], "Wales", None).await;
    let leaving = mentor(&app, &p, "Leaving Soon", &[0, 1], "North West", None).await;
    app.statement_log.lock().unwrap().clear();
    let body = ok(app
        .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
        .await);
    assert_eq!(names(&body), ["Leaving Soon", "Steady One"]);
    let log = app.statement_log.lock().unwrap().clone();
    assert_eq!(
        pool_statements(&log),
        (true, true),
        "the first ranking loads the pool: {log:#?}"
    );
    // Aged past its time to live with nothing changed, the pool is checked,
    // not reloaded.
    app.statement_log.lock().unwrap().clear();
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        ok(app
            .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
            .await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = app.statement_log.lock().unwrap().clone();
    assert_eq!(
        pool_statements(&log),
        (false, true),
        "checked, not reloaded: {log:#?}"
    );

    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE providers SET active = false, updated_at = $1 WHERE id = $2"
                }
                _ => "UPDATE providers SET active = false, updated_at = ? WHERE id = ?",
            },
            [
                (chrono::Utc::now() + chrono::Duration::seconds(1)).into(),
                decode(&leaving).into(),
            ],
        ))
        .await
        .expect("deactivate behind the API's back");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body = ok(app
            .graphql(SUGGEST, json!({"r": request}), Some(&p.staff))
            .await);
        if names(&body) == ["Steady One"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after 10 s the pool still ranks a provider deactivated elsewhere: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
}

/// Whether `statements` include a full load of the candidate pool (it starts
/// with the topic names) and a fingerprint check.
fn pool_statements(statements: &[String]) -> (bool, bool) {
    let load = statements
        .iter()
        .any(|sql| sql.starts_with(r#"SELECT "topics"."id", "topics"."name" FROM "topics""#));
    let check = statements
        .iter()
        .any(|sql| sql.contains("COALESCE(CAST((SELECT COUNT(*) FROM providers)"));
    (load, check)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_pool_sees_other_processes_changes_sqlite() {
    a_cached_pool_sees_other_processes_changes(crate::support::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_pool_sees_other_processes_changes_postgres() {
    a_cached_pool_sees_other_processes_changes(crate::support::Backend::Postgres).await;
}
