//! The census's staff changes hold under concurrent requests on both
//! databases: twenty launches of one draft at once launch it once (one
//! launch in the audit trail, one invitation per co-op), twenty closes close
//! it once, edits racing a launch land before it or not at all, and twenty
//! clicks on "make a request" from one response draft one request.
//!
//! The first three fail on PostgreSQL when the survey's lock is removed. The
//! last holds without the invitation's lock too (the unique key on a
//! request's response refuses a second one); it guards the CONFLICT a second
//! click gets.

use std::time::Duration;

use entity::{audit_log, support_requests, survey_invitations, survey_questions};
use futures::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::{Census, survey_input, token_of},
    first_error_code,
    programme::{decode, ok},
};

/// Requests released together: well under the server's 64 connections per
/// client address.
const BURST: usize = 20;
/// Bursts per test where one can miss the race (the first request done
/// before the others start): each on its own survey.
const ROUNDS: usize = 3;

const LAUNCH: &str = "mutation($s: ID!, $c: DateTime!) {
    launchSurvey(surveyId: $s, closesAt: $c) { id status } }";

/// How many of `bodies` succeeded at `field`; every refusal must be a
/// CONFLICT (never INTERNAL, never anything else).
fn successes(bodies: &[(u16, Value)], field: &str) -> usize {
    for (status, body) in bodies {
        assert_eq!(*status, 200, "{body}");
        let code = first_error_code(body);
        assert!(
            code.is_none() || code == Some("CONFLICT"),
            "only CONFLICT may refuse: {body}"
        );
    }
    bodies
        .iter()
        .filter(|(_, body)| body["data"][field]["id"].is_string())
        .count()
}

