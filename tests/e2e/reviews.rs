//! Completion and final reviews, end to end: the final meeting held completes
//! the engagement and emails each party a single-use review link; the `/r/`
//! page, the GraphQL operations, every refusal, and the one reminder.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use entity::reviews;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    TestApp, first_error_code,
    programme::{Programme, decode, ok},
    smtp::ReceivedMail,
};

const WAIT: StdDuration = StdDuration::from_secs(20);
const SCHEDULE: &str = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";
const RECORD: &str = "mutation($i: RecordMeetingInput!) { recordMeeting(input: $i) { status } }";
const ENGAGEMENT: &str = "query($id: ID!) { engagement(id: $id) { status completedAt supportRequest { status } reviews { party submittedAt usefulness relationship wouldRecommend comments } } }";
const INVITATION: &str = "query($t: String!) { reviewInvitation(token: $t) { party answered organisationName providerName kind completedAt } }";
const BY_TOKEN: &str = "mutation($t: String!, $i: ReviewInput!) { submitReviewByToken(token: $t, input: $i) { party answered } }";
const SIGNED_IN: &str = "mutation($e: ID!, $p: ReviewParty, $i: ReviewInput!) { submitReview(engagementId: $e, party: $p, input: $i) { party usefulness relationship wouldRecommend comments submittedAt } }";

/// An accepted mentoring engagement between Tom Walsh and Pennine Makers.
struct Matched {
    p: Programme,
    engagement: String,
    member: String,
    mentor: String,
    mentor_email: String,
}

const MEMBER_EMAIL: &str = "member@penninemakers.coop";

async fn matched(app: &TestApp) -> Matched {
    let p = Programme::new(app).await;
    let (coop, member) = p.coop(app, "Pennine Makers").await;
    let (mentor_id, mentor, mentor_email) = p.provider(app, "MENTOR", "Tom Walsh", 2, None).await;
    let request = p.request(app, &coop, "MENTORING").await;
    let engagement = p.proposed(app, &request, &mentor_id, 3).await;
    p.accept(app, &engagement, &mentor).await;
    Matched {
        p,
        engagement,
        member,
        mentor,
        mentor_email,
    }
}

