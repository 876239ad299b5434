//! People and co-ops leaving, and erasure, under what a red team tried
//! (issue 17): each test is a gap found by using the new mutations the way a
//! careless or hurried staff member would, and failed before its fix.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::{
    providers, reviews,
    support_requests::{self, SupportRequestStatus},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp,
    census::{Census, token_of},
    first_error_code,
    programme::{Programme, decode, ok},
};

const WAIT: StdDuration = StdDuration::from_secs(20);
const ARCHIVE: &str =
    "mutation($o: ID!) { archiveOrganisation(organisationId: $o) { archivedAt } }";
const ERASE_PERSON: &str =
    "mutation($u: ID!, $r: String!) { erasePerson(userId: $u, reason: $r) { erasedAt } }";

fn code(body: &Value) -> Option<&str> {
    first_error_code(body)
}

async fn user_id_of(app: &TestApp, email: &str) -> String {
    let user = entity::users::Entity::find()
        .filter(entity::users::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the user");
    hive_worker::ids::global_id("User", user.id)
}

async fn requests_of(app: &TestApp, coop: &str) -> Vec<support_requests::Model> {
    support_requests::Entity::find()
        .filter(support_requests::Column::OrganisationId.eq(decode(coop)))
        .all(&app.db)
        .await
        .unwrap()
}

// An erased provider stays out of matching: erasure takes them out, and
// `reactivateProvider` must not put an "[erased]" mentor, whose address is
// never mailed, back in the pool where staff can propose them.
on_both_databases!(
    an_erased_provider_cannot_be_reactivated_and_proposed,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Tyne Growers").await;
        let (mentor, _, mentor_email) = p.provider(&app, "MENTOR", "Erin Erased", 2, None).await;
        let user = user_id_of(&app, &mentor_email).await;
        ok(app
            .graphql(
                ERASE_PERSON,
                json!({"u": user, "r": "She asked by letter on 2 December"}),
                Some(&p.staff),
            )
            .await);
        let (_, body) = app
            .graphql(
                "mutation($id: ID!) { reactivateProvider(id: $id) { active } }",
                json!({"id": mentor}),
                Some(&p.staff),
            )
            .await;
        let provider = providers::Entity::find_by_id(decode(&mentor))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let request = p.request(&app, &coop, "MENTORING").await;
        let proposal = p.propose(&app, &request, &mentor, 3).await;
        assert_eq!(
            (code(&body), provider.active, code(&proposal).is_some()),
            (Some("CONFLICT"), false, true),
            "an erased provider was reactivated ({body}) and then proposed ({proposal})"
        );
        app.stop().await;
    }
);

// A co-op that left the programme "can ask for nothing more": not by
// submitSupportRequest (refused) and not by staff drafting a request from
// the census answer it gave before it left.
on_both_databases!(
    an_archived_coop_gets_no_request_drafted_from_its_survey_answer,
    |app: TestApp| async move {
        let census = Census::new(&app).await;
        let staff = census.programme.staff.clone();
        let coop = census
            .coop(&app, "Leaving Housing", Some(0), "North West", "TRADING")
            .await;
        census.launch(&app, &census.survey, json!({})).await;
        let q = census.questions(&app, &census.survey).await;
        let link = app
            .smtp
            .wait_for_subject(&coop.email, "Needs census", WAIT)
            .await
            .link_containing("/s/")
            .expect("a survey link");
        ok(app
            .graphql(
                "mutation($t: String!, $a: [SurveyAnswerInput!]!) {
                   submitSurveyResponse(token: $t, answers: $a) { answers { questionId } } }",
                json!({"t": token_of(&link), "a": [
                    {"questionId": q[0].0, "choiceIds": [q[0].2[1]]},
                    {"questionId": q[2].0, "number": 2}]}),
                None,
            )
            .await);
        ok(app
            .graphql(ARCHIVE, json!({"o": coop.id}), Some(&staff))
            .await);
        let body = ok(app
            .graphql(
                "query($s: ID!) { survey(id: $s) { responses { edges { node { id } } } } }",
                json!({"s": census.survey}),
                Some(&staff),
            )
            .await);
        let response = body["data"]["survey"]["responses"]["edges"][0]["node"]["id"].clone();
        let (_, body) = app
            .graphql(
                "mutation($r: ID!) { createSupportRequestFromResponse(responseId: $r, kind: ADVICE) { id status } }",
                json!({"r": response}),
                Some(&staff),
            )
            .await;
        let open: Vec<i64> = requests_of(&app, &coop.id)
            .await
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    SupportRequestStatus::Submitted | SupportRequestStatus::Matching
                )
            })
            .map(|r| r.id)
            .collect();
        assert_eq!(
            (code(&body), open),
            (Some("CONFLICT"), vec![]),
            "a request was drafted for a co-op that left the programme: {body}"
        );
        app.stop().await;
    }
);

