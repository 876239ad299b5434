//! Staff digests: what they say (each section, each entry with its link), when
//! they come (DAILY, WEEKLY, NEVER, an unsubscribe), that nothing comes when
//! there is nothing to say, and one per person per period however many workers
//! run. Time is moved with the settings' clock, which every worker of a test
//! shares; rows are dated relative to that clock.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use entity::{
    audit_log, email_preferences,
    emails::{self, EmailCategory, EmailStatus},
    engagements, meetings,
    reviews::{self, ReviewParty},
    survey_invitations, survey_responses,
    surveys::{self, SurveyStatus},
    users::Role,
};
use hive_worker::{
    jobs::staff_digest::{self, BOUNCING_QUERY},
    links::{Links, node_query},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr,
};
use serde_json::json;

use crate::support::{
    TestApp, first_error_code, next_monday_at,
    programme::{Programme, decode, ok},
    smtp::ReceivedMail,
};
use crate::{on_both_databases, on_both_databases_tuned};

const STAFF: &str = "staff@hive.test";
/// Generous: in the full suite on two cores one CI run took over 20 s to
/// deliver a digest (the queue watchdog restarted the worker twice first).
const WAIT: StdDuration = StdDuration::from_secs(45);
/// Long enough for several passes of every worker (tests run one every 200 ms).
const SETTLE: StdDuration = StdDuration::from_millis(1500);
const SET_FREQUENCY: &str = "mutation($f: DigestFrequency!) { setDigestFrequency(frequency: $f) { email digestFrequency } }";
const SCHEDULE: &str = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { id } }";

fn seven() -> NaiveTime {
    NaiveTime::from_hms_opt(7, 0, 0).unwrap()
}

/// The digests `address` has received, oldest first.
fn digests(app: &TestApp, address: &str) -> Vec<ReceivedMail> {
    app.smtp
        .received_by(address)
        .into_iter()
        .filter(|mail| {
            mail.subject().starts_with("Hive ") && mail.subject().contains(" digest for ")
        })
        .collect()
}