/// Schedules a meeting a day ahead (final or not) and returns its id.
async fn schedule(app: &TestApp, m: &Matched, hours_ahead: i64, is_final: bool) -> String {
    let input = json!({"engagementId": m.engagement, "startsAt": (Utc::now() + Duration::hours(hours_ahead)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO", "isFinal": is_final});
    let body = ok(app
        .graphql(SCHEDULE, json!({"i": input}), Some(&m.mentor))
        .await);
    body["data"]["scheduleMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Moves a meeting's start to yesterday, so it can be recorded as held.
async fn into_the_past(app: &TestApp, meeting: &str) {
    crate::support::programme::move_meeting(app, meeting, Utc::now() - Duration::days(1)).await;
}

/// Holds the final meeting (1 day counted): the engagement completes.
async fn complete(app: &TestApp, m: &Matched) {
    let meeting = schedule(app, m, 24, true).await;
    into_the_past(app, &meeting).await;
    ok(app
        .graphql(
            RECORD,
            json!({"i": {"meetingId": meeting, "held": true, "daysCounted": 1.0}}),
            Some(&m.mentor),
        )
        .await);
}

/// The review emails of one engagement's two parties: (provider's, client's).
async fn review_requests(app: &TestApp, m: &Matched) -> (ReceivedMail, ReceivedMail) {
    let provider = app
        .smtp
        .wait_for_subject(&m.mentor_email, "how did it go with Pennine Makers", WAIT)
        .await;
    let client = app
        .smtp
        .wait_for_subject(MEMBER_EMAIL, "how did it go with Tom Walsh", WAIT)
        .await;
    (provider, client)
}

fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

async fn stored(app: &TestApp, engagement: &str) -> Vec<reviews::Model> {
    reviews::Entity::find()
        .filter(reviews::Column::EngagementId.eq(decode(engagement)))
        .order_by_asc(reviews::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

fn client_review(rows: &[reviews::Model]) -> &reviews::Model {
    rows.iter()
        .find(|r| r.party == reviews::ReviewParty::Client)
        .expect("a CLIENT review row")
}

fn provider_review(rows: &[reviews::Model]) -> &reviews::Model {
    rows.iter()
        .find(|r| r.party == reviews::ReviewParty::Provider)
        .expect("a PROVIDER review row")
}

on_both_databases!(
    the_final_meeting_completes_and_the_link_takes_a_review,
    |app: TestApp| async move {
        let m = matched(&app).await;
        let other = schedule(&app, &m, 24, false).await;
        let last = schedule(&app, &m, 48, true).await;
        into_the_past(&app, &last).await;

        // While another meeting is still in the diary the final one cannot
        // close the engagement; nor can days past the allocation. Nothing changes.
        let (_, body) = app
            .graphql(
                RECORD,
                json!({"i": {"meetingId": last, "held": true, "daysCounted": 1.0}}),
                Some(&m.mentor),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        ok(app
            .graphql(
                "mutation($m: ID!) { cancelMeeting(meetingId: $m) { status } }",
                json!({"m": other}),
                Some(&m.member),
            )
            .await);
        let (_, body) = app
            .graphql(
                RECORD,
                json!({"i": {"meetingId": last, "held": true, "daysCounted": 3.5}}),
                Some(&m.mentor),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "daysCounted",
            "{body}"
        );
        let body = ok(app
            .graphql(ENGAGEMENT, json!({"id": m.engagement}), Some(&m.p.staff))
            .await);
        assert_eq!(body["data"]["engagement"]["status"], "ACTIVE");
        assert_eq!(body["data"]["engagement"]["reviews"], json!([]));
        assert!(stored(&app, &m.engagement).await.is_empty());

        // Held: completed, the request closed, a review asked of each party.
        let body = ok(app
            .graphql(
                RECORD,
                json!({"i": {"meetingId": last, "held": true, "daysCounted": 2.5}}),
                Some(&m.mentor),
            )
            .await);
        assert_eq!(body["data"]["recordMeeting"]["status"], "HELD");
        let body = ok(app
            .graphql(ENGAGEMENT, json!({"id": m.engagement}), Some(&m.p.staff))
            .await);
        let engagement = &body["data"]["engagement"];
        assert_eq!(engagement["status"], "COMPLETED");
        assert!(engagement["completedAt"].is_string(), "{body}");
        assert_eq!(engagement["supportRequest"]["status"], "CLOSED");
        let parties: Vec<&Value> = engagement["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["party"])
            .collect();
        assert_eq!(parties, [&json!("PROVIDER"), &json!("CLIENT")]);

        // Nothing more happens on a completed engagement.
        let input = json!({"engagementId": m.engagement, "startsAt": (Utc::now() + Duration::hours(72)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"});
        let (_, body) = app
            .graphql(SCHEDULE, json!({"i": input}), Some(&m.mentor))
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let (_, body) = app
            .graphql(
                "mutation($e: ID!) { endEngagement(engagementId: $e, reason: \"Late.\") { status } }",
                json!({"e": m.engagement}),
                Some(&m.member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");

        // Each party's email carries its own link.
        let (provider_mail, client_mail) = review_requests(&app, &m).await;
        let provider_link = provider_mail.link_containing("/r/").expect("a link");
        let client_link = client_mail.link_containing("/r/").expect("a link");
        assert_ne!(provider_link, client_link);
        assert!(client_link.starts_with(&app.base_url), "{client_link}");

        // Opening the link shows a labelled form, and changes nothing.
        for _ in 0..2 {
            let (status, html) = app.get_page(&client_link).await;
            assert_eq!(status, 200);
            assert!(html.contains("Tom Walsh") && html.contains("Pennine Makers"));
            for field in ["usefulness", "relationship", "wouldRecommend"] {
                for value in 1..=5 {
                    assert!(
                        html.contains(&format!("<label for=\"{field}-{value}\""))
                            && html.contains(&format!("id=\"{field}-{value}\" name=\"{field}\"")),
                        "{field} {value}: {html}"
                    );
                }
            }
            assert!(
                html.contains("<label for=\"comments\">")
                    && html.contains("<textarea id=\"comments\"")
            );
            assert!(!html.contains("<script"));
        }
        assert!(
            client_review(&stored(&app, &m.engagement).await)
                .submitted_at
                .is_none()
        );

        // A rating out of range: the problem beside its field, the rest kept, nothing stored.
        let (status, html) = app
            .post_page(
                &client_link,
                &[
                    ("usefulness", "9"),
                    ("relationship", "4"),
                    ("wouldRecommend", "5"),
                    ("comments", "Tom <b>listened</b>."),
                ],
            )
            .await;
        assert_eq!(status, 400);
        let error_at = html.find("id=\"usefulness-error\"").expect("an error line");
        let question_at = html.find("How useful was the mentoring?").unwrap();
        let first_option_at = html.find("id=\"usefulness-1\"").unwrap();
        assert!(
            question_at < error_at && error_at < first_option_at,
            "{html}"
        );
        assert!(html.contains("Rate how useful it was, from 1 to 5."));
        assert!(
            html.contains(
                "id=\"relationship-4\" name=\"relationship\" value=\"4\" required checked"
            )
        );
        assert!(html.contains(
            "id=\"wouldRecommend-5\" name=\"wouldRecommend\" value=\"5\" required checked"
        ));
        assert!(
            html.contains("Tom &lt;b&gt;listened&lt;/b&gt;.</textarea>"),
            "{html}"
        );
        assert!(!html.contains("relationship-error"));
        let rows = stored(&app, &m.engagement).await;
        assert!(client_review(&rows).submitted_at.is_none());
        assert_eq!(client_review(&rows).usefulness, None);

        // A good answer: thanks, and stored.
        let (status, html) = app
            .post_page(
                &client_link,
                &[
                    ("usefulness", "5"),
                    ("relationship", "4"),
                    ("wouldRecommend", "5"),
                    ("comments", "Tom <b>listened</b>."),
                ],
            )
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Thank you"));
        let rows = stored(&app, &m.engagement).await;
        let review = client_review(&rows);
        assert!(review.submitted_at.is_some());
        assert_eq!(
            (
                review.usefulness,
                review.relationship,
                review.would_recommend
            ),
            (Some(5), Some(4), Some(5))
        );
        assert_eq!(review.comments.as_deref(), Some("Tom <b>listened</b>."));
        assert!(provider_review(&rows).submitted_at.is_none());

        // The same link again: already answered, whether opened or sent again.
        let (status, html) = app.get_page(&client_link).await;
        assert_eq!(status, 200);
        assert!(html.contains("Already answered") && !html.contains("<form"));
        let (status, html) = app
            .post_page(
                &client_link,
                &[
                    ("usefulness", "1"),
                    ("relationship", "1"),
                    ("wouldRecommend", "1"),
                    ("comments", "Changed my mind."),
                ],
            )
            .await;
        assert_eq!(status, 409);
        assert!(html.contains("Already answered"));
        assert_eq!(
            client_review(&stored(&app, &m.engagement).await).usefulness,
            Some(5)
        );
        // A link that is not right says so.
        let (status, html) = app
            .get_page(&format!("{}/r/{}", app.base_url, "x".repeat(43)))
            .await;
        assert_eq!(status, 404);
        assert!(html.contains("not right"));

        // The provider's link through GraphQL, as the SPA uses it.
        let token = token_of(&provider_link);
        let body = ok(app.graphql(INVITATION, json!({"t": token}), None).await);
        let invitation = &body["data"]["reviewInvitation"];
        assert_eq!(invitation["party"], "PROVIDER");
        assert_eq!(invitation["answered"], false);
        assert_eq!(invitation["organisationName"], "Pennine Makers");
        assert_eq!(invitation["providerName"], "Tom Walsh");
        assert_eq!(invitation["kind"], "MENTORING");
        assert!(invitation["completedAt"].is_string());
        let (_, body) = app
            .graphql(INVITATION, json!({"t": "not-a-token"}), None)
            .await;
        assert_eq!(first_error_code(&body), Some("NOT_FOUND"), "{body}");
        let (_, body) = app
            .graphql(
                BY_TOKEN,
                json!({"t": token, "i": {"usefulness": 4, "relationship": 5, "wouldRecommend": 6}}),
                None,
            )
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "wouldRecommend");
        let (_, body) = app
            .graphql(
                BY_TOKEN,
                json!({"t": token, "i": {"usefulness": 4, "relationship": 5, "wouldRecommend": 4, "comments": "x".repeat(4001)}}),
                None,
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "comments",
            "{body}"
        );
        assert!(
            provider_review(&stored(&app, &m.engagement).await)
                .submitted_at
                .is_none()
        );
        let body = ok(app
            .graphql(
                BY_TOKEN,
                json!({"t": token, "i": {"usefulness": 4, "relationship": 5, "wouldRecommend": 4, "comments": "A keen group."}}),
                None,
            )
            .await);
        assert_eq!(
            body["data"]["submitReviewByToken"],
            json!({"party": "PROVIDER", "answered": true})
        );
        let (_, body) = app
            .graphql(
                BY_TOKEN,
                json!({"t": token, "i": {"usefulness": 1, "relationship": 1, "wouldRecommend": 1}}),
                None,
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        let body = ok(app.graphql(INVITATION, json!({"t": token}), None).await);
        assert_eq!(body["data"]["reviewInvitation"]["answered"], true);

        // Both parties read both reviews; so do staff.
        for viewer in [&m.member, &m.mentor, &m.p.staff] {
            let body = ok(app
                .graphql(ENGAGEMENT, json!({"id": m.engagement}), Some(viewer))
                .await);
            let reviews = &body["data"]["engagement"]["reviews"];
            assert_eq!(reviews[0]["comments"], "A keen group.");
            assert_eq!(reviews[1]["comments"], "Tom <b>listened</b>.");
            assert_eq!(reviews[1]["usefulness"], 5);
        }

        // The statistics count the client's review (mean of 5, 4 and 5).
        let body = ok(app
            .graphql(
                "{ programmeStats { reviewScores { providerName average reviews } } }",
                json!({}),
                Some(&m.p.staff),
            )
            .await);
        let scores = &body["data"]["programmeStats"]["reviewScores"];
        assert_eq!(scores[0]["providerName"], "Tom Walsh");
        assert_eq!(scores[0]["reviews"], 1);
        assert!((scores[0]["average"].as_f64().unwrap() - 14.0 / 3.0).abs() < 1e-9);

        // The trail says who completed and who answered, never what they said.
        let entries = entity::audit_log::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        assert!(entries.iter().any(|e| e.action == "completeEngagement"));
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.action == "submitReview")
                .count(),
            2
        );
        assert!(entries.iter().all(|e| {
            let detail = e.detail.clone().unwrap_or_default();
            !detail.contains("listened") && !detail.contains("keen")
        }));
        app.stop().await;
    }
);

on_both_databases!(
    signed_in_reviews_and_who_may_give_them,
    |app: TestApp| async move {
        let m = matched(&app).await;
        let (_, stranger) = m.p.coop(&app, "Elsewhere Co-op").await;
        let (_, other_mentor, _) = m.p.provider(&app, "MENTOR", "Other Mentor", 2, None).await;
        let good = json!({"usefulness": 4, "relationship": 3, "wouldRecommend": 5, "comments": "Good sessions."});

        // Not before the engagement completes.
        let (_, body) = app
            .graphql(
                SIGNED_IN,
                json!({"e": m.engagement, "i": good}),
                Some(&m.member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        complete(&app, &m).await;

        // Staff read reviews but do not give them; outsiders neither.
        for (viewer, who) in [
            (&m.p.staff, "staff"),
            (&stranger, "another co-op"),
            (&other_mentor, "another mentor"),
        ] {
            let (_, body) = app
                .graphql(
                    SIGNED_IN,
                    json!({"e": m.engagement, "i": good}),
                    Some(viewer),
                )
                .await;
            assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{who}: {body}");
        }
        let (_, body) = app
            .graphql(SIGNED_IN, json!({"e": m.engagement, "i": good}), None)
            .await;
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        // A member answers for the co-op, not for the provider.
        let (_, body) = app
            .graphql(
                SIGNED_IN,
                json!({"e": m.engagement, "p": "PROVIDER", "i": good}),
                Some(&m.member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let (_, body) = app
            .graphql(
                SIGNED_IN,
                json!({"e": m.engagement, "i": {"usefulness": 0, "relationship": 3, "wouldRecommend": 5}}),
                Some(&m.member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "usefulness");
        // An outsider cannot read the reviews either.
        let (_, body) = app
            .graphql(ENGAGEMENT, json!({"id": m.engagement}), Some(&stranger))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        assert!(
            stored(&app, &m.engagement)
                .await
                .iter()
                .all(|r| r.submitted_at.is_none())
        );

        let body = ok(app
            .graphql(
                SIGNED_IN,
                json!({"e": m.engagement, "p": "CLIENT", "i": good}),
                Some(&m.member),
            )
            .await);
        let review = &body["data"]["submitReview"];
        assert_eq!(review["party"], "CLIENT");
        assert_eq!(review["usefulness"], 4);
        assert_eq!(review["comments"], "Good sessions.");
        assert!(review["submittedAt"].is_string());
        let (_, body) = app
            .graphql(
                SIGNED_IN,
                json!({"e": m.engagement, "i": good}),
                Some(&m.member),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        // The co-op's emailed link now only says it was answered.
        let (provider_mail, client_mail) = review_requests(&app, &m).await;
        let (_, html) = app
            .get_page(&client_mail.link_containing("/r/").unwrap())
            .await;
        assert!(html.contains("Already answered"), "{html}");
        let rows = stored(&app, &m.engagement).await;
        assert!(client_review(&rows).reviewer_user_id.is_some());

        // Two answers at once from the provider's link: exactly one wins.
        let token = token_of(&provider_mail.link_containing("/r/").unwrap());
        let first = json!({"t": token, "i": {"usefulness": 5, "relationship": 5, "wouldRecommend": 5, "comments": "first"}});
        let second = json!({"t": token, "i": {"usefulness": 2, "relationship": 2, "wouldRecommend": 2, "comments": "second"}});
        let (a, b) = tokio::join!(
            app.graphql(BY_TOKEN, first, None),
            app.graphql(BY_TOKEN, second, None)
        );
        let codes = [first_error_code(&a.1), first_error_code(&b.1)];
        assert!(
            codes == [None, Some("CONFLICT")] || codes == [Some("CONFLICT"), None],
            "{a:?} {b:?}"
        );
        let rows = stored(&app, &m.engagement).await;
        let provider = provider_review(&rows);
        let winner = if codes[0].is_none() {
            ("first", 5)
        } else {
            ("second", 2)
        };
        assert_eq!(provider.comments.as_deref(), Some(winner.0));
        assert_eq!(provider.usefulness, Some(winner.1));
        // …and the provider cannot answer again signed in.
        let (_, body) = app
            .graphql(
                SIGNED_IN,
                json!({"e": m.engagement, "i": good}),
                Some(&m.mentor),
            )
            .await;
        assert_eq!(first_error_code(&body), Some("CONFLICT"), "{body}");
        app.stop().await;
    }
);

/// Moves when the engagement's reviews were asked for, as if `days` had passed.
async fn age_reviews(app: &TestApp, engagement: &str, days: i64) {
    reviews::Entity::update_many()
        .col_expr(
            reviews::Column::RequestedAt,
            Expr::value(Utc::now() - Duration::days(days)),
        )
        .filter(reviews::Column::EngagementId.eq(decode(engagement)))
        .exec(&app.db)
        .await
        .unwrap();
}

fn reminders(app: &TestApp, address: &str) -> Vec<ReceivedMail> {
    app.smtp
        .received_by(address)
        .into_iter()
        .filter(|mail| mail.subject().starts_with("Reminder: how did it go"))
        .collect()
}

on_both_databases!(
    an_unanswered_review_is_reminded_once,
    |app: TestApp| async move {
        let m = matched(&app).await;
        complete(&app, &m).await;
        let (provider_mail, client_mail) = review_requests(&app, &m).await;
        let first_link = provider_mail.link_containing("/r/").unwrap();
        // The co-op answers; the provider does not.
        ok(app
            .graphql(
                BY_TOKEN,
                json!({"t": token_of(&client_mail.link_containing("/r/").unwrap()), "i": {"usefulness": 3, "relationship": 3, "wouldRecommend": 3}}),
                None,
            )
            .await);

        // Six days on: no reminder yet.
        age_reviews(&app, &m.engagement, 6).await;
        tokio::time::sleep(StdDuration::from_millis(1000)).await;
        assert!(reminders(&app, &m.mentor_email).is_empty());

        // Eight days on: the provider is reminded, with a link that replaces the first.
        age_reviews(&app, &m.engagement, 8).await;
        let reminder = app
            .smtp
            .wait_for_subject(
                &m.mentor_email,
                "Reminder: how did it go with Pennine Makers",
                WAIT,
            )
            .await;
        let fresh_link = reminder.link_containing("/r/").expect("a link");
        assert_ne!(fresh_link, first_link);
        let (status, html) = app.get_page(&first_link).await;
        assert_eq!(status, 404);
        assert!(html.contains("use the link in the reminder"));
        let (status, html) = app.get_page(&fresh_link).await;
        assert_eq!(status, 200);
        assert!(html.contains("<form"));

        // Once only; none for the answered review.
        tokio::time::sleep(StdDuration::from_millis(1000)).await;
        assert_eq!(reminders(&app, &m.mentor_email).len(), 1);
        assert!(reminders(&app, MEMBER_EMAIL).is_empty());
        let rows = stored(&app, &m.engagement).await;
        assert!(provider_review(&rows).reminded_at.is_some());
        assert!(client_review(&rows).reminded_at.is_none());

        // The fresh link takes the answer.
        let (status, html) = app
            .post_page(
                &fresh_link,
                &[
                    ("usefulness", "4"),
                    ("relationship", "5"),
                    ("wouldRecommend", "4"),
                    ("comments", ""),
                ],
            )
            .await;
        assert_eq!(status, 200, "{html}");
        let rows = stored(&app, &m.engagement).await;
        assert_eq!(provider_review(&rows).usefulness, Some(4));
        assert_eq!(provider_review(&rows).comments, None);
        app.stop().await;
    }
);
