//! Lists cost a constant number of SQL statements, whatever the page size
//! and however fast the page resolves: the objects of a list load each
//! relation the query selects once for all of them (`graphql::siblings`).
//!
//! These tests run with the shipped loader window (2 ms), which a debug
//! build on a loaded machine overruns: before siblings, lookups of one level
//! split over several batches by chance (a page of 50 cost 36 to 55
//! statements). So every request is held to the exact count, not the
//! cheapest of several.

use serde_json::json;

/// `$name::sqlite` and `$name::postgres`, each running `$body(backend)` on
/// two worker threads (a request's loads run concurrently, as in the
/// server). The bodies start their own app (tuned, without a worker), so
/// `on_both_databases!` does not fit.
macro_rules! on_each_backend {
    ($name:ident => $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(Backend::Postgres).await;
            }
        }
    };
}

/// The loader window `hive-api` ships with (`Settings::loader_batch_window`).
const SHIPPED_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

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
    let Some(app) = TestApp::start_without_worker_tuned(backend, |settings| {
        settings.loader_batch_window = SHIPPED_WINDOW;
    })
    .await
    else {
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
    let (small, body) = app
        .statements_for(PAGE, json!({"n": 5}), Some(&p.staff))
        .await;
    let small_traces = trace_writes(&app.statement_log.lock().unwrap().join("\n"));
    let body = ok((200, body));
    assert_eq!(
        body["data"]["supportRequests"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    for _ in 0..3 {
        let (large, body) = app
            .statements_for(PAGE, json!({"n": 50}), Some(&p.staff))
            .await;
        let log = app.statement_log.lock().unwrap().join("\n");
        let body = ok((200, body));
        let edges = body["data"]["supportRequests"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 50);
        // Staff reads of financialDetails are traced by each co-op read, in
        // inserts batched by the DataLoader window (timing may split them):
        // the reads are what must not grow with the page.
        let (reads_large, reads_small) = (large - trace_writes(&log), small - small_traces);
        assert_eq!(
            reads_large, reads_small,
            "50 items read with {reads_large} statements, 5 with {reads_small}: something \
             is per item or a load split:\n{log}"
        );
    }
    // 35 before the connections and references of issue 15, 36 since
    // (traces included).
    assert!(small <= 40, "a page costs {small} statements");
    eprintln!("{backend:?}: pages of 5 and of 50 ran {small} statements");
    app.stop().await;
}

on_each_backend!(a_page_costs_the_same_statements_whatever_its_size => statements_per_page);

/// The home screens' lists (issue 20): engagements with their meetings,
/// provider and co-op (and their own engagement lists), and the viewer's
/// upcoming meetings naming the other party.
const HOME: &str = "query($n: Int!) {
  engagements(first: $n) { totalCount edges { node {
    id status daysRemaining nextMeeting { id startsAt otherParty } lastMeeting { id }
    provider { name engagements(first: 2) { totalCount edges { node { id } } } }
    supportRequest { organisation { name engagements(first: 2) { totalCount } } } } } }
  me { upcomingMeetings(first: $n) { totalCount edges { node { id otherParty engagement { id status } } } } } }";

async fn home_lists_per_page(backend: Backend) {
    let Some(app) = TestApp::start_without_worker_tuned(backend, |settings| {
        settings.loader_batch_window = SHIPPED_WINDOW;
    })
    .await
    else {
        return;
    };
    let p = Programme::new(&app).await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Busy Mentor", 20, None).await;
    // Fifty engagements at once: past what the API lets staff set (20), so
    // set behind its back; the lists do not care.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::providers::Entity::update_many()
        .col_expr(
            entity::providers::Column::Capacity,
            sea_orm::sea_query::Expr::value(60),
        )
        .filter(entity::providers::Column::Id.eq(crate::support::programme::decode(&mentor)))
        .exec(&app.db)
        .await
        .unwrap();
    for i in 0..50 {
        let (coop, member) = p.coop(&app, &format!("Home co-op {i}")).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        let start = chrono::Utc::now() + chrono::Duration::hours(24 + 2 * i);
        ok(app
            .graphql(
                "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
                json!({"i": {"engagementId": engagement, "startsAt": start.to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}),
                Some(&member),
            )
            .await);
    }
    for (viewer, token) in [("staff", &p.staff), ("the mentor", &mentor_token)] {
        let cost = |n: usize| {
            let app = &app;
            async move {
                let (count, body) = app.statements_for(HOME, json!({"n": n}), Some(token)).await;
                let log = app.statement_log.lock().unwrap().join("\n");
                (count, body, log)
            }
        };
        let (small, body, _) = cost(5).await;
        let body = ok((200, body));
        assert_eq!(
            body["data"]["engagements"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        for _ in 0..3 {
            let (large, body, log) = cost(50).await;
            let body = ok((200, body));
            assert_eq!(
                body["data"]["engagements"]["edges"]
                    .as_array()
                    .unwrap()
                    .len(),
                50
            );
            if viewer == "the mentor" {
                let upcoming = &body["data"]["me"]["upcomingMeetings"];
                assert_eq!(upcoming["totalCount"], 50);
                assert_eq!(upcoming["edges"][0]["node"]["otherParty"], "Home co-op 0");
            }
            assert_eq!(
                large, small,
                "{viewer}: 50 engagements cost {large} statements, 5 cost {small}: \
                 something is per item or a load split:\n{log}"
            );
        }
        eprintln!("{backend:?}, {viewer}: home lists of 5 and of 50 ran {small} statements");
    }
    app.stop().await;
}

on_each_backend!(home_lists_cost_the_same_statements_whatever_their_size => home_lists_per_page);

/// A list read from a table counts its rows only when the query asks for
/// `totalCount` (issue 19): the same page without it costs one statement
/// fewer, and the count, when asked, is right.
async fn the_count_only_when_asked(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let p = Programme::new(&app).await;
    for i in 0..7 {
        p.coop(&app, &format!("Counted co-op {i}")).await;
    }
    let without = "{ organisations(first: 3) { edges { node { id name } } } }";
    let with = "{ organisations(first: 3) { totalCount edges { node { id name } } } }";
    let (plain, body) = app.statements_for(without, json!({}), Some(&p.staff)).await;
    let body = ok((200, body));
    assert_eq!(
        body["data"]["organisations"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (counted, body) = app.statements_for(with, json!({}), Some(&p.staff)).await;
    let body = ok((200, body));
    assert_eq!(body["data"]["organisations"]["totalCount"], 7);
    assert_eq!(
        counted,
        plain + 1,
        "totalCount costs its one COUNT, and nothing else differs"
    );
    app.stop().await;
}

on_each_backend!(the_count_only_when_asked => the_count_only_when_asked);

/// How many statements of `log` write confidential-read traces.
fn trace_writes(log: &str) -> u64 {
    log.lines()
        .filter(|line| line.starts_with("INSERT INTO \"audit_log\""))
        .count() as u64
}

/// A provider page with more of its relations selected each time: each
/// relation costs its statements once for the page, and the parts of a
/// provider's card (name, topics, sectors, regions) one statement together.
const PROVIDER_PAGES: [(&str, u64); 8] = [
    ("id", 0),
    ("id name", 1),
    ("id topics { name } regions", 1),
    // The terms' times are read only when asked, still with the card.
    (
        "id topics { name createdAt retired } sectors { name } regions",
        1,
    ),
    // The side-by-side bench's query (issue 19).
    ("id name topics { name } sectors { name } regions", 1),
    // The same through a fragment: the page's look-ahead follows it.
    ("id ... on Provider { name topics { name } } ...Rest", 1),
    // The account for `user`, which gives `name` too; the load.
    ("id user { name } name load placesFree", 2),
    (
        "id name topics { name } sectors { name } regions formats load placesFree
         reviewAverage reviewCount days { planned delivered } homeOrganisationName",
        // The card, formats, load, reviews, the days' two sums and the home
        // co-op.
        7,
    ),
];

/// With the shipped loader window (2 ms), a page of providers costs the
/// same statements whatever its size, on every request, and one statement
/// more (two for the days' sums) for each relation the query selects:
/// relations load for the whole page at once, not in batches that depend
/// on timing (issue 19).
async fn provider_pages_cost_what_they_select(backend: Backend) {
    let Some(app) = TestApp::start_without_worker_tuned(backend, |settings| {
        settings.loader_batch_window = SHIPPED_WINDOW;
    })
    .await
    else {
        return;
    };
    let p = Programme::new(&app).await;
    let (home, _) = p.coop(&app, "Mentors' own co-op").await;
    for i in 0..60 {
        let home = (i % 3 == 0).then_some(home.as_str());
        p.provider(&app, "MENTOR", &format!("Page mentor {i}"), 4, home)
            .await;
    }
    let cost = |selection: &str, n: usize| {
        let query = format!(
            "query($n: Int!) {{ mentors(first: $n) {{ edges {{ node {{ {selection} }} }} }} }}"
        );
        let query = if selection.contains("...Rest") {
            format!("{query} fragment Rest on Provider {{ sectors {{ name }} regions }}")
        } else {
            query
        };
        let app = &app;
        let staff = p.staff.clone();
        async move {
            let (count, body) = app
                .statements_for(&query, json!({"n": n}), Some(&staff))
                .await;
            let log = app.statement_log.lock().unwrap().join("\n");
            let body = ok((200, body));
            let edges = body["data"]["mentors"]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), n, "{body}");
            (count, body, log)
        }
    };
    // The session is looked up by the first request and then cached.
    cost("id", 1).await;
    let (base, _, _) = cost("id", 5).await;
    for (selection, relations) in PROVIDER_PAGES {
        for n in [5, 60, 60, 60] {
            let (count, body, log) = cost(selection, n).await;
            assert_eq!(
                count,
                base + relations,
                "a page of {n} selecting `{selection}` cost {count} statements, \
                 {base} for the page and {relations} for what it selects were expected:\n{log}"
            );
            if selection.contains("topics { name }") && selection.contains("Rest") {
                let node = &body["data"]["mentors"]["edges"][0]["node"];
                assert_eq!(node["regions"], json!(["North West"]), "{node}");
                assert!(node["sectors"].is_array(), "{node}");
                assert!(node["name"].as_str().unwrap().starts_with("Page mentor"));
            }
            if selection.contains("createdAt") {
                let topic = &body["data"]["mentors"]["edges"][0]["node"]["topics"][0];
                let created = topic["createdAt"].as_str().unwrap();
                assert!(created.starts_with("20"), "a topic's real time: {topic}");
                assert_eq!(topic["retired"], false, "{topic}");
            }
            if selection.contains("topics") {
                let node = &body["data"]["mentors"]["edges"][59.min(n - 1)]["node"];
                assert_eq!(node["regions"], json!(["North West"]), "{node}");
                assert!(
                    !node["topics"].as_array().unwrap().is_empty(),
                    "the mentor's topics are there: {node}"
                );
            }
            if selection.contains("homeOrganisationName") {
                let first = &body["data"]["mentors"]["edges"][0]["node"];
                assert_eq!(first["homeOrganisationName"], "Mentors' own co-op");
                assert_eq!(first["placesFree"], 4);
                assert_eq!(
                    body["data"]["mentors"]["edges"][1]["node"]["homeOrganisationName"],
                    json!(null)
                );
            }
        }
    }
    eprintln!("{backend:?}: a page of providers costs {base} statements before its relations");
    app.stop().await;
}

on_each_backend!(provider_pages_cost_what_they_select => provider_pages_cost_what_they_select);

/// Two references of one kind on a list (who proposed an engagement and who
/// ended it, both users) load one statement each, not one per engagement
/// for the second: siblings keep what each reference has loaded apart.
async fn two_references_of_one_kind(backend: Backend) {
    let Some(app) = TestApp::start_without_worker_tuned(backend, |settings| {
        settings.loader_batch_window = SHIPPED_WINDOW;
    })
    .await
    else {
        return;
    };
    let p = Programme::new(&app).await;
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Ended Mentor", 20, None).await;
    for i in 0..12 {
        let (coop, member) = p.coop(&app, &format!("Ending co-op {i}")).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        if i % 2 == 0 {
            ok(app
                .graphql(
                    "mutation($e: ID!) { endEngagement(engagementId: $e, reason: \"We are done\") { status } }",
                    json!({"e": engagement}),
                    Some(&member),
                )
                .await);
        }
    }
    let query = "query($n: Int!) { engagements(first: $n) { edges { node {
        id status proposedBy { name } endedBy { name } } } } }";
    // The home order puts the six ACTIVE first: a page of 8 holds two of
    // the ended ones, a page of 12 all six.
    let (small, _) = app
        .statements_for(query, json!({"n": 8}), Some(&p.staff))
        .await;
    let (large, body) = app
        .statements_for(query, json!({"n": 12}), Some(&p.staff))
        .await;
    let log = app.statement_log.lock().unwrap().join("\n");
    let body = ok((200, body));
    let edges = body["data"]["engagements"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 12);
    let ended: Vec<&serde_json::Value> = edges
        .iter()
        .filter(|edge| edge["node"]["status"] == "ENDED_EARLY")
        .collect();
    assert_eq!(ended.len(), 6, "{body}");
    for edge in &ended {
        let ender = edge["node"]["endedBy"]["name"].as_str().unwrap();
        assert!(ender.starts_with("Member of"), "{edge}");
        assert_ne!(
            edge["node"]["proposedBy"]["name"],
            edge["node"]["endedBy"]["name"]
        );
    }
    assert_eq!(
        large, small,
        "12 engagements cost {large} statements, 8 cost {small}:\n{log}"
    );
    app.stop().await;
}

on_each_backend!(two_references_of_one_kind => two_references_of_one_kind);