/// Waits until `address` has `count` digests; panics, listing them, if not.
async fn wait_for_digests(app: &TestApp, address: &str, count: usize) -> Vec<ReceivedMail> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = digests(app, address);
        if found.len() >= count {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            let subjects: Vec<String> = found.iter().map(|m| m.subject()).collect();
            panic!(
                "{address} got {} of {count} digests: {subjects:?}",
                found.len()
            );
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// Waits until some worker has decided `address`'s digest for `period`.
async fn wait_until_decided(app: &TestApp, address: &str, period: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let row = email_preferences::Entity::find()
            .filter(email_preferences::Column::Email.eq(address))
            .one(&app.db)
            .await
            .unwrap();
        if row.and_then(|r| r.last_digest_period).as_deref() == Some(period) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{address}'s digest for {period} was never decided"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// The block of the plain-text digest under `heading`, up to the blank line.
fn section(text: &str, heading: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading} in:\n{text}"));
    text[start..]
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn set_proposed_at(app: &TestApp, engagement: &str, at: DateTime<Utc>) {
    engagements::Entity::update_many()
        .col_expr(engagements::Column::ProposedAt, Expr::value(at))
        .filter(engagements::Column::Id.eq(decode(engagement)))
        .exec(&app.db)
        .await
        .unwrap();
}

/// A staff member with a session, who chose `frequency` through the API.
async fn staff_member(app: &TestApp, email: &str, frequency: &str) -> String {
    let (_, token) = app.user(Role::Staff, email).await;
    let body = ok(app
        .graphql(SET_FREQUENCY, json!({"f": frequency}), Some(&token))
        .await);
    assert_eq!(
        body["data"]["setDigestFrequency"]["digestFrequency"],
        frequency
    );
    token
}

on_both_databases!(
    the_digest_lists_what_needs_attention_with_links,
    |app: TestApp| async move {
        let due = next_monday_at(seven());
        let p = Programme::new(&app).await;
        let (ruth, ruth_token, _) = p.provider(&app, "MENTOR", "Ruth Ellis", 3, None).await;
        let (tom, tom_token, _) = p.provider(&app, "MENTOR", "Tom Walsh", 3, None).await;
        let (ann, ann_token, _) = p.provider(&app, "ADVISER", "Ann Pryce", 3, None).await;

        // Waiting for a match: nobody proposed yet.
        let (waiting_coop, _) = p.coop(&app, "Waiting Weavers").await;
        let waiting = p.request(&app, &waiting_coop, "MENTORING").await;

        // Proposals: one unanswered for 4 days, one for 1 day.
        let (slow_coop, _) = p.coop(&app, "Slow Answer Co-op").await;
        let request = p.request(&app, &slow_coop, "MENTORING").await;
        let stale = p.proposed(&app, &request, &ruth, 3).await;
        set_proposed_at(&app, &stale, due - Duration::days(4)).await;
        let (fresh_coop, _) = p.coop(&app, "Fresh Proposal Co-op").await;
        let request = p.request(&app, &fresh_coop, "MENTORING").await;
        let fresh = p.proposed(&app, &request, &tom, 3).await;
        set_proposed_at(&app, &fresh, due - Duration::days(1)).await;

        // Active with no meeting booked, and active with one booked.
        let (quiet_coop, quiet_member) = p.coop(&app, "Quiet Looms").await;
        let request = p.request(&app, &quiet_coop, "MENTORING").await;
        let quiet = p.proposed(&app, &request, &tom, 3).await;
        p.accept(&app, &quiet, &tom_token).await;
        let (busy_coop, busy_member) = p.coop(&app, "Busy Bees").await;
        let request = p.request(&app, &busy_coop, "ADVICE").await;
        let busy = p.proposed(&app, &request, &ann, 3).await;
        p.accept(&app, &busy, &ann_token).await;
        ok(app
            .graphql(SCHEDULE, json!({"i": {"engagementId": busy, "startsAt": (due + Duration::days(2)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO"}}), Some(&busy_member))
            .await);

        // A final meeting two days before the digest; the provider reviewed,
        // the co-op did not.
        let (final_coop, _) = p.coop(&app, "Hebden Weavers").await;
        let request = p.request(&app, &final_coop, "MENTORING").await;
        let finished = p.proposed(&app, &request, &ruth, 3).await;
        p.accept(&app, &finished, &ruth_token).await;
        let body = ok(app
            .graphql(SCHEDULE, json!({"i": {"engagementId": finished, "startsAt": (Utc::now() + Duration::days(1)).to_rfc3339(), "durationMinutes": 60, "format": "VIDEO", "isFinal": true}}), Some(&ruth_token))
            .await);
        let final_meeting = decode(body["data"]["scheduleMeeting"]["id"].as_str().unwrap());
        meetings::Entity::update_many()
            .col_expr(
                meetings::Column::StartsAt,
                Expr::value(due - Duration::days(2)),
            )
            .filter(meetings::Column::Id.eq(final_meeting))
            .exec(&app.db)
            .await
            .unwrap();
        reviews::ActiveModel {
            engagement_id: Set(decode(&finished)),
            party: Set(ReviewParty::Provider),
            requested_at: Set(due - Duration::days(2)),
            submitted_at: Set(Some(due - Duration::days(1))),
            usefulness: Set(Some(5)),
            relationship: Set(Some(5)),
            would_recommend: Set(Some(5)),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();

        // Concerns: one open, one resolved.
        let raise = "mutation($e: ID!) { raiseConcern(engagementId: $e, category: HARASSMENT, details: \"Raised voices at the meeting.\") { id } }";
        let body = ok(app
            .graphql(raise, json!({"e": quiet}), Some(&quiet_member))
            .await);
        let open_concern = body["data"]["raiseConcern"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let body = ok(app
            .graphql(raise, json!({"e": busy}), Some(&busy_member))
            .await);
        let resolved = body["data"]["raiseConcern"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(app
            .graphql("mutation($c: ID!) { resolveConcern(concernId: $c, outcome: \"Spoke to both.\") { status } }", json!({"c": resolved}), Some(&p.staff))
            .await);

        // Surveys: an open one with 1 answer of 3, and a closed one.
        let now = Utc::now();
        let mut open_survey = 0;
        for (title, status, answered) in [
            ("Census 2026", SurveyStatus::Open, 1),
            ("Old census", SurveyStatus::Closed, 2),
        ] {
            let survey = surveys::ActiveModel {
                title: Set(title.into()),
                description: Set(String::new()),
                status: Set(status),
                // An audience of a sector that does not exist: the worker
                // invites nobody beyond the three invitations written here.
                audience: Set(Some(r#"{"sectors":[0]}"#.into())),
                launched_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&app.db)
            .await
            .unwrap();
            if status == SurveyStatus::Open {
                open_survey = survey.id;
            }
            for (n, coop) in [&waiting_coop, &slow_coop, &fresh_coop]
                .into_iter()
                .enumerate()
            {
                let invitation = survey_invitations::ActiveModel {
                    survey_id: Set(survey.id),
                    organisation_id: Set(decode(coop)),
                    email: Set(format!("hello{n}@coop.test")),
                    token_hash: Set(format!("{title}-{n}")),
                    created_at: Set(now),
                    sent_at: Set(Some(now)),
                    ..Default::default()
                }
                .insert(&app.db)
                .await
                .unwrap();
                if n < answered {
                    survey_responses::ActiveModel {
                        invitation_id: Set(invitation.id),
                        submitted_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    }
                    .insert(&app.db)
                    .await
                    .unwrap();
                }
            }
        }

        // An address that bounces and an email that died.
        email_preferences::ActiveModel {
            email: Set("gone@example.test".into()),
            bounced_at: Set(Some(now)),
            bounce_reason: Set(Some("550 5.1.1 no such mailbox".into())),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        let dead = emails::ActiveModel {
            idempotency_key: Set("test:dead".into()),
            category: Set(EmailCategory::Match),
            template: Set("match_proposed".into()),
            recipient: Set("lost@example.test".into()),
            context: Set("{}".into()),
            status: Set(EmailStatus::Dead),
            attempts: Set(8),
            last_error: Set(Some("temporary failure: timed out".into())),
            next_attempt_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();

        // Nothing before Monday 07:00 (London); the digest at 07:00.
        app.settings.clock.set(due - Duration::minutes(1));
        tokio::time::sleep(SETTLE).await;
        assert!(digests(&app, STAFF).is_empty());
        app.settings.clock.set(due);
        let mail = wait_for_digests(&app, STAFF, 1).await.remove(0);
        let date = hive_worker::notify::london_date(due);
        assert_eq!(
            mail.subject(),
            format!("Hive daily digest for Monday {date}: 8 items to look at")
        );
        let text = mail.text().replace("\r\n", "\n");
        // Links open GraphiQL with a query for the id the API itself gave out.
        let links = Links::graphiql(&app.base_url);
        let link = |type_name: &str, id: &str| links.query(&node_query(type_name, id));

        let block = section(&text, "REQUESTS WAITING FOR A MATCH (1)");
        assert!(
            block.contains("- Waiting Weavers asked for mentoring, waiting"),
            "{block}"
        );
        assert!(block.contains(&link("SupportRequest", &waiting)), "{block}");

        let block = section(&text, "PROPOSALS UNANSWERED FOR OVER 3 DAYS (1)");
        assert!(
            block.contains(
                "- Ruth Ellis has not answered the proposal to support Slow Answer Co-op"
            ),
            "{block}"
        );
        assert!(block.contains("4 days ago"), "{block}");
        assert!(block.contains(&link("Engagement", &stale)), "{block}");

        let block = section(&text, "ENGAGEMENTS WITH NO MEETING BOOKED (1)");
        assert!(
            block.contains(
                "- Tom Walsh with Quiet Looms: no meeting booked; none held since the match"
            ),
            "{block}"
        );
        assert!(block.contains(&link("Engagement", &quiet)), "{block}");

        let block = section(&text, "FINAL MEETINGS PASSED WITHOUT REVIEWS (1)");
        assert!(
            block.contains(&format!(
                "- Ruth Ellis with Hebden Weavers: final meeting on {}; no review yet from Hebden Weavers",
                hive_worker::notify::london_date(due - Duration::days(2))
            )),
            "{block}"
        );
        assert!(block.contains(&link("Engagement", &finished)), "{block}");

        let block = section(&text, "OPEN CONCERNS (1)");
        assert!(
            block.contains("- A concern of harassment on Tom Walsh with Quiet Looms, raised"),
            "{block}"
        );
        assert!(block.contains(&link("Concern", &open_concern)), "{block}");
        assert!(
            !text.contains("Raised voices"),
            "concern details stay in Hive"
        );

        let block = section(&text, "SURVEY RESPONSE RATES (1)");
        assert!(
            block.contains("- Census 2026: 1 of 3 co-ops answered (33%)"),
            "{block}"
        );
        assert!(
            block.contains(&links.item("Survey", open_survey)),
            "{block}"
        );

        let block = section(
            &text,
            "ADDRESSES THAT BOUNCE (NO MORE MAIL GOES TO THEM) (1)",
        );
        assert!(
            block.contains("- gone@example.test since")
                && block.contains("550 5.1.1 no such mailbox"),
            "{block}"
        );
        assert!(block.contains(&links.query(BOUNCING_QUERY)), "{block}");

        let block = section(
            &text,
            "EMAILS THAT COULD NOT BE DELIVERED (STAFF CAN RETRY THEM) (1)",
        );
        assert!(
            block.contains("- match_proposed to lost@example.test, given up")
                && block.contains("timed out"),
            "{block}"
        );
        assert!(
            block.contains(&links.item("EmailDelivery", dead.id)),
            "{block}"
        );

        // Following a link as staff would: a browser gets GraphiQL, and the
        // query in the link, run with a staff token, shows the item.
        let survey_id = hive_worker::ids::global_id("Survey", open_survey);
        let delivery_id = hive_worker::ids::global_id("EmailDelivery", dead.id);
        for (type_name, id, field) in [
            ("SupportRequest", &waiting, "goals"),
            ("Engagement", &stale, "status"),
            ("Concern", &open_concern, "category"),
            ("Survey", &survey_id, "title"),
            ("EmailDelivery", &delivery_id, "template"),
        ] {
            let address = link(type_name, id);
            let response = app
                .http
                .get(&address)
                .header("accept", "text/html")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert!(
                response
                    .text()
                    .await
                    .unwrap()
                    .contains("<title>Hive · GraphiQL")
            );
            let query = reqwest::Url::parse(&address)
                .unwrap()
                .query_pairs()
                .find(|(name, _)| name == "query")
                .map(|(_, query)| query.into_owned())
                .unwrap();
            let (_, body) = app.graphql(&query, json!({}), Some(&p.staff)).await;
            assert_eq!(body["data"]["node"]["id"], json!(id), "{body}");
            assert_eq!(body["data"]["node"]["__typename"], type_name, "{body}");
            assert!(!body["data"]["node"][field].is_null(), "{body}");
        }
        let (_, body) = app.graphql(BOUNCING_QUERY, json!({}), Some(&p.staff)).await;
        assert_eq!(
            body["data"]["bouncingAddresses"]["nodes"][0]["email"], "gone@example.test",
            "{body}"
        );

        // What has nothing to say is not mentioned at all: the fresh
        // proposal, the engagement with a meeting booked, the resolved
        // concern, the closed survey; and the finished engagement only once.
        for absent in ["Fresh Proposal Co-op", "Busy Bees", "Old census"] {
            assert!(!text.contains(absent), "{absent} in:\n{text}");
        }
        assert_eq!(text.matches("Hebden Weavers").count(), 2, "{text}");

        // The HTML part says the same, in the programme's layout.
        let html = mail.html();
        for needle in [
            "Requests waiting for a match (1)",
            "Survey response rates (1)",
            "Waiting Weavers asked for mentoring",
            "co-operative business support",
            waiting.as_str(),
            quiet.as_str(),
            open_concern.as_str(),
        ] {
            assert!(html.contains(needle), "{needle} in:\n{html}");
        }

        // One per period: later passes of the same day send nothing more.
        tokio::time::sleep(SETTLE).await;
        assert_eq!(digests(&app, STAFF).len(), 1);
        let staff = entity::users::Entity::find()
            .filter(entity::users::Column::Email.eq(STAFF))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let key = format!("digest:{}:{}", staff.id, due.format("%Y-%m-%d"));
        let row = emails::Entity::find()
            .filter(emails::Column::IdempotencyKey.eq(&key))
            .one(&app.db)
            .await
            .unwrap();
        assert!(row.is_some(), "the digest's row has key {key}");
        app.stop().await;
    }
);

on_both_databases!(
    nothing_to_say_sends_nothing_until_the_next_period,
    |app: TestApp| async move {
        let monday = next_monday_at(seven());
        let p = Programme::new(&app).await;
        app.settings.clock.set(monday);
        let day = monday.format("%Y-%m-%d").to_string();
        wait_until_decided(&app, STAFF, &day).await;
        tokio::time::sleep(SETTLE).await;
        assert!(
            digests(&app, STAFF).is_empty(),
            "an empty programme sends nothing"
        );

        // Something comes up after the digest time: it waits for the next
        // digest, not sent the same day.
        let (coop, _) = p.coop(&app, "Late Arrivals").await;
        let request = p.request(&app, &coop, "ADVICE").await;
        tokio::time::sleep(SETTLE).await;
        assert!(digests(&app, STAFF).is_empty());

        app.settings.clock.set(monday + Duration::days(1));
        let mail = wait_for_digests(&app, STAFF, 1).await.remove(0);
        assert!(
            mail.subject().contains("digest for Tuesday"),
            "{}",
            mail.subject()
        );
        assert!(
            mail.subject().ends_with(": 1 item to look at"),
            "{}",
            mail.subject()
        );
        assert!(
            mail.text().contains("Late Arrivals asked for advice"),
            "{}",
            mail.text()
        );
        assert!(mail.text().contains(
            &Links::graphiql(&app.base_url).query(&node_query("SupportRequest", &request))
        ));
        app.stop().await;
    }
);

on_both_databases_tuned!(
    links_open_the_spa_when_hive_app_url_is_set,
    |settings: &mut hive_worker::Settings| {
        settings.app_url = Some("https://app.example.org/{type}/{id}?from=digest".into());
    },
    |app: TestApp| async move {
        let monday = next_monday_at(seven());
        let p = Programme::new(&app).await;
        let (coop, _) = p.coop(&app, "Routed Weavers").await;
        let request = p.request(&app, &coop, "ADVICE").await;
        app.settings.clock.set(monday);
        let mail = wait_for_digests(&app, STAFF, 1).await.remove(0);
        let text = mail.text().replace("\r\n", "\n");
        assert!(
            text.contains(&format!(
                "  https://app.example.org/SupportRequest/{request}?from=digest\n"
            )),
            "{text}"
        );
        assert!(
            text.contains("Each link opens its item in the Hive app."),
            "{text}"
        );
        assert!(!text.contains("/graphql"), "{text}");
        app.stop().await;
    }
);

on_both_databases!(
    daily_weekly_never_and_unsubscribed_are_honoured,
    |app: TestApp| async move {
        let monday = next_monday_at(seven());
        let p = Programme::new(&app).await;
        ok(app
            .graphql(SET_FREQUENCY, json!({"f": "DAILY"}), Some(&p.staff))
            .await);
        staff_member(&app, "weekly@hive.test", "WEEKLY").await;
        staff_member(&app, "never@hive.test", "NEVER").await;
        // Unsubscribed from digests (as the one-click link does), DAILY stored.
        let optout = staff_member(&app, "optout@hive.test", "DAILY").await;
        email_preferences::Entity::update_many()
            .col_expr(email_preferences::Column::Digests, Expr::value(false))
            .filter(email_preferences::Column::Email.eq("optout@hive.test"))
            .exec(&app.db)
            .await
            .unwrap();
        let body = ok(app
            .graphql(
                "{ myEmailPreferences { email digestFrequency reminders surveys } }",
                json!({}),
                Some(&optout),
            )
            .await);
        assert_eq!(
            body["data"]["myEmailPreferences"],
            json!({"email": "optout@hive.test", "digestFrequency": "NEVER", "reminders": true, "surveys": true})
        );

        // Only staff choose a digest; the choice is audited.
        let (_, mentor) = app.user(Role::Mentor, "mentor@hive.test").await;
        let (_, body) = app
            .graphql(SET_FREQUENCY, json!({"f": "WEEKLY"}), Some(&mentor))
            .await;
        assert_eq!(first_error_code(&body), Some("FORBIDDEN"), "{body}");
        let (_, body) = app
            .graphql(SET_FREQUENCY, json!({"f": "WEEKLY"}), None)
            .await;
        assert_eq!(first_error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        let body = ok(app
            .graphql(
                "{ myEmailPreferences { email digestFrequency } }",
                json!({}),
                Some(&mentor),
            )
            .await);
        assert_eq!(
            body["data"]["myEmailPreferences"],
            json!({"email": "mentor@hive.test", "digestFrequency": null})
        );
        let audited = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("setDigestFrequency"))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(audited.len(), 4, "{audited:?}");
        assert!(
            audited
                .iter()
                .any(|row| row.detail.as_deref() == Some("{\"frequency\":\"WEEKLY\"}"))
        );

        // Something to say.
        let (coop, _) = p.coop(&app, "Waiting Weavers").await;
        p.request(&app, &coop, "MENTORING").await;

        let everyone = [
            STAFF,
            "weekly@hive.test",
            "never@hive.test",
            "optout@hive.test",
        ];
        let counts = |app: &TestApp| everyone.map(|address| digests(app, address).len());

        app.settings.clock.set(monday - Duration::minutes(1));
        tokio::time::sleep(SETTLE).await;
        assert_eq!(counts(&app), [0, 0, 0, 0], "nothing before Monday 07:00");

        app.settings.clock.set(monday);
        wait_for_digests(&app, STAFF, 1).await;
        let weekly = wait_for_digests(&app, "weekly@hive.test", 1).await;
        assert!(
            weekly[0].subject().starts_with(&format!(
                "Hive weekly digest for the week of {}",
                hive_worker::notify::london_date(monday)
            )),
            "{}",
            weekly[0].subject()
        );
        tokio::time::sleep(SETTLE).await;
        assert_eq!(counts(&app), [1, 1, 0, 0], "Monday");

        app.settings.clock.set(monday + Duration::days(1));
        wait_for_digests(&app, STAFF, 2).await;
        tokio::time::sleep(SETTLE).await;
        assert_eq!(counts(&app), [2, 1, 0, 0], "Tuesday: the daily digest only");

        app.settings.clock.set(monday + Duration::days(7));
        wait_for_digests(&app, STAFF, 3).await;
        wait_for_digests(&app, "weekly@hive.test", 2).await;
        tokio::time::sleep(SETTLE).await;
        assert_eq!(counts(&app), [3, 2, 0, 0], "the next Monday");

        // One row per person per period, keyed by day or ISO week.
        let keys: Vec<String> = emails::Entity::find()
            .filter(emails::Column::Category.eq(EmailCategory::Digest))
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.idempotency_key)
            .collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        let week = |at: DateTime<Utc>| {
            staff_digest::Period::Week {
                monday: staff_digest::london_day(at),
            }
            .key()
        };
        assert!(
            keys.iter()
                .any(|k| k.ends_with(&format!(":{}", week(monday)))),
            "{keys:?}"
        );
        assert!(
            keys.iter()
                .any(|k| k.ends_with(&format!(":{}", week(monday + Duration::days(7))))),
            "{keys:?}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    three_more_workers_still_send_one_digest_per_person,
    |app: TestApp| async move {
        let monday = next_monday_at(seven());
        let p = Programme::new(&app).await;
        let mut everyone = vec![STAFF.to_string()];
        for n in 1..=4 {
            let address = format!("staff{n}@hive.test");
            app.user(Role::Staff, &address).await;
            everyone.push(address);
        }
        let (coop, _) = p.coop(&app, "Waiting Weavers").await;
        p.request(&app, &coop, "MENTORING").await;

        // The app's own worker and three more processes' worth, all due at once.
        let mut workers = Vec::new();
        for _ in 0..3 {
            workers.push(app.spawn_worker().await);
        }
        app.settings.clock.set(monday);
        for address in &everyone {
            wait_for_digests(&app, address, 1).await;
        }
        tokio::time::sleep(SETTLE * 2).await;
        for address in &everyone {
            assert_eq!(digests(&app, address).len(), 1, "{address}");
        }
        let rows = emails::Entity::find()
            .filter(emails::Column::Category.eq(EmailCategory::Digest))
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), everyone.len());
        for (stop, handle) in workers {
            stop.cancel();
            handle.await.unwrap().unwrap();
        }
        app.stop().await;
    }
);

#[test]
fn a_bad_digest_time_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hive-api-under-test"))
        .args(["migrate"])
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("digest.db").display()),
        )
        .env("HIVE_DIGEST_TIME", "7am")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("HIVE_DIGEST_TIME") && stderr.contains("7am"),
        "{stderr}"
    );
}