/// The audit trail's entries for `action` on survey `survey`, oldest first.
async fn trail(app: &TestApp, action: &str, survey: &str) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .filter(audit_log::Column::SubjectId.eq(decode(survey)))
        .order_by_asc(audit_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// The census survey and `ROUNDS - 1` drafts of later waves.
async fn drafts(app: &TestApp, census: &Census) -> Vec<String> {
    let mut surveys = vec![census.survey.clone()];
    for wave in 1..ROUNDS {
        let body = ok(app
            .graphql(
                "mutation($s: ID!, $t: String) { duplicateSurvey(id: $s, title: $t) { id } }",
                json!({"s": census.survey, "t": format!("Wave {wave}")}),
                Some(&census.programme.staff),
            )
            .await);
        surveys.push(
            body["data"]["duplicateSurvey"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    surveys
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

on_both_databases!(
    concurrent_launches_launch_a_survey_once,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let mut coops = Vec::new();
        for (i, region) in ["North West", "London", "Wales"].iter().enumerate() {
            coops.push(
                census
                    .coop(
                        &app,
                        &format!("Launch Co-op {i}"),
                        Some(0),
                        region,
                        "TRADING",
                    )
                    .await,
            );
        }
        let surveys = drafts(&app, &census).await;
        let closes = in_days(30);
        for survey in &surveys {
            let bodies = join_all((0..BURST).map(|_| {
                app.graphql(
                    LAUNCH,
                    json!({"s": survey, "c": closes}),
                    Some(&census.programme.staff),
                )
            }))
            .await;
            assert_eq!(successes(&bodies, "launchSurvey"), 1, "{bodies:?}");
            assert_eq!(trail(&app, "launchSurvey", survey).await.len(), 1);
        }

        // The worker invites each co-op once to each survey.
        for coop in &coops {
            app.smtp
                .wait_for(&coop.email, surveys.len(), Duration::from_secs(20))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for survey in &surveys {
            let invitations = survey_invitations::Entity::find()
                .filter(survey_invitations::Column::SurveyId.eq(decode(survey)))
                .count(&app.db)
                .await
                .unwrap();
            assert_eq!(invitations, coops.len() as u64);
        }
        for coop in &coops {
            assert_eq!(
                app.smtp.received_by(&coop.email).len(),
                surveys.len(),
                "{}",
                coop.email
            );
        }
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_closes_close_a_survey_once,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        census
            .coop(&app, "Closing Co-op", Some(0), "London", "TRADING")
            .await;
        let surveys = drafts(&app, &census).await;
        for survey in &surveys {
            census.launch(&app, survey, json!({})).await;
        }
        for survey in &surveys {
            let bodies = join_all((0..BURST).map(|_| {
                app.graphql(
                    "mutation($s: ID!) { closeSurvey(id: $s) { id status closedAt } }",
                    json!({"s": survey}),
                    Some(&census.programme.staff),
                )
            }))
            .await;
            assert_eq!(successes(&bodies, "closeSurvey"), 1, "{bodies:?}");
            assert_eq!(trail(&app, "closeSurvey", survey).await.len(), 1);
            for (_, body) in &bodies {
                if let Some(message) = body["errors"][0]["message"].as_str() {
                    assert_eq!(message, "This survey is closed already.");
                }
            }
        }
        app.stop().await;
    }
);

on_both_databases!(
    edits_racing_a_launch_land_before_it_or_not_at_all,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        census
            .coop(&app, "Edited Co-op", Some(0), "London", "TRADING")
            .await;
        let staff = census.programme.staff.clone();
        // Edit i keeps the first (i % 5) + 1 questions and is titled after i.
        let edit = |i: usize| {
            let mut input = survey_input(&format!("Edit {i}"), &census.programme.topics);
            input["questions"]
                .as_array_mut()
                .unwrap()
                .truncate(i % 5 + 1);
            input
        };
        let update =
            "mutation($s: ID!, $i: SurveyInput!) { updateSurvey(id: $s, input: $i) { id } }";
        let closes = in_days(30);
        let mut requests = Vec::new();
        for i in 0..BURST {
            let app = &app;
            let staff = staff.as_str();
            let variables = if i == BURST / 2 {
                json!({"s": census.survey, "c": closes})
            } else {
                json!({"s": census.survey, "i": edit(i)})
            };
            let query = if i == BURST / 2 { LAUNCH } else { update };
            requests.push(async move { app.graphql(query, variables, Some(staff)).await });
        }
        let bodies = join_all(requests).await;
        assert_eq!(successes(&bodies, "launchSurvey"), 1, "{bodies:?}");
        let edited = successes(&bodies, "updateSurvey");

        // Every edit that went through did so before the launch.
        let launch = trail(&app, "launchSurvey", &census.survey).await;
        assert_eq!(launch.len(), 1);
        let edits = trail(&app, "updateSurvey", &census.survey).await;
        assert_eq!(edits.len(), edited);
        let late: Vec<i64> = edits
            .iter()
            .filter(|e| e.id > launch[0].id)
            .map(|e| e.id)
            .collect();
        assert!(
            late.is_empty(),
            "edits after the launch (audit ids {late:?}, launch {})",
            launch[0].id
        );

        // And the open survey is one edit whole: its title and its questions.
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { status title questions { position } } }",
                json!({"s": census.survey}),
                Some(&staff),
            )
            .await);
        let survey = &body["data"]["survey"];
        assert_eq!(survey["status"], "OPEN");
        let title = survey["title"].as_str().unwrap();
        let expected = match title.strip_prefix("Edit ") {
            Some(i) => i.parse::<usize>().unwrap() % 5 + 1,
            None => 5,
        };
        let positions: Vec<i64> = survey["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["position"].as_i64().unwrap())
            .collect();
        assert_eq!(
            positions,
            (1..=expected as i64).collect::<Vec<_>>(),
            "{title}"
        );
        let stored = survey_questions::Entity::find()
            .filter(survey_questions::Column::SurveyId.eq(decode(&census.survey)))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(stored, expected as u64);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_drafts_from_one_response_make_one_request,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let staff = census.programme.staff.clone();
        let coop = census
            .coop(&app, "Needy Co-op", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let link = app
            .smtp
            .wait_for(&coop.email, 1, Duration::from_secs(20))
            .await[0]
            .link_containing("/s/")
            .expect("a survey link");
        let q = census.questions(&app, &census.survey).await;
        ok(app
            .graphql(
                "mutation($t: String!, $a: [SurveyAnswerInput!]!) {
                   submitSurveyResponse(token: $t, answers: $a) { submittedAt } }",
                json!({"t": token_of(&link), "a": [
                    {"questionId": q[0].0, "choiceIds": [q[0].2[1]]},
                    {"questionId": q[2].0, "number": 2},
                    {"questionId": q[4].0, "text": "Community shares."}
                ]}),
                None,
            )
            .await);
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { responses { edges { node { id } } } } }",
                json!({"s": census.survey}),
                Some(&staff),
            )
            .await);
        let response = body["data"]["survey"]["responses"]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let bodies = join_all((0..BURST).map(|_| {
            app.graphql(
                "mutation($r: ID!) { createSupportRequestFromResponse(responseId: $r, kind: ADVICE) { id } }",
                json!({"r": response}),
                Some(&staff),
            )
        }))
        .await;
        assert_eq!(
            successes(&bodies, "createSupportRequestFromResponse"),
            1,
            "{bodies:?}"
        );
        for (_, body) in &bodies {
            if let Some(message) = body["errors"][0]["message"].as_str() {
                assert_eq!(
                    message,
                    "A support request has already been drafted from this response."
                );
            }
        }
        let requests = support_requests::Entity::find()
            .filter(support_requests::Column::SurveyResponseId.eq(decode(&response)))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(requests, 1);
        let drafted = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("createSupportRequestFromResponse"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(drafted, 1);
        app.stop().await;
    }
);
