//! People and co-ops leaving the programme: what leaving closes, and that
//! nothing addresses them afterwards about what it closed (issue 17, item 1).

use std::time::Duration;

use entity::{
    emails::{self, EmailStatus},
    providers,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp, first_error_code,
    programme::{Programme, age_proposal, decode, ok},
};

const DEACTIVATE: &str = "mutation($id: ID!) { deactivateProvider(id: $id) { active } }";
const RESPOND: &str =
    "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: true) { status } }";
const ENGAGEMENT: &str = "query($id: ID!) { node(id: $id) { ... on Engagement { status endReason supportRequest { status } } } }";
const WAIT: Duration = Duration::from_secs(20);

on_both_databases!(
    a_deactivated_provider_cannot_take_up_an_open_proposal,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Riverside Bakers").await;
        let (other_coop, _) = p.coop(&app, "Hilltop Grocers").await;
        let (mentor, mentor_token, mentor_email) =
            p.provider(&app, "MENTOR", "Leaving Mentor", 2, None).await;
        // One engagement under way, which goes on…
        let running_request = p.request(&app, &other_coop, "MENTORING").await;
        let running = p.proposed(&app, &running_request, &mentor, 3).await;
        p.accept(&app, &running, &mentor_token).await;
        // …and one proposal awaiting the mentor's answer, which does not.
        let request = p.request(&app, &coop, "MENTORING").await;
        let proposal = p.proposed(&app, &request, &mentor, 3).await;
        let proposal_mail = app
            .smtp
            .wait_for_subject(&mentor_email, "Riverside Bakers", WAIT)
            .await;
        let link = proposal_mail
            .link_containing("/m/")
            .expect("an answer link");
        ok(app
            .graphql(DEACTIVATE, json!({"id": mentor}), Some(&p.staff))
            .await);

        // The emailed link no longer works, nor does answering in the app.
        let (status, page) = app.get_page(&link).await;
        assert_eq!(status, 404, "{page}");
        let (_, body) = app
            .graphql(RESPOND, json!({"e": proposal}), Some(&mentor_token))
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        // The proposal lapsed, saying why; the request is back in matching.
        let body = ok(app
            .graphql(ENGAGEMENT, json!({"id": proposal}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["node"]["status"], "EXPIRED");
        assert_eq!(
            body["data"]["node"]["endReason"],
            hive_api::programme::providers::PROVIDER_LEFT
        );
        assert_eq!(body["data"]["node"]["supportRequest"]["status"], "MATCHING");
        // The running engagement goes on.
        let body = ok(app
            .graphql(ENGAGEMENT, json!({"id": running}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["node"]["status"], "ACTIVE");
        // Staff and the co-op are told; the provider is not written to.
        for address in ["staff@hive.test", "member@riversidebakers.coop"] {
            let mail = app.smtp.wait_for_subject(address, "withdrawn", WAIT).await;
            assert!(
                mail.text()
                    .contains("Leaving Mentor has left the programme")
            );
        }
        // Four days on, no chaser goes to them, nor anything else about the
        // withdrawn proposal (mail about the running engagement may still
        // be arriving).
        age_proposal(&app, &proposal, 4).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let about_the_proposal: Vec<String> = app
            .smtp
            .received_by(&mentor_email)
            .iter()
            .map(|mail| mail.subject())
            .filter(|subject| subject.starts_with("Reminder") || subject.contains("Riverside"))
            .collect();
        assert_eq!(
            about_the_proposal,
            vec![proposal_mail.subject()],
            "nothing more to the deactivated mentor about the proposal"
        );
        // Staff can propose someone else at once.
        let (other, _, _) = p.provider(&app, "MENTOR", "Next Mentor", 2, None).await;
        let body = p.propose(&app, &request, &other, 3).await;
        assert_eq!(body["data"]["proposeMatch"]["status"], "PROPOSED", "{body}");
        app.stop().await;
    }
);

/// The proposal email not yet sent when the provider is deactivated is taken
/// back: they never hear of a proposal they can no longer take.
async fn an_unsent_proposal_email_is_taken_back(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let p = Programme::new(&app).await;
    let (coop, _) = p.coop(&app, "Canal Cycles").await;
    let (mentor, _, mentor_email) = p.provider(&app, "MENTOR", "Gone Mentor", 1, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let proposal = p.proposed(&app, &request, &mentor, 3).await;
    ok(app
        .graphql(DEACTIVATE, json!({"id": mentor}), Some(&p.staff))
        .await);
    let (stop, worker) = app.spawn_worker().await;
    app.smtp
        .wait_for_subject("staff@hive.test", "withdrawn", WAIT)
        .await;
    // Its welcome went (sent before the worker ran, now delivered); the
    // proposal did not.
    app.smtp
        .wait_for_subject(&mentor_email, "Welcome", WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let subjects: Vec<String> = app
        .smtp
        .received_by(&mentor_email)
        .iter()
        .map(|mail| mail.subject())
        .collect();
    assert!(
        subjects.iter().all(|s| !s.contains("Canal Cycles")),
        "{subjects:?}"
    );
    let withdrawn = emails::Entity::find()
        .filter(
            emails::Column::IdempotencyKey
                .starts_with(format!("match-proposed:{}:", decode(&proposal))),
        )
        .one(&app.db)
        .await
        .unwrap()
        .expect("the proposal's email row stays, for staff to read");
    assert_eq!(withdrawn.status, EmailStatus::Suppressed);
    assert_eq!(
        withdrawn.last_error.as_deref(),
        Some(hive_api::programme::providers::PROVIDER_LEFT)
    );
    stop.cancel();
    worker.await.unwrap().unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsent_proposal_email_is_taken_back_sqlite() {
    an_unsent_proposal_email_is_taken_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsent_proposal_email_is_taken_back_postgres() {
    an_unsent_proposal_email_is_taken_back(Backend::Postgres).await;
}

on_both_databases!(
    a_proposal_left_open_to_an_inactive_provider_is_neither_chased_nor_accepted,
    |app: TestApp| async move {
        // A provider taken out of matching before deactivation withdrew
        // proposals: their proposal is still PROPOSED.
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Old Mill").await;
        let (mentor, mentor_token, mentor_email) =
            p.provider(&app, "MENTOR", "Earlier Leaver", 1, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let proposal = p.proposed(&app, &request, &mentor, 3).await;
        app.smtp
            .wait_for_subject(&mentor_email, "Old Mill", WAIT)
            .await;
        providers::Entity::update_many()
            .col_expr(providers::Column::Active, Expr::value(false))
            .filter(providers::Column::Id.eq(decode(&mentor)))
            .exec(&app.db)
            .await
            .unwrap();
        age_proposal(&app, &proposal, 4).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let chasers = app
            .smtp
            .received_by(&mentor_email)
            .iter()
            .filter(|mail| mail.subject().starts_with("Reminder"))
            .count();
        assert_eq!(chasers, 0, "no chaser to an inactive provider");
        let (_, body) = app
            .graphql(RESPOND, json!({"e": proposal}), Some(&mentor_token))
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        app.stop().await;
    }
);

/// Deactivation and the provider's acceptance at the same moment, on
/// PostgreSQL: each round ends one way or the other, never both and never an
/// error (a lock taken out of order deadlocks here: `change`'s lock order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_and_acceptance_at_once_end_one_way_postgres() {
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let p = Programme::new(&app).await;
    let mut accepted = 0;
    let mut withdrawn = 0;
    for round in 0..8 {
        let (coop, _) = p.coop(&app, &format!("Race Co-op {round}")).await;
        let (mentor, token, _) = p
            .provider(&app, "MENTOR", &format!("Racing Mentor {round}"), 1, None)
            .await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let proposal = p.proposed(&app, &request, &mentor, 3).await;
        let (deactivation, acceptance) = tokio::join!(
            app.graphql(DEACTIVATE, json!({"id": mentor}), Some(&p.staff)),
            app.graphql(RESPOND, json!({"e": proposal}), Some(&token)),
        );
        ok(deactivation);
        let body = ok(app
            .graphql(ENGAGEMENT, json!({"id": proposal}), Some(&p.staff))
            .await);
        match body["data"]["node"]["status"].as_str() {
            Some("ACTIVE") => {
                assert_eq!(acceptance.1["data"]["respondToMatch"]["status"], "ACTIVE");
                assert_eq!(body["data"]["node"]["supportRequest"]["status"], "MATCHED");
                accepted += 1;
            }
            Some("EXPIRED") => {
                assert_eq!(
                    first_error_code(&acceptance.1),
                    Some("CONFLICT"),
                    "{}",
                    acceptance.1
                );
                assert_eq!(body["data"]["node"]["supportRequest"]["status"], "MATCHING");
                withdrawn += 1;
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    eprintln!("accepted first {accepted} times, withdrawn first {withdrawn} times");
    app.stop().await;
}

const REMOVE: &str = "mutation($u: ID!) { removeMember(userId: $u) { id active } }";
const ME: &str = "{ me { id email } }";

/// A member removed from their co-op: their session ends at once, no
/// message not yet sent goes to them (the co-op's other member still gets
/// it), and they cannot sign in again; bad input changes nothing.
async fn a_removed_member_hears_nothing_more(backend: Backend) {
    let Some(app) = TestApp::start_without_worker(backend).await else {
        return;
    };
    let p = Programme::new(&app).await;
    let (coop, leaver) = p.coop(&app, "Dale Dairy").await;
    let (_, stayer) = hive_api::admin::create_user(
        &app.db,
        "stayer@daledairy.coop",
        "Stays On",
        entity::users::Role::Member,
        Some(decode(&coop)),
        chrono::Duration::days(1),
    )
    .await
    .unwrap();
    let me = ok(app.graphql(ME, json!({}), Some(&leaver)).await);
    let leaver_id = me["data"]["me"]["id"].as_str().unwrap().to_string();
    let leaver_email = me["data"]["me"]["email"].as_str().unwrap().to_string();
    // A match the co-op is told of, its emails not yet sent (no worker yet).
    let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Dale Mentor", 2, None).await;
    let request = p.request(&app, &coop, "MENTORING").await;
    let engagement = p.proposed(&app, &request, &mentor, 3).await;
    p.accept(&app, &engagement, &mentor_token).await;

    // Bad input first: each refused, nothing changed.
    let (_, body) = app
        .graphql(REMOVE, json!({"u": leaver_id}), Some(stayer.expose()))
        .await;
    assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
    let mentor_user = ok(app.graphql(ME, json!({}), Some(&mentor_token)).await)["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = app
        .graphql(REMOVE, json!({"u": mentor_user}), Some(&p.staff))
        .await;
    assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    ok(app.graphql(ME, json!({}), Some(&leaver)).await);

    let body = ok(app
        .graphql(REMOVE, json!({"u": leaver_id}), Some(&p.staff))
        .await);
    assert_eq!(body["data"]["removeMember"]["active"], false);
    let (_, body) = app
        .graphql(REMOVE, json!({"u": leaver_id}), Some(&p.staff))
        .await;
    assert_eq!(
        first_error_code(&body),
        Some("CONFLICT"),
        "removed twice: {body}"
    );

    // Their session ends at once; they cannot sign in again.
    let (_, body) = app.graphql(ME, json!({}), Some(&leaver)).await;
    assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    ok(app
        .graphql(
            "mutation($e: String!) { requestSignIn(email: $e) { message } }",
            json!({"e": leaver_email}),
            None,
        )
        .await);

    let (stop, worker) = app.spawn_worker().await;
    app.smtp
        .wait_for_subject("stayer@daledairy.coop", "Dale Mentor", WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let to_leaver: Vec<String> = app
        .smtp
        .received_by(&leaver_email)
        .iter()
        .map(|mail| mail.subject())
        .collect();
    assert!(
        to_leaver.is_empty(),
        "nothing to the removed member: {to_leaver:?}"
    );
    let taken_back = emails::Entity::find()
        .filter(emails::Column::Recipient.eq(leaver_email.as_str()))
        .all(&app.db)
        .await
        .unwrap();
    assert!(!taken_back.is_empty());
    assert!(
        taken_back
            .iter()
            .all(|row| row.status == EmailStatus::Suppressed
                && row.last_error.as_deref()
                    == Some(hive_api::programme::organisations::MEMBER_REMOVED))
    );
    let audit = ok(app
        .graphql(
            "{ auditLog(filter: {action: \"removeMember\"}, first: 5) { totalCount edges { node { subject { id } } } } }",
            json!({}),
            Some(&p.staff),
        )
        .await);
    assert_eq!(audit["data"]["auditLog"]["totalCount"], 1);
    assert_eq!(
        audit["data"]["auditLog"]["edges"][0]["node"]["subject"]["id"],
        leaver_id.as_str()
    );
    stop.cancel();
    worker.await.unwrap().unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_hears_nothing_more_sqlite() {
    a_removed_member_hears_nothing_more(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_hears_nothing_more_postgres() {
    a_removed_member_hears_nothing_more(Backend::Postgres).await;
}

const ARCHIVE: &str =
    "mutation($o: ID!) { archiveOrganisation(organisationId: $o) { id archivedAt } }";
const REQUEST_STATUS: &str =
    "query($id: ID!) { node(id: $id) { ... on SupportRequest { status } } }";

on_both_databases!(
    a_coop_that_leaves_is_archived_and_sent_nothing_more,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // Co-op A has an engagement under way: it cannot be archived yet.
        let (coop_a, _) = p.coop(&app, "Ash Growers").await;
        let (mentor, mentor_token, mentor_email) =
            p.provider(&app, "MENTOR", "Stays Mentor", 3, None).await;
        let running_request = p.request(&app, &coop_a, "MENTORING").await;
        let running = p.proposed(&app, &running_request, &mentor, 3).await;
        p.accept(&app, &running, &mentor_token).await;
        let (_, body) = app
            .graphql(ARCHIVE, json!({"o": coop_a}), Some(&p.staff))
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(&running),
            "names the engagement: {body}"
        );
        let body = ok(app
            .graphql(
                REQUEST_STATUS,
                json!({"id": running_request}),
                Some(&p.staff),
            )
            .await);
        assert_eq!(body["data"]["node"]["status"], "MATCHED", "nothing changed");

        // Co-op B: one request with a proposal awaiting the mentor, one just
        // submitted. It leaves.
        let (coop_b, member_b) = p.coop(&app, "Birch Weavers").await;
        let proposed_request = p.request(&app, &coop_b, "MENTORING").await;
        let proposal = p.proposed(&app, &proposed_request, &mentor, 3).await;
        let link = app
            .smtp
            .wait_for_subject(&mentor_email, "Birch Weavers", WAIT)
            .await
            .link_containing("/m/")
            .expect("an answer link");
        let waiting_request = p.request(&app, &coop_b, "MENTORING").await;
        // A member may not archive their own co-op.
        let (_, body) = app
            .graphql(ARCHIVE, json!({"o": coop_b}), Some(&member_b))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");

        let body = ok(app
            .graphql(ARCHIVE, json!({"o": coop_b}), Some(&p.staff))
            .await);
        assert!(body["data"]["archiveOrganisation"]["archivedAt"].is_string());
        let (_, body) = app
            .graphql(ARCHIVE, json!({"o": coop_b}), Some(&p.staff))
            .await;
        assert_eq!(
            first_error_code(&body),
            Some("CONFLICT"),
            "archived twice: {body}"
        );

        // Its requests are withdrawn, the proposal lapsed and its link dead.
        for request in [&proposed_request, &waiting_request] {
            let body = ok(app
                .graphql(REQUEST_STATUS, json!({"id": request}), Some(&p.staff))
                .await);
            assert_eq!(body["data"]["node"]["status"], "WITHDRAWN");
        }
        let body = ok(app
            .graphql(ENGAGEMENT, json!({"id": proposal}), Some(&p.staff))
            .await);
        assert_eq!(body["data"]["node"]["status"], "EXPIRED");
        assert_eq!(
            body["data"]["node"]["endReason"],
            hive_api::programme::organisations::COOP_LEFT
        );
        assert_eq!(app.get_page(&link).await.0, 404);
        // Its member is signed out, and it can ask for nothing more.
        let (_, body) = app.graphql(ME, json!({}), Some(&member_b)).await;
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        let input = json!({"organisationId": coop_b, "kind": "MENTORING", "topicIds": [p.topics[0]], "goals": "Grow.", "preferredFormats": ["VIDEO"]});
        let (_, body) = app
            .graphql(
                "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id } }",
                json!({"i": input}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

        // A survey launched now goes to co-op A, not to B.
        let census = json!({"title": "Winter census", "questions": [{"kind": "TEXT", "prompt": "What do you need?"}]});
        let body = ok(app
            .graphql(
                "mutation($i: SurveyInput!) { createSurvey(input: $i) { id } }",
                json!({"i": census}),
                Some(&p.staff),
            )
            .await);
        let survey = body["data"]["createSurvey"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(app
            .graphql(
                "mutation($s: ID!, $c: DateTime!) { launchSurvey(surveyId: $s, closesAt: $c) { status } }",
                json!({"s": survey, "c": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}),
                Some(&p.staff),
            )
            .await);
        app.smtp
            .wait_for_subject("member@ashgrowers.coop", "Winter census", WAIT)
            .await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        for address in ["member@birchweavers.coop", "hello@birchweavers.coop"] {
            assert!(
                app.smtp
                    .received_by(address)
                    .iter()
                    .all(|mail| !mail.subject().contains("Winter census")),
                "no survey to {address}"
            );
        }
        let invited = entity::survey_invitations::Entity::find()
            .filter(entity::survey_invitations::Column::OrganisationId.eq(decode(&coop_b)))
            .all(&app.db)
            .await
            .unwrap();
        assert!(invited.is_empty(), "no invitation for the archived co-op");
        app.stop().await;
    }
);