// Staff give an archived co-op no new member: its accounts were closed when
// it left, and a new one would get its mail (notify::organisation) again.
on_both_databases!(
    no_member_is_invited_into_an_archived_coop,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Gone Grocers").await;
        ok(app
            .graphql(ARCHIVE, json!({"o": coop}), Some(&p.staff))
            .await);
        let (_, body) = app
            .graphql(
                "mutation($o: ID!, $e: String!, $n: String!) { inviteMember(organisationId: $o, email: $e, name: $n) { id active } }",
                json!({"o": coop, "e": "new@gonegrocers.coop", "n": "New Person"}),
                Some(&p.staff),
            )
            .await;
        assert_eq!(
            code(&body),
            Some("CONFLICT"),
            "a member was invited into a co-op that left the programme: {body}"
        );
        app.stop().await;
    }
);

// A co-op that left is reminded of nothing: an unanswered CLIENT review of
// an engagement it completed before leaving is not chased at its contact
// address (where archiving had just taken back every unsent message).
on_both_databases!(
    an_archived_coop_is_not_sent_a_review_reminder,
    |app: TestApp| async move {
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Pennine Leavers").await;
        let (mentor, mentor_token, _) = p.provider(&app, "MENTOR", "Tom Walsh", 2, None).await;
        let request = p.request(&app, &coop, "MENTORING").await;
        let engagement = p.proposed(&app, &request, &mentor, 3).await;
        p.accept(&app, &engagement, &mentor_token).await;
        let input = json!({"engagementId": engagement, "startsAt": (Utc::now() + Duration::hours(24)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO", "isFinal": true});
        let body = ok(app
            .graphql(
                "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }",
                json!({"i": input}),
                Some(&mentor_token),
            )
            .await);
        let meeting = body["data"]["scheduleMeeting"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        crate::support::programme::move_meeting(&app, &meeting, Utc::now() - Duration::days(1))
            .await;
        ok(app
            .graphql(
                "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { status } }",
                json!({"i": {"meetingId": meeting, "held": true, "daysCounted": 1.0}}),
                Some(&mentor_token),
            )
            .await);
        app.smtp
            .wait_for_subject(
                "member@pennineleavers.coop",
                "how did it go with Tom Walsh",
                WAIT,
            )
            .await;
        ok(app
            .graphql(ARCHIVE, json!({"o": coop}), Some(&p.staff))
            .await);
        reviews::Entity::update_many()
            .col_expr(
                reviews::Column::RequestedAt,
                Expr::value(Utc::now() - Duration::days(8)),
            )
            .filter(reviews::Column::EngagementId.eq(decode(&engagement)))
            .exec(&app.db)
            .await
            .unwrap();
        // The provider's reminder shows the job has run.
        app.smtp
            .wait_for_subject("tomwalsh@providers.test", "Reminder: how did it go", WAIT)
            .await;
        tokio::time::sleep(StdDuration::from_secs(2)).await;
        let to_coop: Vec<String> = ["hello@pennineleavers.coop", "member@pennineleavers.coop"]
            .iter()
            .flat_map(|a| app.smtp.received_by(a))
            .map(|m| m.subject())
            .filter(|s| s.starts_with("Reminder"))
            .collect();
        assert!(
            to_coop.is_empty(),
            "a co-op that left the programme was reminded: {to_coop:?}"
        );
        app.stop().await;
    }
);

// An operator who wants email bodies kept "for ever" sets a large
// HIVE_RETENTION_EMAIL_DAYS, which settings accept (any positive u32). The
// pass must then clear nothing, as a large HIVE_RETENTION_NOTES_MONTHS does,
// not panic: a panic ends the worker's periodic loop, and with it every
// chaser, reminder, digest and survey of that process.
on_both_databases!(
    a_very_long_email_retention_clears_nothing_and_does_not_panic,
    |app: TestApp| async move {
        let retention = hive_worker::settings::Retention::read(|name| {
            (name == "HIVE_RETENTION_EMAIL_DAYS").then(|| "4000000000".to_string())
        })
        .expect("settings accept it");
        let db = app.db.clone();
        let pass = tokio::spawn(async move {
            hive_worker::jobs::retention::run(&db, &retention, Utc::now()).await
        })
        .await;
        assert!(
            matches!(pass, Ok(Ok(_))),
            "the retention pass did not come back: {pass:?}"
        );
        app.stop().await;
    }
);
