//! Lists cost a bounded number of SQL statements, whatever the page size:
//! DataLoaders batch every per-item lookup.

use serde_json::json;

use crate::support::{
    Backend, TestApp,
    programme::{Programme, ok},
};

const PAGE: &str = "query($n: Int!) { supportRequests(first: $n) { totalCount edges { node {
    id status goals kind topics { name } preferredFormats
    suggestions(first: 3) { rank summary provider { name } }
    organisation { name region stage sector { name } contactPhone financialDetails }
    engagements { status daysAllocated daysUsed meetings { id startsAt } reviews { id party } provider { name kind topics { name } sectors { name } regions load placesFree reviewAverage user { name email } } }
    suggestionsConnection(first: 3) { totalCount edges { cursor node { rank provider { name homeOrganisation { name } } } } }
    engagementsConnection { totalCount edges { node { id rematchOf { id } proposedBy { name } endedBy { name }
      meetingsConnection { totalCount edges { node { id engagement { id } } } } reviewsConnection { totalCount } } } }
    organisation { membersConnection { totalCount edges { node { name organisation { name } } } } }
} } } }";

async fn statements_per_page(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let p = Programme::new(&app).await;
    let mut mentors = Vec::new();
    for i in 0..10 {
        mentors.push(
            p.provider(&app, "MENTOR", &format!("Mentor {i}"), 10, None)
                .await
                .0,
        );
    }
    for i in 0..50 {
        let (coop, _) = p.coop(&app, &format!("Co-op number {i}")).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        if i % 2 == 0 {
            let body = p.propose(&app, &request, &mentors[i % 10], 3).await;
            assert!(body["errors"].is_null(), "{body}");
        }
    }
    let (small, body, _) = fewest_statements(&app, 5, &p.staff).await;
    let body = ok((200, body));
    assert_eq!(
        body["data"]["supportRequests"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let (large, body, log) = fewest_statements(&app, 50, &p.staff).await;
    let body = ok((200, body));
    let edges = body["data"]["supportRequests"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 50);
    // Ten times the items; some statements of slack for loader batches that
    // split on timing (the page reads through a dozen loaders, and under a
    // full test run a few split: 42 against 36 was seen), far below the 45
    // more that one per item would cost.
    assert!(
        large <= small + 8,
        "50 items cost {large} statements, 5 cost {small}: something is per item:\n{log}"
    );
    // 35 before the connections and references of issue 15 (a statement
    // more per loader they read through).
    assert!(large <= 45, "a page costs {large} statements");
    eprintln!("{backend:?}: a page of 5 ran {small} statements, a page of 50 ran {large}");
    app.stop().await;
}

/// The statements a page of `n` costs, its body and the statements' log, from
/// the cheapest of three requests. Under a loaded machine a loader's batch
/// can split when some lookups miss its window, adding a statement or two by
/// chance (seen in full runs of the suite); a lookup per item costs them in
/// every request, so the cheapest of three still shows it.
async fn fewest_statements(
    app: &TestApp,
    n: usize,
    token: &str,
) -> (u64, serde_json::Value, String) {
    let mut fewest: Option<(u64, serde_json::Value, String)> = None;
    for _ in 0..3 {
        let (count, body) = app.statements_for(PAGE, json!({"n": n}), Some(token)).await;
        let log = app.statement_log.lock().unwrap().join("\n");
        if fewest.as_ref().is_none_or(|(least, _, _)| count < *least) {
            fewest = Some((count, body, log));
        }
    }
    fewest.expect("three requests ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_costs_the_same_statements_whatever_its_size_sqlite() {
    statements_per_page(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_costs_the_same_statements_whatever_its_size_postgres() {
    statements_per_page(Backend::Postgres).await;
}
