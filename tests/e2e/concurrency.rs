//! The programme's rules hold under concurrent requests on both databases:
//! N changes released together (N ≥ 20 where the rule is about one row)
//! never overfill a provider, match a request twice, pass an allocation,
//! share a slot, answer a survey link, a proposal, a review or a concern
//! twice. Each fails on PostgreSQL when its lock is removed.

use chrono::Utc;
use entity::engagements::{self, EngagementStatus};
use futures::future::join_all;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, decode},
};

fn successes(bodies: &[Value], field: &str) -> usize {
    for body in bodies {
        let code = first_error_code(body);
        assert!(
            code.is_none() || code == Some("CONFLICT"),
            "only CONFLICT may refuse: {body}"
        );
    }
    bodies
        .iter()
        .filter(|b| b["data"][field]["id"].is_string() || b["data"][field]["status"].is_string())
        .count()
}

async fn current(
    app: &TestApp,
    column: engagements::Column,
    id: i64,
    status: &[EngagementStatus],
) -> u64 {
    engagements::Entity::find()
        .filter(column.eq(id))
        .filter(engagements::Column::Status.is_in(status.to_vec()))
        .count(&app.db)
        .await
        .unwrap()
}

on_both_databases!(
    concurrent_proposals_never_overfill_a_provider,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (mentor, _, _) = p.provider(&app, "MENTOR", "Busy Mentor", 2, None).await;
        let mut requests = Vec::new();
        for i in 0..8 {
            let (coop, _) = p.coop(&app, &format!("Co-op {i}")).await;
            requests.push(p.request(&app, &coop, "MENTORING").await);
        }
        let bodies = join_all(requests.iter().map(|r| p.propose(&app, r, &mentor, 3))).await;
        assert_eq!(successes(&bodies, "proposeMatch"), 2, "{bodies:?}");
        let held = current(
            &app,
            engagements::Column::ProviderId,
            decode(&mentor),
            &[EngagementStatus::Proposed, EngagementStatus::Active],
        )
        .await;
        assert_eq!(held, 2);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_proposals_on_one_request_make_one,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Popular Co-op").await;
        let request = p.request(&app, &coop, "ADVICE").await;
        let mut advisers = Vec::new();
        for i in 0..6 {
            advisers.push(
                p.provider(&app, "ADVISER", &format!("Adviser {i}"), 3, None)
                    .await
                    .0,
            );
        }
        let bodies = join_all(advisers.iter().map(|a| p.propose(&app, &request, a, 4))).await;
        assert_eq!(successes(&bodies, "proposeMatch"), 1, "{bodies:?}");
        let held = current(
            &app,
            engagements::Column::SupportRequestId,
            decode(&request),
            &[EngagementStatus::Proposed],
        )
        .await;
        assert_eq!(held, 1);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_acceptances_respect_capacity_and_the_request,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let respond =
            "mutation($e: ID!) { respondToMatch(engagementId: $e, accept: true) { status } }";

        // Three proposals to one mentor, whose capacity then drops to one.
        let (mentor, token, _) = p
            .provider(&app, "MENTOR", "Shrinking Mentor", 3, None)
            .await;
        let mut proposals = Vec::new();
        for i in 0..3 {
            let (coop, _) = p.coop(&app, &format!("Client {i}")).await;
            let request = p.request(&app, &coop, "MENTORING").await;
            let body = p.propose(&app, &request, &mentor, 4).await;
            proposals.push(
                body["data"]["proposeMatch"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let provider = entity::providers::Entity::find_by_id(decode(&mentor))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut provider: entity::providers::ActiveModel = provider.into();
        provider.capacity = Set(1);
        provider.update(&app.db).await.unwrap();
        let bodies = join_all(
            proposals
                .iter()
                .map(|e| app.graphql(respond, json!({"e": e}), Some(&token))),
        )
        .await;
        let bodies: Vec<Value> = bodies.into_iter().map(|(_, b)| b).collect();
        assert_eq!(successes(&bodies, "respondToMatch"), 1, "{bodies:?}");
        assert_eq!(
            current(
                &app,
                engagements::Column::ProviderId,
                decode(&mentor),
                &[EngagementStatus::Active]
            )
            .await,
            1
        );

        // Two proposals on one request (the second written behind the API's
        // back), both accepted at once: one match only.
        let (coop, _) = p.coop(&app, "Contested Co-op").await;
        let request = p.request(&app, &coop, "ADVICE").await;
        let (first, first_token, _) = p.provider(&app, "ADVISER", "First Adviser", 2, None).await;
        let (second, second_token, _) =
            p.provider(&app, "ADVISER", "Second Adviser", 2, None).await;
        let body = p.propose(&app, &request, &first, 3).await;
        let first_engagement = body["data"]["proposeMatch"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let now = Utc::now();
        let sneaked = engagements::ActiveModel {
            support_request_id: Set(decode(&request)),
            provider_id: Set(decode(&second)),
            status: Set(EngagementStatus::Proposed),
            days_allocated: Set(3),
            fee_pence: Set(0),
            proposed_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        let second_engagement = hive_api::graphql::relay::global_id(
            hive_api::graphql::relay::NodeType::Engagement,
            sneaked.id,
        );
        let (a, b) = tokio::join!(
            app.graphql(respond, json!({"e": first_engagement}), Some(&first_token)),
            app.graphql(
                respond,
                json!({"e": second_engagement.as_str()}),
                Some(&second_token)
            ),
        );
        assert_eq!(
            successes(&[a.1.clone(), b.1.clone()], "respondToMatch"),
            1,
            "{a:?} {b:?}"
        );
        assert_eq!(
            current(
                &app,
                engagements::Column::SupportRequestId,
                decode(&request),
                &[EngagementStatus::Active]
            )
            .await,
            1
        );
        app.stop().await;
    }
);

const SCHEDULE: &str =
    "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id status } }";
const RECORD: &str = "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { id status } }";

/// A slot for `engagement`, `hours` from now, an hour long.
fn slot(engagement: &str, hours: i64) -> Value {
    json!({"i": {"engagementId": engagement, "startsAt": (Utc::now() + chrono::Duration::hours(hours)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}})
}

/// An ACTIVE engagement of 3 days: (engagement id, member token, provider token).
async fn active_engagement(app: &TestApp, p: &Programme, name: &str) -> (String, String, String) {
    let (coop, member) = p.coop(app, &format!("{name} Co-op")).await;
    let (mentor, mentor_token, _) = p
        .provider(app, "MENTOR", &format!("{name} Mentor"), 5, None)
        .await;
    let request = p.request(app, &coop, "MENTORING").await;
    let engagement = p.proposed(app, &request, &mentor, 3).await;
    p.accept(app, &engagement, &mentor_token).await;
    (engagement, member, mentor_token)
}

/// Only the codes a rule gives may refuse; never INTERNAL.
fn refused_only_by_rules(bodies: &[(u16, Value)]) {
    for (status, body) in bodies {
        let code = first_error_code(body);
        assert!(
            *status == 200 && matches!(code, None | Some("CONFLICT") | Some("BAD_USER_INPUT")),
            "{status}: {body}"
        );
    }
}

on_both_databases!(
    concurrent_recordings_never_pass_the_allocation,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (engagement, member, _) = active_engagement(&app, &p, "Budget").await;
        // Twenty meetings booked, then all in the past, each to be recorded
        // as a whole day against an allocation of three.
        let mut meetings = Vec::new();
        for i in 0..20 {
            let body = crate::support::programme::ok(
                app.graphql(SCHEDULE, slot(&engagement, 24 + 2 * i), Some(&member))
                    .await,
            );
            meetings.push(
                body["data"]["scheduleMeeting"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        entity::meetings::Entity::update_many()
            .col_expr(
                entity::meetings::Column::StartsAt,
                sea_orm::sea_query::Expr::value(Utc::now() - chrono::Duration::days(1)),
            )
            .exec(&app.db)
            .await
            .unwrap();
        let bodies = join_all(meetings.iter().map(|m| {
            app.graphql(
                RECORD,
                json!({"i": {"meetingId": m, "held": true, "daysCounted": 1.0}}),
                Some(&member),
            )
        }))
        .await;
        refused_only_by_rules(&bodies);
        let held = bodies
            .iter()
            .filter(|(_, b)| b["data"]["recordMeeting"]["status"] == "HELD")
            .count();
        assert_eq!(held, 3, "three whole days fit an allocation of three");
        let used = hive_api::programme::meetings::days_used(&app.db, decode(&engagement))
            .await
            .unwrap();
        assert_eq!(used, 3.0, "days used never pass the allocation");
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_bookings_never_share_a_slot,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // One mentor with five active engagements; twenty bookings of the same
        // hour, four on each, all at once.
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Diary Mentor", 5, None).await;
        let mut engagements = Vec::new();
        for i in 0..5 {
            let (coop, _) = p.coop(&app, &format!("Diary Client {i}")).await;
            let request = p.request(&app, &coop, "MENTORING").await;
            let engagement = p.proposed(&app, &request, &mentor, 3).await;
            p.accept(&app, &engagement, &mentor_token).await;
            engagements.push(engagement);
        }
        let bodies =
            join_all((0..20).map(|i| {
                app.graphql(SCHEDULE, slot(&engagements[i % 5], 48), Some(&mentor_token))
            }))
            .await;
        refused_only_by_rules(&bodies);
        let booked = bodies
            .iter()
            .filter(|(_, b)| b["data"]["scheduleMeeting"]["status"] == "SCHEDULED")
            .count();
        assert_eq!(booked, 1, "one meeting per provider per slot: {bodies:?}");
        let scheduled = entity::meetings::Entity::find()
            .filter(entity::meetings::Column::Status.eq(entity::meetings::MeetingStatus::Scheduled))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(scheduled, 1);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_answers_from_one_link_store_one_response,
    |app: TestApp| async move {
        use crate::support::census::{Census, token_of};
        let census = Census::new(&app).await;
        let coop = census
            .coop(&app, "Twice Answered", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let link = app
            .smtp
            .wait_for(&coop.email, 1, std::time::Duration::from_secs(20))
            .await[0]
            .link_containing("/s/")
            .expect("a survey link");
        let token = token_of(&link);
        let q = census.questions(&app, &census.survey).await;
        let answers = json!([
            {"questionId": q[0].0, "choiceIds": [q[0].2[1]]},
            {"questionId": q[1].0, "choiceIds": [q[1].2[0], q[1].2[1]]},
            {"questionId": q[2].0, "number": 2},
            {"questionId": q[3].0, "number": 14},
            {"questionId": q[4].0, "text": "Community shares."}
        ]);
        const SUBMIT: &str = "mutation($t: String!, $a: [SurveyAnswerInput!]!) {
            submitSurveyResponse(token: $t, answers: $a) { submittedAt } }";
        // Twenty submits of the same link at once: each replaces the one
        // before, so one response with each answer once.
        let bodies =
            join_all((0..20).map(|_| app.graphql(SUBMIT, json!({"t": token, "a": answers}), None)))
                .await;
        for (status, body) in &bodies {
            assert_eq!(*status, 200, "{body}");
            assert!(body["errors"].is_null(), "no INTERNAL, no refusal: {body}");
        }
        let responses = entity::survey_responses::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(responses, 1);
        let stored = entity::survey_answers::Entity::find()
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(stored, 6, "each answer once (two choices make two rows)");
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_resolutions_resolve_a_concern_once,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (engagement, member, _) = active_engagement(&app, &p, "Concerned").await;
        let body = crate::support::programme::ok(
            app.graphql(
                "mutation($e: ID!) { raiseConcern(engagementId: $e, category: OTHER, details: \"Something happened.\") { id } }",
                json!({"e": engagement}),
                Some(&member),
            )
            .await,
        );
        let concern = body["data"]["raiseConcern"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let bodies = join_all((0..20).map(|i| {
            app.graphql(
                "mutation($c: ID!, $o: String!) { resolveConcern(concernId: $c, outcome: $o) { status outcome } }",
                json!({"c": concern, "o": format!("Outcome {i}")}),
                Some(&p.staff),
            )
        }))
        .await;
        refused_only_by_rules(&bodies);
        let resolved: Vec<&Value> = bodies
            .iter()
            .map(|(_, b)| &b["data"]["resolveConcern"])
            .filter(|r| r["status"] == "RESOLVED")
            .collect();
        assert_eq!(resolved.len(), 1, "resolved once: {bodies:?}");
        let stored = entity::concerns::Entity::find_by_id(decode(&concern))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.outcome.as_deref(),
            resolved[0]["outcome"].as_str(),
            "the outcome kept is the one answered"
        );
        let trail = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("resolveConcern"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(trail, 1);
        app.stop().await;
    }
);

on_both_databases!(
    concurrent_answers_to_one_proposal_count_once,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Answered Co-op").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Torn Mentor", 3, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        // Twenty answers at once, accepting and declining in turn.
        let bodies = join_all((0..20).map(|i| {
            app.graphql(
                "mutation($e: ID!, $a: Boolean!) { respondToMatch(engagementId: $e, accept: $a) { status } }",
                json!({"e": engagement, "a": i % 2 == 0}),
                Some(&mentor_token),
            )
        }))
        .await;
        refused_only_by_rules(&bodies);
        let answered: Vec<&Value> = bodies
            .iter()
            .map(|(_, b)| &b["data"]["respondToMatch"]["status"])
            .filter(|s| s.is_string())
            .collect();
        assert_eq!(answered.len(), 1, "one answer counts: {bodies:?}");
        let stored = engagements::Entity::find_by_id(decode(&engagement))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let expected = if answered[0] == "ACTIVE" {
            EngagementStatus::Active
        } else {
            EngagementStatus::Declined
        };
        assert_eq!(stored.status, expected, "the answer kept is the one given");
        let trail = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.is_in(["acceptMatch", "declineMatch"]))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(trail, 1, "one answer in the audit trail");
        app.stop().await;
    }
);

/// A COMPLETED engagement (its final meeting held), whose two parties have
/// been asked for their reviews: (engagement id, member token, provider token).
async fn completed_engagement(
    app: &TestApp,
    p: &Programme,
    name: &str,
) -> (String, String, String) {
    let (engagement, member, mentor) = active_engagement(app, p, name).await;
    let body = crate::support::programme::ok(
        app.graphql(
            SCHEDULE,
            json!({"i": {"engagementId": engagement, "startsAt": (Utc::now() + chrono::Duration::hours(24)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO", "isFinal": true}}),
            Some(&member),
        )
        .await,
    );
    let meeting = body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    crate::support::programme::move_meeting(app, &meeting, Utc::now() - chrono::Duration::days(1))
        .await;
    crate::support::programme::ok(
        app.graphql(
            RECORD,
            json!({"i": {"meetingId": meeting, "held": true, "daysCounted": 1.0}}),
            Some(&member),
        )
        .await,
    );
    (engagement, member, mentor)
}

on_both_databases!(
    concurrent_reviews_store_one_per_party,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        // Four rounds; in each, ten answers from each party of three
        // engagements, sixty in all (under the server's 64 connections per
        // client), at once, each with its own rating. (One round of a single
        // engagement caught a missing lock only about half the time: the
        // window between reading and committing is short.)
        for round in 0..4 {
            let mut completed = Vec::new();
            for i in 0..3 {
                completed
                    .push(completed_engagement(&app, &p, &format!("Reviewed {round}.{i}")).await);
            }
            let answers: Vec<(usize, &String, i64)> = (0..60)
                .map(|i| {
                    let (_, member, mentor) = &completed[i % 3];
                    let token = if (i / 3) % 2 == 0 { member } else { mentor };
                    (i % 3, token, 1 + (i as i64 / 6) % 5)
                })
                .collect();
            let bodies = join_all(answers.iter().map(|(which, token, usefulness)| {
                app.graphql(
                    "mutation($e: ID!, $i: ReviewInput!) { submitReview(engagementId: $e, input: $i) { party usefulness } }",
                    json!({"e": completed[*which].0, "i": {"usefulness": usefulness, "relationship": 4, "wouldRecommend": 4}}),
                    Some(token),
                )
            }))
            .await;
            refused_only_by_rules(&bodies);
            for (which, (engagement, _, _)) in completed.iter().enumerate() {
                let stored_answers: Vec<&Value> = bodies
                    .iter()
                    .zip(&answers)
                    .filter(|(_, answer)| answer.0 == which)
                    .map(|((_, b), _)| &b["data"]["submitReview"])
                    .filter(|r| r["party"].is_string())
                    .collect();
                assert_eq!(
                    stored_answers.len(),
                    2,
                    "round {round}: one answer per party: {stored_answers:?}"
                );
                let rows = entity::reviews::Entity::find()
                    .filter(entity::reviews::Column::EngagementId.eq(decode(engagement)))
                    .all(&app.db)
                    .await
                    .unwrap();
                assert_eq!(rows.len(), 2);
                for answer in stored_answers {
                    let party = if answer["party"] == "PROVIDER" {
                        entity::reviews::ReviewParty::Provider
                    } else {
                        entity::reviews::ReviewParty::Client
                    };
                    let row = rows.iter().find(|r| r.party == party).unwrap();
                    assert_eq!(
                        row.usefulness.map(i64::from),
                        answer["usefulness"].as_i64(),
                        "the rating kept is the one answered"
                    );
                }
            }
        }
        let trail = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("submitReview"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(trail, 24, "one review per party in the audit trail");
        app.stop().await;
    }
);

on_both_databases!(
    requests_racing_an_archive_are_refused_or_withdrawn,
    |app: TestApp| async move {
        // Staff archive a co-op while requests for it are being submitted:
        // each request either came first (and the archive withdrew it) or
        // is refused CONFLICT; none stays open for a co-op that has left.
        // The submission holds the co-op shared until its request is in.
        use entity::support_requests::{self, SupportRequestStatus};
        const SUBMIT: &str = "mutation($i: SubmitSupportRequestInput!) { submitSupportRequest(input: $i) { id status } }";
        const ARCHIVE: &str =
            "mutation($o: ID!) { archiveOrganisation(organisationId: $o) { archivedAt } }";
        let p = Programme::new(&app).await;
        for round in 0..10 {
            let (coop, _) = p.coop(&app, &format!("Racing Co-op {round}")).await;
            let input = json!({"i": {"organisationId": coop, "kind": "MENTORING", "topicIds": [p.topics[0]], "goals": "Grow the membership."}});
            let submits =
                join_all((0..20).map(|_| app.graphql(SUBMIT, input.clone(), Some(&p.staff))));
            let archive = app.graphql(ARCHIVE, json!({"o": coop}), Some(&p.staff));
            let (submitted, (_, archived)) = tokio::join!(submits, archive);
            assert!(
                archived["data"]["archiveOrganisation"]["archivedAt"].is_string(),
                "{archived}"
            );
            let bodies: Vec<Value> = submitted.into_iter().map(|(_, body)| body).collect();
            successes(&bodies, "submitSupportRequest");
            let open = support_requests::Entity::find()
                .filter(support_requests::Column::OrganisationId.eq(decode(&coop)))
                .filter(support_requests::Column::Status.is_in([
                    SupportRequestStatus::Submitted,
                    SupportRequestStatus::Matching,
                ]))
                .count(&app.db)
                .await
                .unwrap();
            assert_eq!(open, 0, "round {round}: open requests of an archived co-op");
        }
        app.stop().await;
    }
);
